// Rate limits hold across the cluster: two real nodes on one database, requests alternating
// between them as a balancer would send them. Counted per node, each node would let its own
// share of failed logins and new games through.

import { afterAll, describe, expect, it } from 'vitest';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { Player } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('rate limits on two nodes', () => {
  it('count failed logins and new games once for the whole cluster', async () => {
    rig = await Rig.create({
      roundSeconds: 30,
      env: { LOGIN_RATE_LIMIT: '3', GAMES_PER_HOUR: '2', OPEN_GAMES_PER_ACCOUNT: '10' },
    });
    const n1 = rig.start('n1', '127.0.0.2');
    const n2 = rig.start('n2', '127.0.0.3');
    await Promise.all([n1.ready(), n2.ready()]);
    const nodes = [n1.url, n2.url];
    const tag = Date.now().toString(36).slice(-5);

    const owner = new Player(n1.url, `rl${tag}`);
    await owner.signup();
    // Wrong passwords from one address, each attempt on the other node.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const guess = new Player(nodes[i % 2]!, owner.username, 'not the password at all', {
        localAddress: '127.0.4.1',
      });
      statuses.push((await guess.login()).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Refused from an invite's login form, the form it shows again still leads to the game.
    const invited = await new Player(nodes[0]!, owner.username, 'another wrong one', {
      localAddress: '127.0.4.1',
    }).post('/login?next=%2Fgames%2FKEPS', { username: owner.username, password: 'x' }, '/login');
    expect(invited.status).toBe(429);
    const form = await invited.text();
    expect(form).toContain('action="/login?next=%2Fgames%2FKEPS"');
    expect(form).toContain(`value="${owner.username}"`);
    // Each node counts the refusals it answered, for its operators.
    const refused = await Promise.all(
      nodes.map(async (url) =>
        metricValue(await fetchMetrics(url), 'minotaur_rate_limited_total', { limit: 'login' }),
      ),
    );
    expect(refused).toEqual([2, 1]);
    // Another address is not held back by them.
    const elsewhere = new Player(n2.url, owner.username, owner.password, {
      localAddress: '127.0.4.2',
    });
    expect((await elsewhere.login()).status).toBe(303);

    // Two new games an hour: one on each node, and the third is refused on either.
    await owner.createGame();
    owner.base = n2.url;
    await owner.createGame();
    owner.base = n1.url;
    const third = await owner.post('/lobby/games', {}, '/lobby');
    expect(third.headers.get('location')).toBe('/lobby');
    const lobby = await owner.page('/lobby');
    expect(lobby.html).toContain('You have opened 2 games in the last hour');
  });
});
