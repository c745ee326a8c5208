// LIVE_COMPRESSION: with it on, a client that offers permessage-deflate (every browser does) gets
// its live socket compressed and plays as before; with it off (the default), the same offer is
// declined. The browser's side of it is in test/browser/play.test.ts (its first game runs with
// compression on).

import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { openStartedGame, Player, roundIn, type LiveConnection } from '../support/player.js';

const nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];
const tag = String(Date.now() % 100000);

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
});

async function nodeWith(compression: 'on' | 'off' | null): Promise<NodeProcess> {
  const node = startNode({
    port: await freePort(),
    databasePath: join(tempDir(), 'compression.db'),
    env: compression === null ? {} : { LIVE_COMPRESSION: compression },
  });
  nodes.push(node);
  await node.ready();
  return node;
}

/** Two players in a started game, each with a live socket that offered permessage-deflate. */
async function playing(node: NodeProcess, name: string) {
  const a = new Player(node.url, `${name}a${tag}`);
  const b = new Player(node.url, `${name}b${tag}`);
  const code = await openStartedGame([a, b]);
  const [ca, cb] = [a.connect(code), b.connect(code)];
  conns.push(ca, cb);
  await Promise.all([ca.opened, cb.opened]);
  return { ca, cb };
}

describe('live socket compression', () => {
  it('compresses a socket that offers it when LIVE_COMPRESSION=on, and the game plays on', async () => {
    const node = await nodeWith('on');
    const { ca, cb } = await playing(node, 'zon');
    expect(ca.ws.extensions).toMatch(/^permessage-deflate/);
    expect(cb.ws.extensions).toMatch(/^permessage-deflate/);

    const round = await waitFor(
      () => roundIn(ca.latestPartial('game-status')) || false,
      10_000,
      'round 1 shown',
    );
    // The board (its tiles are several KiB: compressed on the wire) reaches the page whole.
    const tiles = await waitFor(() => ca.latestPartial('game-board-tiles'), 10_000, 'tiles');
    expect(tiles).toContain('</svg>');
    expect(await ca.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
    expect(await cb.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
    // Both defended: the round resolves and each page is shown the next one.
    for (const c of [ca, cb])
      await waitFor(
        () => roundIn(c.latestPartial('game-status')) === round + 1,
        10_000,
        `round ${round + 1} shown`,
      );
  });

  it('declines the offer by default and when LIVE_COMPRESSION=off', async () => {
    for (const setting of [null, 'off'] as const) {
      const node = await nodeWith(setting);
      const { ca } = await playing(node, setting === null ? 'zdf' : 'zof');
      expect(ca.ws.extensions).toBe('');
      const tiles = await waitFor(() => ca.latestPartial('game-board-tiles'), 10_000, 'tiles');
      expect(tiles).toContain('</svg>');
    }
  });
});
