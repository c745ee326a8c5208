// Cold start: games survive the whole cluster stopping, and a single node restarting. The
// cluster case runs on SQLite and on PostgreSQL (a private server).
//
// 1. Three nodes get SIGTERM at once (no ready peer to hand to): each keeps its games in
//    their SQLite snapshots and exits 0. Three new nodes start on the same database: each game
//    is resumed exactly once ("game X adopted from node … [cold-start]") from its snapshot, in
//    the same round with the same hp and positions (and a fresh deadline if the old one had
//    passed), or the next round; then play goes on.
// 2. A single node (no DNS query at all) is stopped and started again: its games resume.
//
// Invariants (test/support/invariants.ts): no game reset; no round repeated or
// skipped; no acknowledged action lost; none applied twice; never two owners resolving a round.

import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStorage, type StorageTarget } from '../../src/db/storage.js';
import { waitFor, type NodeProcess, logLines } from '../support/node-process.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';
import type { GameState } from '../../src/game/types.js';

let rig: Rig | undefined;
let pg: PostgresServer | null = null;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});
afterAll(() => pg?.stop());

/**
 * SQLite: the rig's file. PostgreSQL: a new database on a private server, passed as DATABASE_URL.
 */
async function database(
  engine: 'sqlite' | 'postgres',
): Promise<{ env: Record<string, string>; target: (r: Rig) => StorageTarget }> {
  if (engine === 'sqlite') return { env: {}, target: (r) => ({ engine, path: r.dbPath }) };
  pg ??= await startPostgres();
  const url = await pg.createDatabase('coldstart');
  return { env: { DATABASE_URL: url }, target: () => ({ engine, url }) };
}

interface SnapRow {
  code: string;
  owner: string;
  epoch: number;
  seq: number;
  state: GameState;
}

async function snapshots(target: StorageTarget): Promise<Map<string, SnapRow>> {
  const storage = openStorage(target, {
    logger: pino({ level: 'silent' }),
    sessions: { pruneIntervalMs: 0 },
  });
  try {
    return new Map((await storage.snapshots.all()).map((s) => [s.code, s]));
  } finally {
    await storage.close();
  }
}

async function stopAll(r: Rig, nodes: NodeProcess[]): Promise<void> {
  for (const n of nodes) {
    r.lb.delete(n);
    r.removeFromDns(n);
  }
  for (const n of nodes) n.signal('SIGTERM');
  await waitFor(() => nodes.every((n) => !n.alive), 10_000, 'every node to exit');
  for (const n of nodes) expect(n.exitCode, r.tail(20)).toBe(0);
}

/**
 * Each game resumed once, from its snapshot, at the same round (same hp, fresh deadline) or the
 * next.
 */
async function expectResumed(
  r: Rig,
  before: Map<string, SnapRow>,
  restartedAt: number,
): Promise<void> {
  for (const code of r.codes) {
    const snap = before.get(code)!;
    expect(snap, `snapshot of ${code}`).toBeDefined();
    const pattern = new RegExp(
      `^game ${code} adopted from node ${snap.owner} \\(epoch ${snap.epoch + 1}, round ${snap.state.round}\\) \\[cold-start\\]$`,
    );
    // A node reports ready once its adoptions are done, but its log reaches us through a pipe
    // that may trail the health check's answer: wait for the line, then count.
    await waitFor(() => logLines(r.all, pattern).length > 0, 10_000, `${code} to be resumed`).catch(
      () => undefined,
    );
    const adopted = logLines(r.all, pattern);
    expect(
      adopted.map((a) => `${a.node}: ${a.line.msg}`),
      `${code} resumed once (its snapshot: epoch ${snap.epoch}, round ${snap.state.round}, ${snap.state.status})\n${r.tail(15, /adopted|adoption|claimed|snapshot|left in|stopped running|resum|finished/)}`,
    ).toHaveLength(1);
    // Once after the restart (nodes stopping together may hand games to each other first).
    const after = logLines(r.all, new RegExp(`^game ${code} adopted`)).filter(
      (a) => Date.parse(String(a.line.time)) >= restartedAt,
    );
    expect(
      after.map((a) => `${a.node}: ${a.line.msg}`),
      r.tail(30, /adopted|claimed|left in|stopped running/),
    ).toHaveLength(1);
    const now = await r.newest(code);
    expect(now.state.id).toBe(snap.state.id);
    expect(now.epoch).toBe(snap.epoch + 1);
    expect([snap.state.round, snap.state.round + 1]).toContain(now.state.round);
    if (now.state.round === snap.state.round) {
      expect(now.state.players.map((p) => [p.id, p.hp, p.pos, p.alive])).toEqual(
        snap.state.players.map((p) => [p.id, p.hp, p.pos, p.alive]),
      );
      // Actions in the snapshot are still there (the bots may have added more since).
      expect(now.state.submitted).toMatchObject(snap.state.submitted);
      // The round waits for the players who were away, then runs a full round from when they are
      // back.
      if (now.state.hold) expect(now.state.deadline).toBeNull();
      else expect(now.state.deadline!).toBeGreaterThanOrEqual(restartedAt + now.state.roundMs);
    } else {
      for (const p of now.state.players)
        expect(p.hp).toBeLessThanOrEqual(snap.state.players.find((x) => x.id === p.id)!.hp);
    }
  }
}

