// GameSessions over in-memory networks: forwarding, acknowledgement after replication,
// handoff, takeover, fencing and cold start, with real rules and a real replica.

import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MeshChannel, NodeState } from '../../../src/cluster/types.js';
import { openStorage, type Storage } from '../../../src/db/index.js';
import type { GameState } from '../../../src/game/types.js';
import { readableSchemas } from '../../../src/game/upgrade.js';
import { createMetrics, type Metrics } from '../../../src/metrics.js';
import { MemoryNetwork } from '../../support/memory-network.js';
import { Replica } from '../../../src/replication/replica.js';
import { ReplicaSync } from '../../../src/replication/sync.js';
import { GameSession } from '../../../src/sessions/game-session.js';
import { GameSessions } from '../../../src/sessions/registry.js';
import { FINISHED_ROW_KEEP_MS } from '../../../src/sessions/transfer.js';

/** What the nodes logged (info and up), for tests that wait for a step to be done. */
const logged: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
const stores: Storage[] = [];

/** The database the nodes of one test cluster share (SQLite in memory). */
async function sharedDb(now?: () => number) {
  const storage = openStorage(
    { engine: 'sqlite', path: ':memory:' },
    { logger, ...(now ? { now } : {}) },
  );
  await storage.migrate();
  stores.push(storage);
  return storage;
}

interface TestNode {
  id: string;
  state: NodeState;
  replica: Replica<GameState>;
  sync: ReplicaSync<GameState>;
  sessions: GameSessions;
  metrics: Metrics;
  results: unknown[];
  /** Its channels on the replication and the sessions network. */
  channels: MeshChannel[];
}

let codes = 0;
const nets: MemoryNetwork[] = [];
const nodes: TestNode[] = [];

/** Storage whose snapshot and lease calls fail while `down` is set (a database outage). */
function outage(store: Storage) {
  const ctl = { down: false };
  const guard = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, key, receiver) {
        const v = Reflect.get(obj, key, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (ctl.down) return Promise.reject(new Error('connect ECONNREFUSED (test outage)'));
          return (v as (...a: unknown[]) => unknown).apply(obj, args);
        };
      },
    });
  return {
    ctl,
    store: { ...store, snapshots: guard(store.snapshots), leases: guard(store.leases) } as Storage,
  };
}

async function cluster(
  ids: string[],
  given?: Storage,
  extra: {
    leaseMs?: number;
    finishedRetentionMs?: number;
    forwardTimeoutMs?: number;
    roundMs?: number;
    /** A node's own way to the database (e.g. one that can be cut off alone). */
    storeOf?: Record<string, Storage>;
  } = {},
) {
  const { storeOf, ...options } = extra;
  const store = given ?? (await sharedDb());
  const repl = new MemoryNetwork();
  const sess = new MemoryNetwork();
  nets.push(repl, sess);
  const made = ids.map((id) => {
    const member = { schemas: readableSchemas(), state: 'ready' as NodeState };
    const replica = new Replica<GameState>();
    const channels = [repl.join(id, member), sess.join(id, member)] as const;
    const sync = new ReplicaSync<GameState>({
      replica,
      channel: channels[0],
      logger,
      now: Date.now,
      ackTimeoutMs: 300,
    });
    const node: TestNode = {
      id,
      state: 'ready',
      replica,
      sync,
      sessions: null as never,
      metrics: createMetrics(id),
      results: [],
      channels: [...channels],
    };
    node.sessions = new GameSessions({
      nodeId: id,
      version: '1.0.0',
      replica,
      sync,
      channel: channels[1],
      results: { record: async (r) => (node.results.push(r), true) },
      snapshots: (storeOf?.[id] ?? store).snapshots,
      leases: (storeOf?.[id] ?? store).leases,
      logger,
      metrics: node.metrics,
      random: {
        code: () => ['KEPS', 'ABCD', 'QWER', 'ZXCV', 'MNOP'][codes++ % 5]!,
        seed: () => 7,
        id: () => `game-${codes}`,
      },
      roundMs: 60_000,
      selfState: () => node.state,
      clockHealthy: () => true,
      orphanGraceMs: 0,
      forwardTimeoutMs: 500,
      commandDeadlineMs: 2000,
      ...options,
    });
    sync.start();
    nodes.push(node);
    return node;
  });
  return { nodes: made, repl, sess, store };
}

async function until(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    n.sessions.stop();
    n.sync.stop();
  }
  for (const net of nets.splice(0)) net.close();
  for (const s of stores.splice(0)) await s.close();
  codes = 0;
  logged.length = 0;
});

/**
 * Waits until the cluster's nodes have met: each lists every other one as its peer on both
 * networks, and what they sent each other on meeting has been delivered.
 */
