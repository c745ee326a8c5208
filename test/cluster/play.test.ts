// Playing across nodes with real processes: three nodes on 127.0.0.2–4 (one port, one
// SQLite file, found through a test DNS server). Players on different nodes play one game to
// the end, actions reach the owner from any node, and the lobby is the whole cluster's.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, metricValue, metricsOf, recordOn } from '../support/cluster.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { Player, roundIn, type LiveConnection } from '../support/player.js';

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

let cluster: TestCluster | undefined;
let n1: NodeProcess, n2: NodeProcess, n3: NodeProcess;
const conns: LiveConnection[] = [];
let seq = 0;

beforeAll(async () => {
  cluster = await TestCluster.start(HOSTS, { env: { ROUND_SECONDS: '2' } });
  [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
});

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await cluster?.close();
});

async function player(node: NodeProcess, prefix: string): Promise<Player> {
  const p = new Player(node.url, `${prefix}${cluster!.port}x${++seq}`);
  await p.signup();
  return p;
}

/** The same account (same session cookie) talking to another node. */
function via(p: Player, node: NodeProcess): Player {
  const q = new Player(node.url, p.username, p.password);
  q.cookie = p.cookie;
  return q;
}

function live(c: LiveConnection): LiveConnection {
  conns.push(c);
  return c;
}

const finished = (c: LiveConnection): boolean =>
  /Game over after/.test(c.latestPartial('game-status') ?? '');

/** Rounds shown by every status partial a socket received, in order. */
const roundsShown = (c: LiveConnection): number[] =>
  c
    .allPartials('game-status')
    .map(roundIn)
    .filter((r) => r > 0);