describe('cold start from snapshots', () => {
  it.each(['sqlite', 'postgres'] as const)(
    'a whole cluster stopped (SIGTERM all three) and started again on the same database resumes every game (%s)',
    async (engine) => {
      const db = await database(engine);
      rig = await Rig.create({ roundSeconds: 2, env: db.env });
      const olds = await rig.startThree('a');
      await rig.setupGames(2, 3, [olds[0]!, olds[1]!]);
      rig.sampler.start();
      await rig.roundsPass(2);

      await stopAll(rig, olds);
      const kept = logLines(olds, /left in the database for the next node/);
      expect(kept.length).toBeGreaterThanOrEqual(rig.codes.length);
      const before = await snapshots(db.target(rig));
      // Down for a while: longer than a round, so the deadlines pass.
      await new Promise((r) => setTimeout(r, 2500));

      const restartedAt = Date.now();
      await rig.startThree('c');
      await expectResumed(rig, before, restartedAt);
      await rig.roundsPass(2);

      await checkAll(rig, 'cold-start cluster');
    },
  );

  it('nodes started together while DNS lists only ready nodes resume each game once: one owner, nothing acknowledged lost', async () => {
    rig = await Rig.create({ roundSeconds: 2 });
    const olds = await rig.startThree('a');
    await rig.setupGames(4, 2, olds);
    rig.sampler.start();
    await rig.roundsPass(2);
    await stopAll(rig, olds);

    // Like Swarm and Kubernetes: DNS names a node only once it is ready, so the new nodes
    // cannot find each other through it while they start.
    rig.setDns([]);
    const restartedAt = Date.now();
    const news = [
      rig.start('c1', '127.0.0.2', { inDns: false }),
      rig.start('c2', '127.0.0.3', { inDns: false }),
      rig.start('c3', '127.0.0.4', { inDns: false }),
    ];
    await Promise.all(
      news.map(async (n) => {
        await n.ready();
        rig!.setDns([
          ...new Set([
            ...rig!
              .live()
              .filter((x) => news.includes(x) && rig!.lb.has(x))
              .map((x) => x.opts.host),
            n.opts.host,
          ]),
        ]);
        rig!.lb.add(n);
      }),
    );
    await rig.roundsPass(3);

    for (const code of rig.codes) {
      const adoptions = logLines(news, new RegExp(`^game ${code} adopted`)).filter(
        (a) => Date.parse(String(a.line.time)) >= restartedAt,
      );
      expect(
        adoptions.map((a) => `${a.node}: ${a.line.msg}`),
        `${code} resumed by exactly one node\n${rig.tail(20, /adopted|claimed|stopped running/)}`,
      ).toHaveLength(1);
      expect(
        logLines(news, new RegExp(`^game ${code}: stopped running it`)),
        `${code} never had two owners`,
      ).toEqual([]);
    }
    await checkAll(rig, 'cold-start together');
  });

  it('a single node (no DNS) restarted on the same database resumes its games', async () => {
    rig = await Rig.create({ roundSeconds: 2 });
    const first = rig.start('s1', '127.0.0.2', { cluster: false });
    await first.ready();
    rig.lb.add(first);
    await rig.setupGames(1, 2, [first]);
    rig.sampler.start();
    await rig.roundsPass(2);

    await stopAll(rig, [first]);
    expect(first.hasLog((l) => /left in the database for the next node/.test(l.msg))).toBe(true);
    expect(rig.bots.some((b) => b.closes.some((c) => c.code === 1012))).toBe(true);
    const before = await snapshots({ engine: 'sqlite', path: rig.dbPath });

    const restartedAt = Date.now();
    const second = rig.start('s2', '127.0.0.2', { cluster: false });
    await second.ready();
    rig.lb.add(second);
    await expectResumed(rig, before, restartedAt);
    await rig.roundsPass(2);

    await checkAll(rig, 'cold-start single');
  });
});