async function peersMet(c: Awaited<ReturnType<typeof cluster>>): Promise<void> {
  const others = c.nodes.length - 1;
  await until(
    () => c.nodes.every((n) => n.channels.every((ch) => ch.peers().length === others)),
    3000,
    'every node to list its peers',
  );
  await c.repl.settle();
  await c.sess.settle();
}

async function startedGame(c: Awaited<ReturnType<typeof cluster>>) {
  await peersMet(c);
  const [a, b] = c.nodes as [TestNode, TestNode];
  const created = await a.sessions.create({ id: '1', name: 'ariadne' });
  if (!created.ok) throw new Error(created.message);
  const code = created.code;
  expect(
    await b.sessions.execute(code, { kind: 'join', player: { id: '2', name: 'theseus' } }),
  ).toEqual({ ok: true, duplicate: false });
  expect(await a.sessions.execute(code, { kind: 'start', playerId: '1' })).toEqual({
    ok: true,
    duplicate: false,
  });
  return code;
}

/** How many games a node took over from a lost owner (its adoptions metric). */
async function takeovers(n: TestNode): Promise<number> {
  const { values } = await n.metrics.adoptions.get();
  return values.filter((v) => v.labels.reason === 'takeover').reduce((sum, v) => sum + v.value, 0);
}

/** A player's "defend" for a round, as a page sends it. */
function defend(playerId: string, id: string, round = 1) {
  return { kind: 'act' as const, playerId, action: { id, round, kind: 'defend' as const } };
}