/** Acts like a bot: sends one action for `round`, retrying what the server says to retry. */
async function bot(
  c: LiveConnection,
  round: number,
  kind: 'defend' | 'move' | 'attack',
  dir?: string,
): Promise<Record<string, unknown>> {
  const id = randomUUID();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const reply = await c.act(round, kind, dir, id);
    if (reply.type === 'ack' || reply.retry !== true || Date.now() > deadline) return reply;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The record shown on the leaderboard page: [won, played]. */
async function recordOnPage(p: Player): Promise<[number, number]> {
  const { html } = await p.page('/leaderboard');
  const m = html.match(
    /Your record: <strong>(\d+)<\/strong> won of <strong>(\d+)<\/strong> played/,
  );
  if (!m) throw new Error(`no record on the leaderboard of ${p.base}`);
  return [Number(m[1]), Number(m[2])];
}

describe('any node serves any player', () => {
  it('two players on different nodes play one game to the end: both see every round and the outcome; the result is recorded once', async () => {
    const a = await player(n1, 'ann');
    const b = await player(n2, 'bob');
    const code = await a.createGame();
    await waitFor(
      async () => (await b.page('/lobby')).html.includes(code),
      5000,
      `${code} in the lobby of n2`,
    );
    expect((await b.join(code)).status).toBe(303);
    expect((await a.start(code)).status).toBe(303);
    const owner = (await recordOn(n1, code)).owner;
    expect(owner).toBe('n1');

    // Ann's page is of this release (trees); Bob kept a page of the release before open, which
    // nodes send whole partials: both must see the same game.
    const ca = live(a.connect(code));
    const cb = live(b.connect(code, { wire: 'partials' }));
    await Promise.all([ca.opened, cb.opened]);

    // Bots: each round both players defend (the Minotaur wears them down), acting only once
    // both pages show the round, so every round is seen on both sockets.
    let round = 1;
    for (; round <= 61; round++) {
      const r = round;
      await waitFor(
        () =>
          (finished(ca) && finished(cb)) ||
          (roundIn(ca.latestPartial('game-status')) >= r &&
            roundIn(cb.latestPartial('game-status')) >= r),
        10_000,
        `round ${r} on both sockets`,
        10,
      );
      if (finished(ca) && finished(cb)) break;
      const replies = await Promise.all([bot(ca, r, 'defend'), bot(cb, r, 'defend')]);
      for (const reply of replies) {
        // A player knocked out, or a round that ended on its deadline meanwhile, may refuse.
        if (reply.type !== 'ack') expect(reply.code).toMatch(/eliminated|stale-round|not-playing/);
      }
    }
    await waitFor(() => finished(ca) && finished(cb), 10_000, 'the end on both sockets');

    const final = await recordOn(n1, code);
    expect(final.state.status).toBe('finished');
    const lastRound = final.state.round;
    expect(lastRound).toBeGreaterThan(1);
    expect(lastRound).toBeLessThanOrEqual(60);
    // Both sockets showed every round from 1 to the last, in order, none skipped.
    const want = Array.from({ length: lastRound }, (_, i) => i + 1);
    expect([...new Set(roundsShown(ca))]).toEqual(want);
    expect([...new Set(roundsShown(cb))]).toEqual(want);
    expect(ca.messages.filter((m) => m.wire.startsWith('{"type":"render"')).length).toBeGreaterThan(
      lastRound,
    );
    expect(cb.messages.filter((m) => m.wire.startsWith('<hx-partial')).length).toBeGreaterThan(
      lastRound,
    );
    // The replicas agree on the end.
    for (const node of [n2, n3]) {
      const rec = await waitFor(
        async () => {
          const r = await recordOn(node, code).catch(() => null);
          return r && r.seq === final.seq && r.epoch === final.epoch ? r : null;
        },
        5000,
        `final record of ${code} on ${node.opts.nodeId}`,
      );
      expect(rec.state.winner).toBe(final.state.winner);
    }

    // The final overlay shows the outcome on both sockets.
    const idA = final.state.players.find((p) => p.name === a.username)!.id;
    const idB = final.state.players.find((p) => p.name === b.username)!.id;
    const overlay = (c: LiveConnection) => c.latestPartial('game-overlay') ?? '';
    const expectOutcome = (c: LiveConnection, me: string) => {
      const winner = final.state.winner;
      if (winner === me) expect(overlay(c)).toContain('Victory!');
      else expect(overlay(c)).toContain('Game Over');
    };
    expectOutcome(ca, idA);
    expectOutcome(cb, idB);

    // Recorded once: both records on node 3 say one game played.
    const a3 = via(a, n3);
    const b3 = via(b, n3);
    const [wonA, playedA] = await waitFor(
      async () => {
        const r = await recordOnPage(a3);
        return r[1] >= 1 ? r : null;
      },
      5000,
      'the result on the leaderboard of n3',
    );
    const [wonB, playedB] = await recordOnPage(b3);
    expect(playedA).toBe(1);
    expect(playedB).toBe(1);
    expect(wonA + wonB).toBe(final.state.winner ? 1 : 0);
    if (final.state.winner === idA) expect(wonA).toBe(1);
    if (final.state.winner === idB) expect(wonB).toBe(1);
    // n3 answers a page of the leaderboard from one read for up to LEADERBOARD_MS (1 s): a
    // game recorded by another node shows at its next read.
    const rowOf = (board: string, name: string) =>
      board.match(
        new RegExp(`<td><a href="/players/${name}">${name}</a></td><td>(\\d+)</td><td>(\\d+)</td>`),
      );
    const board = await waitFor(
      async () => {
        const html = (await a3.page('/leaderboard')).html;
        return rowOf(html, a.username) && rowOf(html, b.username) ? html : null;
      },
      10_000,
      'both heroes on the leaderboard of n3',
    );
    // The name links to the hero's profile.
    for (const name of [a.username, b.username])
      expect(rowOf(board, name)?.[2], `leaderboard row of ${name}`).toBe('1');
  });

  it('an action sent over a socket on node 3 for a game owned by node 1 is forwarded, acknowledged and recorded by the owner', async () => {
    const c = await player(n1, 'cat');
    const d = await player(n3, 'dan');
    const code = await c.createGame();
    await waitFor(() => recordOn(n3, code).catch(() => null), 5000, `${code} on n3`);
    expect((await d.join(code)).status).toBe(303);
    expect((await c.start(code)).status).toBe(303);
    const started = await recordOn(n1, code);
    expect(started.owner).toBe('n1');
    expect(started.state.status).toBe('playing');
    const idD = started.state.players.find((p) => p.name === d.username)!.id;
    const forwardedBefore =
      metricValue(await metricsOf(n3), 'minotaur_commands_forwarded_total') ?? 0;

    const cd = live(d.connect(code));
    await cd.opened;
    const round = await waitFor(
      () => roundIn(cd.latestPartial('game-status')) || null,
      5000,
      'a round on n3',
    );
    const actionId = randomUUID();
    const reply = await cd.act(round, 'defend', undefined, actionId);
    expect(reply).toMatchObject({ type: 'ack', actionId, duplicate: false });

    // The owner holds it: submitted for this round (or, if the round ended meanwhile, applied).
    const rec = await recordOn(n1, code);
    expect(rec.owner).toBe('n1');
    const held = rec.state.round === round ? rec.state.submitted[idD]?.id : rec.state.previous[idD];
    expect(held).toBe(actionId);
    expect(metricValue(await metricsOf(n3), 'minotaur_commands_forwarded_total')).toBeGreaterThan(
      forwardedBefore,
    );
    expect(
      metricValue(await metricsOf(n1), 'minotaur_actions_total', { result: 'accepted' }) ?? 0,
    ).toBeGreaterThan(0);
    // Sent again (a resend after a reconnect): acknowledged as a duplicate, applied once.
    expect(await cd.act(round, 'defend', undefined, actionId)).toMatchObject({
      type: 'ack',
      actionId,
    });
    cd.close();
  });

  it('a game created on node 2 appears live on a lobby socket on node 3, and on its lobby page, then among the games being played', async () => {
    const e = await player(n3, 'eve');
    const f = await player(n2, 'fay');
    const lobby = live(e.connectLobby());
    await lobby.opened;
    await waitFor(() => lobby.latestPartial('open-games') !== null, 5000, 'the first lobby render');
    const code = await f.createGame();
    expect((await recordOn(n2, code)).owner).toBe('n2');
    const html = await waitFor(
      () => {
        const p = lobby.latestPartial('open-games');
        return p?.includes(`/games/${code}`) ? p : null;
      },
      5000,
      `${code} pushed to the lobby socket on n3`,
    );
    expect(html).toContain(f.username);
    const page = await e.page('/lobby');
    expect(page.status).toBe(200);
    expect(page.html).toContain(`/games/${code}`);

    // Once it starts, every node's lobby offers it to watch, live; no longer to join.
    const g = await player(n2, 'gil');
    expect((await g.join(code)).status).toBe(303);
    expect((await f.start(code)).status).toBe(303);
    const playing = await waitFor(
      () => {
        const p = lobby.latestPartial('open-games');
        return p?.includes(`Watch game ${code}`) ? p : null;
      },
      5000,
      `${code} offered to watch on n3's lobby socket`,
    );
    expect(playing).toContain('Being played');
    expect(playing).toContain(`${f.username}, ${g.username}`);
    expect(playing).toContain('2 of 2 standing');
    expect(playing).not.toContain(`action="/games/${code}/join"`);
    // A hero of the game is offered to open it, on any node's lobby page.
    const theirs = await f.page('/lobby');
    expect(theirs.html).toContain(`Open game ${code}`);
    const watched = await e.page(`/games/${code}`);
    expect(watched.status).toBe(200);
    expect(watched.html).toContain(g.username);
    lobby.close();
  });
});
