// Rematches over plain HTTP: two players who call for a rematch at about the same moment end
// up in one new game, which starts by itself once both are in; an outsider cannot call one; a
// game nobody was left in records no result. (The exact race, where both calls open a game
// before either is recorded, is tested in test/unit/web/rematch.test.ts.)

import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { adminGame, TEST_ADMIN_TOKEN } from '../support/admin.js';
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

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
});

/** A node of its own (20-s rounds), on a database file of that name; its address. */
async function startedNode(name: string, env: Record<string, string> = {}): Promise<string> {
  const node = startNode({
    port: await freePort(),
    databasePath: join(tempDir(), `${name}.db`),
    env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '20', ...env },
  });
  nodes.push(node);
  await node.ready();
  return node.url;
}

/**
 * Defends in `round`, sending the same action again while the server says to retry (rate limit).
 */
async function defend(c: LiveConnection, round: number): Promise<void> {
  const id = randomUUID();
  for (;;) {
    const reply = await c.act(round, 'defend', undefined, id);
    if (reply.type === 'ack' || reply.retry !== true) return;
    // A client's back-off before sending again, as the page does.
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Both players defend every round until the game is over. */
async function playOut(base: string, code: string, players: Player[]): Promise<void> {
  const live = players.map((p) => p.connect(code));
  conns.push(...live);
  await Promise.all(live.map((c) => c.opened));
  for (let round = 1; round <= 61; round++) {
    const over = await waitFor(
      async () => {
        if ((await adminGame(base, code)).state.status === 'finished') return 'over';
        return live.every((c) => roundIn(c.latestPartial('game-status')) >= round) ? 'next' : false;
      },
      10_000,
      `round ${round}`,
    );
    if (over === 'over') return;
    await Promise.all(live.map((c) => defend(c, round)));
  }
}

/**
 * Two players (names + a tag) who played a game to its end on a node of its own; the node's
 * address, the tag, the players and the game's code.
 */
async function playedGame(name: string, names: [string, string], env: Record<string, string> = {}) {
  const base = await startedNode(name, env);
  const tag = Date.now() % 100000;
  const a = new Player(base, `${names[0]}${tag}`);
  const b = new Player(base, `${names[1]}${tag}`);
  const code = await openStartedGame([a, b]);
  await playOut(base, code, [a, b]);
  return { base, tag, a, b, code };
}

describe('rematch', () => {
  it('two calls close together lead to one new game, which starts once both are in', async () => {
    const { base, tag, a, b, code } = await playedGame('rematch', ['ann', 'bob']);
    const before = await adminGame(base, code);
    expect(before.state.status).toBe('finished');

    // Someone who did not play cannot call for a rematch of it.
    const outsider = new Player(base, `cat${tag}`);
    await outsider.signup();
    const refused = await outsider.post(`/games/${code}/rematch`, {}, `/games/${code}`);
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe('/lobby');

    const [ra, rb] = await Promise.all([
      a.post(`/games/${code}/rematch`, {}, `/games/${code}`),
      b.post(`/games/${code}/rematch`, {}, `/games/${code}`),
    ]);
    expect([ra.status, rb.status]).toEqual([303, 303]);
    const target = ra.headers.get('location');
    expect(target).toMatch(/^\/games\/[A-Z]{4}$/);
    expect(rb.headers.get('location')).toBe(target);
    const next = target!.slice(-4);
    expect(next).not.toBe(code);

    const rematch = await waitFor(
      async () => {
        const r = await adminGame(base, next);
        return r.state.status === 'playing' ? r : false;
      },
      10_000,
      'the rematch to start',
    );
    expect(rematch.state.players.map((p) => p.name).sort()).toEqual(
      [a.username, b.username].sort(),
    );
    expect(rematch.state.rematchOf?.code).toBe(code);
    expect((await adminGame(base, code)).state.rematch?.code).toBe(next);
    // Each in their colour of the game before, whichever of the two opened it.
    const colors = (g: typeof before) =>
      Object.fromEntries(g.state.players.map((p) => [p.name, p.color]));
    expect(colors(rematch)).toEqual(colors(before));

    // A second call later just leads to the same game.
    const again = await a.post(`/games/${code}/rematch`, {}, `/games/${code}`);
    expect(again.headers.get('location')).toBe(target);
    // The record counts the first game once per player, and no game of nobody.
    const { html } = await a.page('/leaderboard');
    expect(html).toMatch(/Your record: <strong>[01]<\/strong> won of <strong>1<\/strong> played/);
  });

  it("is a new game: the account's limit of open games applies to it as in the lobby", async () => {
    const { base, a, b, code } = await playedGame('rematch-limit', ['dan', 'eve'], {
      OPEN_GAMES_PER_ACCOUNT: '1',
    });
    // dan opens a game of his own in the lobby: his one open game.
    const opened = await a.post('/lobby/games', {}, '/lobby');
    expect(opened.headers.get('location')).toMatch(/^\/games\/[A-Z]{4}$/);

    const refused = await a.post(`/games/${code}/rematch`, {}, `/games/${code}`);
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe(`/games/${code}`);
    const { html } = await a.page(`/games/${code}`);
    expect(html).toContain('You already have 1 game of your own waiting or in play (at most 1).');
    expect((await adminGame(base, code)).state.rematch).toBeNull();

    // eve has no open game: her rematch opens, and dan may join it (joining opens nothing).
    const hers = await b.post(`/games/${code}/rematch`, {}, `/games/${code}`);
    const target = hers.headers.get('location');
    expect(target).toMatch(/^\/games\/[A-Z]{4}$/);
    const joined = await a.post(`/games/${code}/rematch`, {}, `/games/${code}`);
    expect(joined.headers.get('location')).toBe(target);
  });

  it('a rematch everybody left closes at once, and the next call opens another in its place', async () => {
    const { base, tag, a, b, code } = await playedGame('rematch-left', ['fay', 'gus']);
    // fay calls for a rematch, and thinks better of it before gus comes.
    const first = (await a.post(`/games/${code}/rematch`, {}, `/games/${code}`)).headers.get(
      'location',
    )!;
    expect(first).toMatch(/^\/games\/[A-Z]{4}$/);
    const gone = first.slice(-4);
    // Someone watching its waiting room.
    const watcher = new Player(base, `hal${tag}`);
    await watcher.signup();
    const watching = watcher.connect(gone);
    conns.push(watching);
    await watching.opened;
    expect(
      (await a.post(`/games/${gone}/leave`, {}, `/games/${gone}`)).headers.get('location'),
    ).toBe('/lobby');
    // Nothing left to show: the watcher goes to the lobby, which says why, and the game is gone.
    await watching.nextJson((m) => m.type === 'redirect' && m.to === `/lobby?closed=${gone}`);
    expect((await watcher.page(`/lobby?closed=${gone}`)).html).toContain(
      `Game ${gone} closed before it started`,
    );
    // The record kept in its place has no state (AdminRecord types the record of a game).
    const dropped = async () => {
      const rec: { state: unknown } = await adminGame(base, gone);
      return rec.state === null;
    };
    await waitFor(dropped, 5000, 'the game dropped');
    // gus's call opens another rematch in its place, which the finished game now points at.
    const second = (await b.post(`/games/${code}/rematch`, {}, `/games/${code}`)).headers.get(
      'location',
    )!;
    expect(second).toMatch(/^\/games\/[A-Z]{4}$/);
    expect(second).not.toBe(first);
    expect((await adminGame(base, code)).state.rematch?.code).toBe(second.slice(-4));
    // And fay, calling again, joins that one.
    expect(
      (await a.post(`/games/${code}/rematch`, {}, `/games/${code}`)).headers.get('location'),
    ).toBe(second);
  });
});