describe('GameSessions', () => {
  it('forwards a command to the owner and acknowledges only once another node holds it', async () => {
    const c = await cluster(['n1', 'n2', 'n3']);
    const code = await startedGame(c);
    const [n1, n2, n3] = c.nodes as [TestNode, TestNode, TestNode];
    const r = await n3.sessions.execute(code, defend('2', 'act-0001'));
    expect(r).toEqual({ ok: true, duplicate: false });
    // At the moment of the ack, some node other than the owner already holds the action.
    const holders = [n2, n3].filter(
      (n) => n.replica.get(code)?.state?.submitted['2']?.id === 'act-0001',
    );
    expect(holders.length).toBeGreaterThan(0);
    expect(n1.replica.get(code)?.owner).toBe('n1');
    // The same action again is recognised, from any node.
    expect(await n2.sessions.execute(code, defend('2', 'act-0001'))).toEqual({
      ok: true,
      duplicate: true,
    });
  });

  it('refuses a command that fails on the owner for the page to send again, run there or forwarded', async () => {
    const c = await cluster(['n1', 'n2', 'n3']);
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode, TestNode];
    expect(n1.replica.get(code)?.owner).toBe('n1');
    const failing = vi
      .spyOn(GameSession.prototype, 'run')
      .mockRejectedValueOnce(new Error('boom (test)'))
      .mockRejectedValueOnce(new Error('boom (test)'));
    try {
      for (const via of [n1, n2])
        expect(await via.sessions.execute(code, defend('2', 'act-fails'))).toMatchObject({
          ok: false,
          code: 'internal',
          retry: true,
        });
    } finally {
      failing.mockRestore();
    }
    expect(await n2.sessions.execute(code, defend('2', 'act-fails'))).toEqual({
      ok: true,
      duplicate: false,
    });
  });

  it('sends a forwarded command again when its link is replaced, and the owner applies it once', async () => {
    // A forward that waited for its timeout would take 10 s here.
    const c = await cluster(['n1', 'n2', 'n3'], undefined, { forwardTimeoutMs: 10_000 });
    const code = await startedGame(c);
    const [n1, , n3] = c.nodes as [TestNode, TestNode, TestNode];
    expect(n1.replica.get(code)?.owner).toBe('n1');
    const sent = n3.sessions.execute(code, defend('2', 'act-relink'));
    // The link between n3 and the owner breaks and comes back with the command in flight.
    c.sess.relink('n3', 'n1');
    const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 3000));
    expect(await Promise.race([sent, late])).toEqual({ ok: true, duplicate: false });
    expect(n1.replica.get(code)?.state?.submitted['2']?.id).toBe('act-relink');
  });

  it('answers a request that arrives twice with the first answer: one game, not two', async () => {
    const c = await cluster(['n1', 'n2']);
    await peersMet(c);
    const [n1] = c.nodes as [TestNode, TestNode];
    const raw = c.sess.join('n9', { schemas: readableSchemas(), state: 'joining' });
    const replies: unknown[] = [];
    raw.onMessage((_from, body) => void replies.push(body));
    await until(() => raw.peers().some((p) => p.id === 'n1'));
    const before = n1.replica.live().length;
    const request = { type: 'create', id: 'n9-1', creator: { id: '7', name: 'minos' } };
    expect(raw.send('n1', request)).toBe(true);
    expect(raw.send('n1', request)).toBe(true);
    await until(() => replies.length === 2);
    expect(replies[0]).toMatchObject({ type: 'created', id: 'n9-1', ok: true });
    expect(replies[1]).toEqual(replies[0]);
    expect(n1.replica.live().length).toBe(before + 1);
  });

  it('resolves the round at once when every living player has acted, exactly once', async () => {
    const c = await cluster(['n1', 'n2']);
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    await n2.sessions.execute(code, defend('2', 'act-b1'));
    await n1.sessions.execute(code, defend('1', 'act-a1'));
    await until(() => n2.sessions.game(code)?.round === 2);
    expect(n1.sessions.game(code)?.previous).toEqual({ '1': 'act-a1', '2': 'act-b1' });
    // A late resend of a round-1 action is a duplicate, not an error and not a round-2 action.
    expect(await n2.sessions.execute(code, defend('2', 'act-b1'))).toEqual({
      ok: true,
      duplicate: true,
    });
    expect(n1.sessions.game(code)?.submitted).toEqual({});
  });

  it('reports how late a round that ran out of time was resolved', async () => {
    const c = await cluster(['n1', 'n2'], undefined, { roundMs: 1000 });
    const code = await startedGame(c);
    const [n1] = c.nodes as [TestNode, TestNode];
    const deadline = n1.sessions.game(code)?.deadline;
    if (deadline == null) throw new Error('the game has no deadline');
    // The event loop stands still until 300 ms past the deadline (an overloaded node): the
    // round's timer can only fire after that.
    while (Date.now() < deadline + 300) {
      /* busy */
    }
    await until(() => n1.sessions.game(code)?.round === 2);
    let count = 0;
    let sum = 0;
    for (const n of c.nodes) {
      const { values } = await n.metrics.roundLateSeconds.get();
      for (const v of values) {
        if (v.metricName === 'minotaur_round_late_seconds_count') count += v.value;
        if (v.metricName === 'minotaur_round_late_seconds_sum') sum += v.value;
      }
    }
    expect(count).toBe(1);
    expect(sum).toBeGreaterThanOrEqual(0.3);
    expect(sum).toBeLessThan(2);
  });

  it('counts every action that arrived before the round was resolved, and the round as late', async () => {
    const c = await cluster(['n1', 'n2'], undefined, { roundMs: 1000 });
    const code = await startedGame(c);
    const [n1] = c.nodes as [TestNode, TestNode];
    const deadline = n1.sessions.game(code)?.deadline;
    if (deadline == null) throw new Error('the game has no deadline');
    // Both heroes' actions come in after the deadline, in the same turn, before the round's timer
    // could fire: neither is refused as late, and the round resolves with both.
    while (Date.now() < deadline + 200) {
      /* busy */
    }
    const replies = await Promise.all(
      ['1', '2'].map((playerId) =>
        n1.sessions.execute(code, {
          kind: 'act',
          playerId,
          action: { id: `late-${playerId}`, round: 1, kind: 'defend' },
        }),
      ),
    );
    expect(replies).toEqual([
      { ok: true, duplicate: false },
      { ok: true, duplicate: false },
    ]);
    await until(() => n1.sessions.game(code)?.round === 2);
    expect(n1.sessions.game(code)?.previous).toEqual({ '1': 'late-1', '2': 'late-2' });
    const { values } = await n1.metrics.roundLateSeconds.get();
    const count = values.find((v) => v.metricName === 'minotaur_round_late_seconds_count');
    expect(count?.value).toBe(1);
  });

  it('hands every game to a ready peer on drain: higher epoch, same round and deadline', async () => {
    const c = await cluster(['n1', 'n2', 'n3']);
    const code = await startedGame(c);
    const [n1, n2, n3] = c.nodes as [TestNode, TestNode, TestNode];
    await n2.sessions.execute(code, defend('2', 'act-0002'));
    const before = n1.replica.get(code)!;
    n1.state = 'draining';
    c.sess.setState('n1', 'draining');
    c.repl.setState('n1', 'draining');
    expect(await n1.sessions.handOffAll()).toEqual({ handed: 1, kept: 0 });
    const after = n1.replica.get(code)!;
    expect(['n2', 'n3']).toContain(after.owner);
    expect(after.epoch).toBe(before.epoch + 1);
    expect(after.state?.round).toBe(before.state?.round);
    expect(after.state?.deadline).toBe(before.state?.deadline);
    expect(after.state?.submitted['2']?.id).toBe('act-0002');
    expect(n1.sessions.ownedCodes()).toEqual([]);
    const successor = after.owner === 'n2' ? n2 : n3;
    expect(successor.sessions.ownedCodes()).toEqual([code]);
    // The time it took is counted by both: the node that stays (Prometheus scrapes it) and the
    // one that drains (out of DNS, and of Prometheus's targets, by then).
    const count = async (n: TestNode, metric: 'handoffSeconds' | 'handoffAdoptionSeconds') =>
      (await n.metrics[metric].get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ??
      0;
    expect(await count(successor, 'handoffAdoptionSeconds')).toBe(1);
    expect(await count(successor === n2 ? n3 : n2, 'handoffAdoptionSeconds')).toBe(0);
    expect(await count(n1, 'handoffSeconds')).toBe(1);
    // The successor's first write may reach n1 before its answer: said as a handoff, never
    // warned of as a game taken from n1.
    const lines = logged.map((l) => JSON.parse(l) as { level: number; msg: string });
    // Nothing about the game is warned of, whatever the order of the messages (which decides
    // whether n1 says it stopped running it, below).
    expect(lines.filter((l) => l.level >= 40 && l.msg.includes(code))).toEqual([]);
    expect(lines.some((l) => l.msg.includes(code))).toBe(true);
    const stopped = lines.filter((l) => l.msg.startsWith(`game ${code}: stopped running it`));
    for (const l of stopped)
      expect(l.msg).toBe(
        `game ${code}: stopped running it, node ${after.owner} adopted it (epoch ${after.epoch}) (handed over)`,
      );
    // Commands sent to the old node now reach the successor.
    expect(await n1.sessions.execute(code, defend('1', 'act-0003'))).toEqual({
      ok: true,
      duplicate: false,
    });
  });

  it('takes over the games of a crashed owner on exactly one survivor, and fences the old owner when it returns', async () => {
    const c = await cluster(['n1', 'n2', 'n3']);
    const code = await startedGame(c);
    const [n1, n2, n3] = c.nodes as [TestNode, TestNode, TestNode];
    await n2.sessions.execute(code, defend('2', 'act-0009'));
    const epoch = n2.replica.get(code)!.epoch;
    c.repl.disconnect('n1');
    c.sess.disconnect('n1');
    // The survivor placement picks adopts the game; both survivors then hold its adoption.
    await until(
      () => [n2, n3].every((n) => (n.replica.get(code)?.epoch ?? 0) > epoch),
      3000,
      'both survivors to hold the adoption',
    );
    // Whatever the adoption sent is delivered.
    await c.repl.settle();
    await c.sess.settle();
    const owners = [n2, n3].filter((n) => n.sessions.ownedCodes().includes(code));
    expect(owners).toHaveLength(1);
    // Only that one took it over: the other did not adopt it, not even for a moment.
    expect((await takeovers(n2)) + (await takeovers(n3))).toBe(1);
    // The other survivor knows the new owner, a live peer: it never adopts the game after this.
    expect(n2.replica.get(code)?.owner).toBe(owners[0]!.id);
    expect(n3.replica.get(code)?.owner).toBe(owners[0]!.id);
    const adopted = owners[0]!.replica.get(code)!;
    expect(adopted.epoch).toBe(epoch + 1);
    expect(adopted.state?.submitted['2']?.id).toBe('act-0009'); // the acknowledged action survived
    // The old owner still believes it owns the game until it hears of the successor.
    expect(n1.sessions.ownedCodes()).toEqual([code]);
    c.repl.reconnect('n1');
    c.sess.reconnect('n1');
    await n1.sync.catchUp(1000);
    await until(() => n1.sessions.ownedCodes().length === 0);
    expect(n1.replica.get(code)!.owner).toBe(owners[0]!.id);
  });

  it('resumes games from the database on a cold start, holding the round for the players who were away', async () => {
    const store = await sharedDb();
    const first = await cluster(['n1'], store);
    const code = await (async () => {
      const a = first.nodes[0]!;
      const created = await a.sessions.create({ id: '1', name: 'ariadne' });
      if (!created.ok) throw new Error('create failed');
      await a.sessions.execute(created.code, {
        kind: 'join',
        player: { id: '2', name: 'theseus' },
      });
      await a.sessions.execute(created.code, { kind: 'start', playerId: '1' });
      await a.sessions.execute(created.code, defend('1', 'act-cold'));
      return created.code;
    })();
    const saved = (await store.snapshots.get(code))!;
    expect(saved.state.submitted['1']?.id).toBe('act-cold');
    // The node stops with the game in the database; a new node on the same database resumes it.
    first.nodes[0]!.sessions.stop();
    await first.nodes[0]!.sessions.releaseLease();
    const second = await cluster(['m1'], store);
    expect(await second.nodes[0]!.sessions.resumeFromSnapshots()).toBe(1);
    const rec = second.nodes[0]!.replica.get(code)!;
    expect(rec.owner).toBe('m1');
    expect(rec.epoch).toBe(saved.epoch + 1);
    expect(rec.state?.round).toBe(1);
    expect(rec.state?.submitted['1']?.id).toBe('act-cold');
    // The round waits until both players' pages are open again.
    expect(rec.state?.deadline).toBeNull();
    expect(rec.state?.hold?.waiting).toEqual(['1', '2']);
    expect(
      await second.nodes[0]!.sessions.execute(code, { kind: 'present', playerId: '2' }),
    ).toEqual({ ok: true, duplicate: false });
    expect(second.nodes[0]!.replica.get(code)!.state?.hold?.waiting).toEqual(['1']);
    expect(
      await second.nodes[0]!.sessions.execute(code, { kind: 'present', playerId: '1' }),
    ).toEqual({ ok: true, duplicate: false });
    const resumed = second.nodes[0]!.replica.get(code)!.state!;
    expect(resumed.hold).toBeNull();
    expect(resumed.deadline).toBeGreaterThan(Date.now() + 50_000);
    // The database never overrides a newer replica: resuming again changes nothing.
    expect(await second.nodes[0]!.sessions.resumeFromSnapshots()).toBe(0);
  });

  it('resolves no round while neither the database nor any peer would hold it (no resolution a successor redoes)', async () => {
    const { ctl, store } = outage(await sharedDb());
    const c = await cluster(['n1', 'n2'], store, { leaseMs: 3000 });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    expect(await n1.sessions.execute(code, defend('1', 'act-0001'))).toEqual({
      ok: true,
      duplicate: false,
    });
    // The database goes away (the owner notices: its lease renewal fails) and the owner is cut
    // off from its peer; then the last hero acts.
    ctl.down = true;
    c.repl.disconnect('n1');
    c.sess.disconnect('n1');
    await n1.sessions.startLease();
    expect(n1.sessions.storage().available).toBe(false);
    const r = await n1.sessions.execute(code, defend('2', 'act-0002'));
    expect(r.ok).toBe(false);
    // Round 1 stays unresolved on the owner: nobody could confirm it.
    expect(n1.replica.get(code)?.state?.round).toBe(1);
    // Once the database answers again (the next renewal finds it), the owner resolves it.
    ctl.down = false;
    await until(() => (n1.replica.get(code)?.state?.round ?? 0) === 2, 3000);
    expect(n2.replica.get(code)?.state?.round ?? 1).toBeLessThanOrEqual(2);
  });

  it('acknowledges and replicates nothing the database does not hold; once it answers, the resend is', async () => {
    const { ctl, store } = outage(await sharedDb());
    const c = await cluster(['n1', 'n2'], store, { leaseMs: 3000 });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    // Every node loses the database; the mesh is fine.
    ctl.down = true;
    await n1.sessions.startLease();
    const act = defend('1', 'act-0001');
    const r = await n1.sessions.execute(code, act);
    expect(r).toMatchObject({ ok: false, code: 'unavailable', retry: true });
    // Nobody could save it: not acknowledged (a node that reached the database could take the
    // game over from the saved row without it), and not in any replica either (no page shows it).
    expect(n1.replica.get(code)?.state?.submitted['1']).toBeUndefined();
    expect(n2.replica.get(code)?.state?.submitted['1']).toBeUndefined();
    ctl.down = false;
    await until(() => n1.sessions.storage().available);
    expect(await n1.sessions.execute(code, act)).toEqual({ ok: true, duplicate: true });
    const row = await c.store.snapshots.get(code);
    expect((row?.state as GameState).submitted['1']?.id).toBe('act-0001');
    await until(() => n2.replica.get(code)?.state?.submitted['1']?.id === 'act-0001');
  });

  it('a handoff whose claim was written but its answer lost: the successor finds its own record at its first save and plays on', async () => {
    const db = await sharedDb();
    // n2's connection drops after each claim statement ran, before the answer came back.
    const lose = { claims: false };
    const snapshots = new Proxy(db.snapshots, {
      get(obj, key, receiver) {
        const v = Reflect.get(obj, key, receiver) as unknown;
        if (key !== 'claim' || typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          const out = (await (v as (...a: unknown[]) => Promise<unknown>).apply(
            obj,
            args,
          )) as boolean;
          if (lose.claims)
            throw Object.assign(new Error('read ECONNRESET (test)'), { code: 'ECONNRESET' });
          return out;
        };
      },
    });
    const c = await cluster(['n1', 'n2'], db, { storeOf: { n2: { ...db, snapshots } } });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    const before = n1.replica.get(code)!;
    lose.claims = true;
    n1.state = 'draining';
    c.sess.setState('n1', 'draining');
    c.repl.setState('n1', 'draining');
    expect(await n1.sessions.handOffAll()).toEqual({ handed: 1, kept: 0 });
    // The claim took effect; n2 was told it failed, so it runs the game as not claimed yet.
    expect((await db.snapshots.get(code))?.owner).toBe('n2');
    expect(n2.sessions.ownedCodes()).toEqual([code]);
    lose.claims = false;
    // The failed claim made n2 take the database for away; its lease renewal finds it again.
    await n2.sessions.startLease();
    await until(() => n2.sessions.storage().available);
    // Its first save's compare-and-set fails (the claim is there), and it finds its own record.
    expect(await n2.sessions.execute(code, defend('2', 'act-0002'))).toEqual({
      ok: true,
      duplicate: false,
    });
    expect(n2.sessions.ownedCodes()).toEqual([code]);
    const row = await db.snapshots.get(code);
    expect(row?.owner).toBe('n2');
    expect(row?.epoch).toBe(before.epoch + 1);
    expect((row?.state as GameState).submitted['2']?.id).toBe('act-0002');
  });

  it('an owner cut off from the database alone acknowledges through a peer that saved the write first', async () => {
    const db = await sharedDb();
    const cut = outage(db);
    const c = await cluster(['n1', 'n2'], db, { leaseMs: 3000, storeOf: { n1: cut.store } });
    const code = await startedGame(c);
    const [n1] = c.nodes as [TestNode, TestNode];
    expect(n1.replica.get(code)?.owner).toBe('n1');
    cut.ctl.down = true;
    await n1.sessions.startLease();
    expect(n1.sessions.storage().available).toBe(false);
    const r = await n1.sessions.execute(code, defend('2', 'act-0002'));
    expect(r).toEqual({ ok: true, duplicate: false });
    // At the moment of the ack the database holds it: n2 saved it for n1.
    const row = await db.snapshots.get(code);
    expect(row?.owner).toBe('n1');
    expect((row?.state as GameState).submitted['2']?.id).toBe('act-0002');
  });

  it('an owner cut off from the database alone resolves its rounds through its peers even when nobody acts', async () => {
    const db = await sharedDb();
    const cut = outage(db);
    const c = await cluster(['n1', 'n2'], db, {
      leaseMs: 3000,
      roundMs: 400,
      storeOf: { n1: cut.store },
    });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    expect(n1.replica.get(code)?.owner).toBe('n1');
    cut.ctl.down = true;
    await n1.sessions.startLease();
    expect(n1.sessions.storage().available).toBe(false);
    const from = n2.replica.get(code)?.state?.round ?? 0;
    // Rounds run out of time with no action to carry a write: the owner asks its peer to save.
    await until(() => (n2.replica.get(code)?.state?.round ?? 0) >= from + 2, 5000);
    const row = await db.snapshots.get(code);
    expect((row?.state as GameState).round).toBeGreaterThanOrEqual(from + 2);
    expect(row?.owner).toBe('n1');
  });

  it('refuses actions for another round, another player or a game it does not know', async () => {
    const c = await cluster(['n1', 'n2']);
    const code = await startedGame(c);
    const n2 = c.nodes[1]!;
    expect(await n2.sessions.execute(code, defend('9', 'act-x1'))).toMatchObject({
      ok: false,
      code: 'not-in-game',
    });
    expect(await n2.sessions.execute(code, defend('2', 'act-x2', 5))).toMatchObject({
      ok: false,
      code: 'future-round',
    });
    expect(await n2.sessions.execute('NOPE', defend('2', 'act-x3'))).toMatchObject({
      ok: false,
      code: 'no-game',
    });
    expect(await n2.sessions.execute(code, { kind: 'start', playerId: '2' })).toMatchObject({
      ok: false,
    });
  });

  /** Both heroes attack until the game ends; returns the final state as n1 holds it. */
  async function playToTheEnd(n1: TestNode, n2: TestNode, code: string): Promise<GameState> {
    for (let i = 0; i < 70 && n1.sessions.game(code)?.status === 'playing'; i++) {
      const round = n1.sessions.game(code)!.round;
      await n2.sessions.execute(code, {
        kind: 'act',
        playerId: '2',
        action: { id: `b-${round}`, round, kind: 'attack', dir: 'e' },
      });
      await n1.sessions.execute(code, {
        kind: 'act',
        playerId: '1',
        action: { id: `a-${round}`, round, kind: 'attack', dir: 'w' },
      });
    }
    const end = n1.sessions.game(code)!;
    expect(end.status).toBe('finished');
    return end;
  }

  it.each([
    ['every node holding a lease has the tombstone: the saved row goes', true],
    ['a node holding a lease is out of reach (its copy may lag): the saved row stays', false],
  ])('drops a finished game after its retention; %s', async (_what, reachable) => {
    const store = await sharedDb();
    const c = await cluster(['n1', 'n2'], store, { leaseMs: 3000, finishedRetentionMs: 300 });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    await n1.sessions.startLease();
    await n2.sessions.startLease();
    const end = await playToTheEnd(n1, n2, code);
    if (!reachable) {
      // n2 renews its lease but hears nothing from n1 any more.
      c.repl.disconnect('n2');
      c.sess.disconnect('n2');
    }
    // The owner logs the drop once it decided about the row.
    await until(() => logged.some((l) => l.includes(`game ${code} dropped (finished)`)), 3000);
    expect(n1.results.map((r) => (r as { gameId: string }).gameId)).toContain(end.id);
    const row = await store.snapshots.get(code);
    if (reachable) expect(row).toBeNull();
    else expect(row?.state).toMatchObject({ id: end.id, status: 'finished' });
  });

  it('keeps a finished game for its retention from its end, however long its table talks on', async () => {
    const c = await cluster(['n1', 'n2'], undefined, { finishedRetentionMs: 1000 });
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    await playToTheEnd(n1, n2, code);
    // Each line is a write; none puts the drop off (it did, by a whole retention each).
    for (let said = 0; n1.sessions.game(code); said++) {
      if (said > 40) throw new Error('the finished game was never dropped while its table talked');
      await n2.sessions.execute(code, {
        kind: 'social',
        playerId: '2',
        op: { type: 'say', text: `gg ${said}` },
      });
      await new Promise((r) => setTimeout(r, 250));
    }
    await until(() => logged.some((l) => l.includes(`game ${code} dropped (finished)`)));
  });

  it('drops at once a waiting game everybody left (nothing to show, no result)', async () => {
    const c = await cluster(['n1', 'n2'], undefined, { finishedRetentionMs: 60_000 });
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    const created = await n1.sessions.create({ id: '1', name: 'ariadne' });
    if (!created.ok) throw new Error(created.message);
    const code = created.code;
    await until(() => n2.sessions.game(code) !== undefined, 3000, 'the game on n2');
    expect(await n2.sessions.execute(code, { kind: 'leave', playerId: '1' })).toEqual({
      ok: true,
      duplicate: false,
    });
    await until(
      () => n1.sessions.game(code) === undefined && n2.sessions.game(code) === undefined,
      3000,
      'the emptied game dropped on both nodes (not kept for the 60-s retention)',
    );
    expect(n1.results).toEqual([]);
  });

  it("prunes finished games' saved rows once they are old enough that no copy can lag", async () => {
    const store = await sharedDb();
    const c = await cluster(['n1'], store);
    const [n1] = c.nodes as [TestNode];
    const created = await n1.sessions.create({ id: '1', name: 'ariadne' });
    if (!created.ok) throw new Error(created.message);
    const row = (await store.snapshots.get(created.code))!;
    const finished = (code: string, at: number) => ({
      ...row,
      code,
      gameId: `game-${code}`,
      state: { ...row.state, code, id: `game-${code}`, status: 'finished' as const },
      at,
    });
    await store.snapshots.save(finished('OLDF', Date.now() - FINISHED_ROW_KEEP_MS - 1000));
    await store.snapshots.save(finished('NEWF', Date.now() - 60_000));
    await n1.sessions.resumeFromSnapshots();
    expect(await store.snapshots.get('OLDF')).toBeNull();
    expect(await store.snapshots.get('NEWF')).not.toBeNull();
    expect(await store.snapshots.get(created.code)).not.toBeNull();
  });

  it('records a finished game once, on the owner, once its final state is held', async () => {
    const c = await cluster(['n1', 'n2']);
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    await playToTheEnd(n1, n2, code);
    // The final state reaches the peer shortly after the owner's database took it.
    await expect.poll(() => n2.sessions.game(code)?.status).toBe('finished');
    const end = n2.sessions.game(code)!;
    expect(n1.results).toHaveLength(1);
    expect(n2.results).toHaveLength(0);
    expect(n1.results[0]).toMatchObject({
      gameId: end.id,
      winnerId: end.winner,
      rounds: end.round,
    });
  });

  it('never resumes from the database a game whose owner is alive, even when the database is ahead of the replica', async () => {
    const c = await cluster(['n1', 'n2']);
    const code = await startedGame(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    // The owner has saved a write that has not reached n2 yet.
    const row = (await c.store.snapshots.get(code))!;
    expect(await c.store.snapshots.save({ ...row, seq: row.seq + 5 })).toBe(true);
    expect(await n2.sessions.resumeFromSnapshots()).toBe(0);
    expect(n1.sessions.ownedCodes()).toEqual([code]);
    expect(n2.sessions.ownedCodes()).toEqual([]);
  });

  it('shows a game it has not received from the database, as the very record its owner wrote', async () => {
    // The database's clock runs a second ahead: a copy that took its time from the row would
    // differ.
    const c = await cluster(['n1', 'n2'], await sharedDb(() => Date.now() + 1000));
    await peersMet(c);
    const [n1, n2] = c.nodes as [TestNode, TestNode];
    c.repl.disconnect('n2');
    const created = await n1.sessions.create({ id: '1', name: 'ariadne' });
    if (!created.ok) throw new Error(created.message);
    expect(n2.sessions.game(created.code)).toBeUndefined();
    expect((await n2.sessions.awaitGame(created.code))?.code).toBe(created.code);
    expect(n2.replica.get(created.code)).toEqual(n1.replica.get(created.code));
    // When the record itself arrives, it is the same write: no two records under one version.
    c.repl.reconnect('n2');
    await n2.sync.catchUp(1000);
    expect(n2.replica.conflicts).toBe(0);
    expect(n2.replica.get(created.code)).toEqual(n1.replica.get(created.code));
  });

  it('says a game it does not know may exist while the database cannot be read (not "no such game")', async () => {
    const db = await sharedDb();
    const { ctl, store } = outage(db);
    const c = await cluster(['n1'], store);
    const [n1] = c.nodes as [TestNode];
    // A game saved by nodes that are gone (the whole cluster was stopped), not resumed yet.
    const created = await n1.sessions.create({ id: '1', name: 'ariadne' });
    if (!created.ok) throw new Error(created.message);
    const row = (await db.snapshots.get(created.code))!;
    await db.snapshots.save({
      ...row,
      code: 'GONE',
      gameId: 'game-gone',
      state: { ...row.state, code: 'GONE', id: 'game-gone' },
    });
    expect(await n1.sessions.pending('GONE')).toBe('resuming');
    expect(await n1.sessions.pending('NONE')).toBeNull();
    expect(await n1.sessions.pending(created.code)).toBeNull(); // shown here
    ctl.down = true;
    expect(await n1.sessions.pending('GONE')).toBe('unreachable');
    expect(await n1.sessions.pending('NONE')).toBe('unreachable');
    expect(await n1.sessions.pending(created.code)).toBeNull();
  });

  it('tells a game run beyond a network cut (its owner renews its lease) from one whose owner is gone', async () => {
    const c = await cluster(['n1', 'n2', 'n3'], undefined, { leaseMs: 60_000 });
    for (const n of c.nodes) await n.sessions.startLease();
    const code = await startedGame(c);
    const [n1, n2, n3] = c.nodes as [TestNode, TestNode, TestNode];
    n2.sessions.start();
    const heard: string[][] = [];
    n2.sessions.onBeyondCut((codes) => heard.push(codes));
    expect(await n2.sessions.ownerBeyondCut(code)).toBe(false); // the owner is a live peer
    // n2 is cut off from the owner; the owner still reaches the database (and n3).
    c.repl.cut('n1', 'n2');
    c.sess.cut('n1', 'n2');
    expect(n2.sessions.ownedCodes()).toEqual([]); // its lease keeps the game with n1
    // Seen once the owner renewed its lease after the cut (once a second).
    const deadline = Date.now() + 5000;
    while (!(await n2.sessions.ownerBeyondCut(code))) {
      if (Date.now() > deadline) throw new Error('the cut was not seen');
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => heard.some((codes) => codes.includes(code)), 3000);
    expect(await n3.sessions.ownerBeyondCut(code)).toBe(false); // n3 still reaches the owner
    expect(n1.sessions.ownedCodes()).toEqual([code]);
    // Healed: the owner is a live peer again.
    c.repl.connect('n1', 'n2');
    c.sess.connect('n1', 'n2');
    expect(await n2.sessions.ownerBeyondCut(code)).toBe(false);

    // An owner that stopped renewing (frozen or gone) is not beyond a cut: its lease runs out
    // and its games are taken over instead.
    n1.sessions.stop();
    c.repl.cut('n1', 'n3');
    c.sess.cut('n1', 'n3');
    const waitUntil = Date.now() + 2500;
    while (Date.now() < waitUntil) {
      expect(await n3.sessions.ownerBeyondCut(code)).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
