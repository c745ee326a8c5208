// A game page asked of a node that does not hold the game yet (its record still on the way:
// the game was created a moment ago on another node) shows the game, not "no such game": the
// node reads the shared database first, for the page and for a join. Here the second node can
// never receive the record through the mesh (another cluster secret), so only that path can
// show the game.

import { afterAll, describe, expect, it } from 'vitest';
import { Player } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('a game created on another node', () => {
  it('is shown by a node that has not received it, and its live socket works there', async () => {
    rig = await Rig.create({ roundSeconds: 30 });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    const lag = rig.start('n9', '127.0.0.3', {
      inDns: false,
      env: { CLUSTER_SECRET: 'another-cluster-secret-0123456789' },
    });
    await lag.ready();
    const tag = Date.now().toString(36).slice(-5);
    const a = new Player(n1.url, `ga${tag}`);
    await a.signup();
    const code = await a.createGame();

    // The creator's redirect lands on the other node.
    a.base = lag.url;
    const page = await a.page(`/games/${code}`);
    expect(page.status, page.html.slice(0, 300)).toBe(200);
    expect(page.html).toContain(code);
    expect(page.html).toContain(a.username);
    const c = a.connect(code);
    await c.opened;
    const status = await c.nextJson(() => true, 0, 5000, 'any message').catch(() => null);
    expect(c.closeCode).toBeNull();
    expect(status).not.toBeNull();
    c.close();
    // An unknown code is still a 404, at once.
    expect((await a.page('/games/QQQQ')).status).toBe(404);

    // Joining through that node: it finds the game the same way, instead of sending the player
    // back to the lobby with "There is no game". (It cannot reach the owner here, so the join
    // itself waits for its deadline and is refused as unavailable: the game's page says so.)
    // A second game, that nothing has asked the other node about yet.
    a.base = n1.url;
    const second = await a.createGame();
    const b = new Player(lag.url, `gb${tag}`);
    await b.signup();
    // The form's token from the lobby: the game's own page would read the game in first (when
    // the page and the join reach different nodes through a balancer, the join's node has not).
    const joined = await b.post(`/games/${second}/join`, {}, '/lobby');
    expect(joined.status).toBe(303);
    expect(joined.headers.get('location')).toBe(`/games/${second}`);
    const after = await b.page(`/games/${second}`);
    expect(after.html).not.toContain('There is no game');
  });
});
