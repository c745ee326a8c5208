// A game page whose socket was closed with 1012 reconnects and sees the same game: one node
// stops (SIGTERM: snapshot, close sockets with 1012, exit 0), the next starts on the same
// database and port, resumes the game from its snapshot, and no action is ever applied twice.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, roundIn, type LiveConnection } from '../support/player.js';
import { adminGame, essence, TEST_ADMIN_TOKEN } from '../support/admin.js';

const nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];
let port: number;
let dbPath: string;

function boot(): NodeProcess {
  // Long rounds: nothing resolves on its own while the node is replaced.
  const n = startNode({
    port,
    databasePath: dbPath,
    env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '60', DRAIN_WINDOW_MS: '300' },
  });
  nodes.push(n);
  return n;
}

function live(p: Player, code: string): LiveConnection {
  const c = p.connect(code);
  conns.push(c);
  return c;
}

async function shownRound(c: LiveConnection, atLeast = 1): Promise<number> {
  return waitFor(
    () => {
      const r = roundIn(c.latestPartial('game-status'));
      return r >= atLeast ? r : false;
    },
    10_000,
    `status partial showing round ≥ ${atLeast}`,
  );
}

beforeAll(() => {
  dbPath = join(tempDir(), 'reconnect.db');
});

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
});

describe('reconnect after a restart on the same database', () => {
  it('closes with 1012, exits 0, and the next node shows the same round, health and board; acts still work and nothing is applied twice', async () => {
    port = await freePort();
    let node = boot();
    await node.ready();
    const a = new Player(node.url, `ann${Date.now() % 100000}`);
    const b = new Player(node.url, `bob${Date.now() % 100000}`);
    await a.signup();
    await b.signup();
    const code = await a.createGame();
    expect((await b.join(code)).status).toBe(303);
    expect((await a.start(code)).status).toBe(303);

    let ca = live(a, code);
    await ca.opened;
    const round = await shownRound(ca);
    expect(round).toBe(1);
    const rec = await adminGame(node.url, code);
    expect(rec.state.status).toBe('playing');
    const idA = rec.state.players.find((p) => p.name === a.username)!.id;
    const idB = rec.state.players.find((p) => p.name === b.username)!.id;

    // The same action twice: applied once, acknowledged twice.
    const x = randomUUID();
    expect(await ca.act(round, 'defend', undefined, x)).toMatchObject({
      type: 'ack',
      actionId: x,
      duplicate: false,
    });
    const afterFirst = await adminGame(node.url, code);
    expect(afterFirst.state.submitted[idA]).toMatchObject({ id: x, kind: 'defend', round });
    expect(await ca.act(round, 'defend', undefined, x)).toMatchObject({
      type: 'ack',
      actionId: x,
      duplicate: true,
    });
    const afterDup = await adminGame(node.url, code);
    expect(afterDup.seq).toBe(afterFirst.seq);
    expect(essence(afterDup.state)).toEqual(essence(afterFirst.state));
    // A different action for a round already chosen is refused, not applied.
    const other = await ca.act(round, 'move', 'e');
    expect(other).toMatchObject({ type: 'error', code: 'already-submitted' });

    // Wait for the page's view to settle, then remember what it shows.
    await waitFor(
      () => ca.latestPartial('game-actions')?.includes('Submitted'),
      5000,
      'submitted notice',
    );
    const boardBefore = ca.latestPartial('game-board');
    const tilesBefore = ca.latestPartial('game-board-tiles');
    expect(tilesBefore).toContain('polygon');
    const playersBefore = await waitFor(
      () => ca.latestPartial('game-players'),
      5000,
      'players partial',
    );
    const before = await adminGame(node.url, code);

    // SIGTERM: the socket closes with 1012 (Service Restart) and the node exits 0.
    const t0 = Date.now();
    node.signal('SIGTERM');
    await waitFor(() => ca.closeCode !== null, 5000, 'socket closed by the draining node');
    expect(ca.closeCode).toBe(1012);
    await waitFor(() => !node.alive, 8000, 'node to exit after SIGTERM');
    expect(node.exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(node.hasLog((l) => /left in the database for the next node/.test(l.msg))).toBe(true);

    // The next node on the same database and port resumes the game from its snapshot.
    node = boot();
    await node.ready();
    await node.logged((l) => new RegExp(`game ${code} adopted`).test(l.msg), 'adoption logged');
    const after = await adminGame(node.url, code);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    expect(essence(after.state)).toEqual(essence(before.state));

    // The page reconnects (same cookie: sessions live in SQLite) and sees the same game.
    ca = live(a, code);
    await ca.opened;
    expect(await shownRound(ca)).toBe(round);
    expect(ca.latestPartial('game-board')).toBe(boardBefore);
    expect(ca.latestPartial('game-board-tiles')).toBe(tilesBefore);
    expect(ca.latestPartial('game-players')).toBe(playersBefore);
    expect(ca.latestPartial('game-actions')).toContain('Submitted');

    // The round waited for both players after the restart; a's open page told the game a is back.
    expect(after.state.hold?.waiting.sort()).toEqual([idA, idB].sort());
    const back = await waitFor(
      async () => {
        const r = await adminGame(node.url, code);
        return r.state.hold && !r.state.hold.waiting.includes(idA) ? r : null;
      },
      5000,
      'a marked present',
    );
    expect(back.state.hold?.waiting).toEqual([idB]);
    expect(back.state.deadline).toBeNull();

    // The page resends its unacknowledged action after reconnecting: recognised, not applied again.
    expect(await ca.act(round, 'defend', undefined, x)).toMatchObject({
      type: 'ack',
      duplicate: true,
    });
    const afterResend = await adminGame(node.url, code);
    expect(afterResend.seq).toBe(back.seq);
    expect(essence(afterResend.state)).toEqual(essence(before.state));

    // Acts still work: B's move completes the round, which resolves at once.
    const cb = live(b, code);
    await cb.opened;
    await shownRound(cb);
    const posB = after.state.players.find((p) => p.id === idB)!.pos;
    expect(await cb.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
    const next = await shownRound(ca, round + 1);
    expect(next).toBe(round + 1);
    const resolved = await adminGame(node.url, code);
    expect(resolved.state.round).toBe(round + 1);
    expect(resolved.state.previous[idA]).toBe(x);
    expect(
      resolved.state.events.filter((e) => e.kind === 'defend' && e.actor === idA),
    ).toHaveLength(1);
    expect(resolved.state.players.find((p) => p.id === idB)!.pos).toEqual(posB);

    // The round-1 action sent once more in round 2: still a duplicate, round 2 untouched.
    expect(await ca.act(round, 'defend', undefined, x)).toMatchObject({
      type: 'ack',
      duplicate: true,
    });
    const stillResolved = await adminGame(node.url, code);
    expect(stillResolved.state.submitted[idA]).toBeUndefined();
    expect(stillResolved.seq).toBe(resolved.seq);
    // And a fresh action for round 2 is accepted.
    expect(await ca.act(round + 1, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
  });
});
