// A game page asked of a node that does not hold the game yet (its record still on the way:
// the game was created a moment ago on another node) shows the game, not "no such game": the
// node reads the shared database first. Here the second node can never receive the record
// through the mesh (another cluster secret), so only that path can show the game.

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
  });
});
