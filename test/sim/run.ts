// One simulated run: a cluster of real sessions/replication nodes on virtual time, players
// playing, and a fault schedule; then the checker. A schedule is plain data, generated from a
// seed or given explicitly, so a failing one can be shrunk and replayed.

import { pino } from 'pino';
import {
  openStorage,
  type GameResult,
  type Snapshot,
  type SnapshotVersion,
} from '../../src/db/index.js';
import { DEFAULT_BUSY_TIMEOUT_MS } from '../../src/db/sqlite.js';
import { createMetrics } from '../../src/metrics.js';
import { compareVersion } from '../../src/replication/record.js';
import { check, type CheckReport } from './checker.js';
import { SimClient } from './clients.js';
import { SimNetwork, type NetworkOptions } from './network.js';
import { SimNode, type LogEntry, type WriteTrace } from './node.js';
import { Rng, World } from './world.js';

/**
 * Picks a node: the owner of a game (by fraction of the games), or any running node (by fraction of
 * them).
 */
export type Target = { owner: number } | { node: number };

export type Fault =
  | { at: number; kind: 'kill'; who: Target; restartAfter?: number; sameId?: boolean }
  | { at: number; kind: 'stall'; who: Target; ms: number }
  | { at: number; kind: 'partition'; a: Target; b: Target; ms: number }
  /** The connection between two nodes reset (what was in flight on it lost); both redial. */
  | { at: number; kind: 'reset'; a: Target; b: Target }
  | { at: number; kind: 'isolate'; who: Target; ms: number }
  | { at: number; kind: 'replace'; who: Target }
  | {
      at: number;
      kind: 'cold-restart';
      downMs: number;
      nodes: number;
      spreadMs: number;
      kill: boolean;
    }
  | { at: number; kind: 'db-outage'; ms: number }
  /** One node cut off from the database (its mesh links stay up). */
  | { at: number; kind: 'db-cut'; who: Target; ms: number }
  /**
   * A network partition in two sides, the database on one of them: side A is the node `a` and
   * the next `size` share of the others (by id, wrapping), side B the rest; the side without
   * the database (A when `dbWithA` is false) is cut off from it too.
   */
  | { at: number; kind: 'split'; a: Target; size: number; dbWithA: boolean; ms: number }
  /**
   * One node's connection to the database drops after its statements ran, before their answers
   * came back: each call of that node, with probability `p`, takes effect and then fails as a
   * lost connection does (a save or a claim that was made while its maker was told it failed).
   */
  | { at: number; kind: 'db-reply-lost'; who: Target; p: number; ms: number }
  /** One node's wall clock steps by `ms` (ahead or behind) and stays there: a host set wrong. */
  | { at: number; kind: 'skew'; who: Target; ms: number }
  /**
   * One node frozen for `ms` (as `stall`) in the middle of a write to a database with one write
   * lock (the SQLite file the nodes of a host share): meanwhile every other node's database
   * calls wait for the lock, each up to LOCK_WAIT_MS, then fail as SQLITE_BUSY does.
   */
  | { at: number; kind: 'frozen-writer'; who: Target; ms: number };

export interface Schedule {
  nodes: number;
  games: number[];
  roundMs: number;
  network: Pick<NetworkOptions, 'drop' | 'duplicate' | 'reorder'>;
  faults: Fault[];
  /** Virtual ms of play after the start; then faults heal and the cluster settles. */
  playMs: number;
}

export interface RunResult extends CheckReport {
  seed: number;
  schedule: Schedule;
  events: number;
  virtualMs: number;
}

const target = (rng: Rng): Target =>
  rng.chance(0.6) ? { owner: round2(rng.next()) } : { node: round2(rng.next()) };
const round2 = (x: number): number => Math.floor(x * 100) / 100;

export const FAULT_KINDS = [
  'kill',
  'stall',
  'partition',
  'reset',
  'isolate',
  'replace',
  'cold-restart',
  'db-outage',
  'db-cut',
  'split',
  'db-reply-lost',
  'skew',
  'frozen-writer',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The faults of the mesh and its processes: every kind but the database's. */
export const MESH_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.filter(
  (k) => !['db-outage', 'db-cut', 'split', 'db-reply-lost', 'skew', 'frozen-writer'].includes(k),
);
/** Kinds drawn apart, each from a stream of its own (see generate). */
const APART: readonly FaultKind[] = ['split', 'db-reply-lost', 'skew', 'frozen-writer'];

/** How long a call waits for the write lock before it fails: the node's SQLite budget. */
const LOCK_WAIT_MS = DEFAULT_BUSY_TIMEOUT_MS;

/**
 * A random schedule for `seed`: a few faults (of every kind, or of `kinds`) over a minute of play.
 */
export function generate(seed: number, kinds: readonly FaultKind[] = FAULT_KINDS): Schedule {
  const rng = new Rng(seed ^ 0x5eed);
  const playMs = rng.int(30, 60) * 1000;
  const hostile = rng.chance(0.25);
  const faults: Fault[] = [];
  // A split and lost replies are drawn apart, each from a stream of its own, so that the
  // schedules of the other kinds stay what they were for every seed before they existed.
  const picked = kinds.filter((k) => !APART.includes(k));
  const count = picked.length > 0 ? rng.int(1, 4) : 0;
  for (let i = 0; i < count; i++) {
    const at = rng.int(3000, playMs - 2000);
    const kind = rng.pick(picked.includes('stall') ? [...picked, 'stall' as const] : picked);
    switch (kind) {
      case 'kill':
        faults.push({
          at,
          kind,
          who: target(rng),
          ...(rng.chance(0.8)
            ? { restartAfter: rng.int(500, 10_000), sameId: rng.chance(0.3) }
            : {}),
        });
        break;
      case 'stall':
        faults.push({ at, kind, who: target(rng), ms: rng.int(1000, 9000) });
        break;
      case 'partition':
        faults.push({ at, kind, a: target(rng), b: target(rng), ms: rng.int(1000, 12_000) });
        break;
      case 'reset':
        faults.push({ at, kind, a: target(rng), b: target(rng) });
        break;
      case 'isolate':
        faults.push({ at, kind, who: target(rng), ms: rng.int(1000, 12_000) });
        break;
      case 'replace':
        faults.push({ at, kind, who: target(rng) });
        break;
      case 'cold-restart':
        faults.push({
          at,
          kind,
          downMs: rng.int(200, 15_000),
          nodes: rng.int(1, 3),
          spreadMs: rng.pick([0, 0, 50, 300, 2000]),
          kill: rng.chance(0.5),
        });
        break;
      case 'db-outage':
        faults.push({ at, kind, ms: rng.int(500, 20_000) });
        break;
      case 'db-cut':
        faults.push({ at, kind, who: target(rng), ms: rng.int(1000, 15_000) });
        break;
    }
  }
  // Kinds drawn apart, each from a random stream of its own: one run in five of every kind has
  // each, and most runs of a list that names it.
  const apartChance = picked.length === 0 ? 1 : kinds.length >= FAULT_KINDS.length ? 0.2 : 0.8;
  const drawApart = (kind: FaultKind, salt: number, make: (r: Rng, at: number) => Fault): void => {
    const r = new Rng(seed ^ salt);
    if (kinds.includes(kind) && r.chance(apartChance))
      faults.push(make(r, r.int(3000, playMs - 2000)));
  };
  drawApart('split', 0x5b117, (r, at) => ({
    at,
    kind: 'split',
    a: target(r),
    size: round2(r.next()),
    dbWithA: r.chance(0.5),
    ms: r.int(2000, 15_000),
  }));
  drawApart('db-reply-lost', 0x1057, (r, at) => ({
    at,
    kind: 'db-reply-lost',
    who: target(r),
    p: r.pick([0.2, 0.5, 1]),
    ms: r.int(1000, 12_000),
  }));
  drawApart('skew', 0x5c3e, (r, at) => ({
    at,
    kind: 'skew',
    who: target(r),
    ms: r.pick([-30_000, -5000, -2000, -700, 700, 2000, 5000, 30_000]),
  }));
  drawApart('frozen-writer', 0xf20c, (r, at) => ({
    at,
    kind: 'frozen-writer',
    who: target(r),
    ms: r.pick([300, 1500, 4000, 6000, 12_000]),
  }));
  faults.sort((a, b) => a.at - b.at);
  return {
    nodes: rng.int(1, 3),
    games: Array.from({ length: rng.int(1, 3) }, () => rng.int(2, 4)),
    roundMs: rng.pick([1000, 2000, 2000, 5000]),
    network: hostile
      ? {
          drop: rng.pick([0.01, 0.03]),
          duplicate: rng.pick([0, 0.02]),
          reorder: rng.pick([0, 0.05]),
        }
      : { drop: 0, duplicate: 0, reorder: 0 },
    faults,
    playMs,
  };
}

export async function runSchedule(
  seed: number,
  schedule: Schedule,
  opts: { trace?: (line: string) => void } = {},
): Promise<RunResult> {
  const world = new World(seed);
  const trace = opts.trace ?? (() => undefined);
  const logger = pino({ level: 'silent' });
  // One database for every node, as the nodes of one host share a SQLite file.
  const storage = openStorage(
    { engine: 'sqlite', path: ':memory:' },
    { logger, now: () => world.now },
  );
  await storage.migrate();
  const { accounts } = storage;
  // The database as the nodes reach it: while an outage lasts every call fails (as a refused
  // connection does), alone or together with the mesh's faults; a node cut off from it alone
  // fails the same way while the others reach it.
  // A node whose replies are lost has each call run, then fail as a dropped connection does.
  // While a node frozen in a write holds the lock, the others' calls wait for it, then fail.
  const db = {
    down: false,
    cut: new Set<string>(),
    lost: new Map<string, { p: number; rng: Rng }>(),
    lockedBy: null as string | null,
    lockWaiters: [] as (() => void)[],
  };
  const unlock = (): void => {
    db.lockedBy = null;
    for (const wake of db.lockWaiters.splice(0)) wake();
  };
  const refused = (): Error =>
    Object.assign(new Error('connect ECONNREFUSED (database outage)'), { code: 'ECONNREFUSED' });
  const reset = (): Error =>
    Object.assign(new Error('read ECONNRESET (reply lost)'), { code: 'ECONNRESET' });
  const unreachable = (node: string): boolean => db.down || db.cut.has(node);
  const replyLost = (node: string): boolean => {
    const lost = db.lost.get(node);
    return lost !== undefined && lost.rng.chance(lost.p);
  };
  const busy = (): Error => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  const call = (node: string, run: () => unknown, landed?: (out: unknown) => void): unknown => {
    if (unreachable(node)) return Promise.reject(refused());
    if (db.lockedBy !== null && db.lockedBy !== node) {
      // Answered in the caller's process: held while it is paused, dropped once it is dead.
      const proc = nodes.find((n) => n.id === node && n.alive)?.proc;
      return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (fn: () => void) => () => {
          if (settled) return;
          settled = true;
          world.after(0, fn, proc);
        };
        db.lockWaiters.push(settle(() => resolve(call(node, run, landed))));
        world.after(
          LOCK_WAIT_MS,
          settle(() => reject(busy())),
        );
      });
    }
    if (!replyLost(node)) return run();
    return Promise.resolve(run()).then((out) => {
      landed?.(out);
      return Promise.reject(reset());
    });
  };
  // A claim that took effect while its node was told it failed: the database holds a record
  // that node may never send anyone (it may adopt the game again from it). The checker counts
  // it among the node's writes.
  const claimLanded =
    (node: string, args: unknown[]) =>
    (written: unknown): void => {
      const next = args[2] as Snapshot;
      if (written !== true) return;
      const { epoch: baseEpoch, owner: baseOwner, seq: baseSeq } = args[1] as SnapshotVersion;
      const { code: key, owner, epoch, seq, schema, state } = next;
      const record = { key, owner, epoch, seq, schema, state, at: next.at ?? world.now };
      const base = { epoch: baseEpoch, owner: baseOwner, seq: baseSeq };
      writes.push({ node, at: world.now, record, persist: false, replyLost: true, base });
    };
  const reachable = <T extends object>(target: T, node: string): T =>
    new Proxy(target, {
      get(obj, name, receiver) {
        const v = Reflect.get(obj, name, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]): unknown =>
          call(
            node,
            () => (v as (...a: unknown[]) => unknown).apply(obj, args),
            name === 'claim' ? claimLanded(node, args) : undefined,
          );
      },
    });
  const recorded = new Set<string>();
  const endedCodes = new Set<string>();
  const resultsOf = (node: string) => ({
    record: (r: GameResult): Promise<boolean> =>
      call(node, async () => {
        const written = await storage.results.record(r);
        recorded.add(r.gameId);
        endedCodes.add(r.code);
        return written;
      }) as Promise<boolean>,
  });
  const metrics = createMetrics('sim');
  const net = new SimNetwork(world, {
    heartbeatMs: 500,
    downAfterMs: 3000,
    reconnectGraceMs: 1000,
    latency: [0.2, 3],
    handshakeTimeoutMs: 3000,
    ...schedule.network,
  });
  const writes: WriteTrace[] = [];
  const logs: LogEntry[] = [];
  const nodes: SimNode[] = [];
  let nextNode = 1;
  let codeIndex = 0;
  const nextCode = (): string => {
    let i = codeIndex++;
    let code = '';
    for (let k = 0; k < 4; k++, i = Math.floor(i / 26))
      code = String.fromCharCode(65 + (i % 26)) + code;
    return code;
  };
  const running = (): SimNode[] => nodes.filter((n) => n.alive);
  const ready = (): SimNode[] => running().filter((n) => n.state === 'ready' && !n.proc.paused);
  const clients: SimClient[] = [];
  const newNode = (id = `n${nextNode++}`): SimNode => {
    const node = new SimNode(id, {
      world,
      net,
      snapshots: reachable(storage.snapshots, id),
      leases: reachable(storage.leases, id),
      results: resultsOf(id),
      metrics,
      // Like Swarm: a task enters DNS once its health check passed (up to a couple of seconds after
      // it is ready).
      dns: () =>
        running()
          .filter(
            (n) =>
              n.state === 'ready' &&
              n.readyAt !== undefined &&
              world.now - n.readyAt >= n.healthDelayMs,
          )
          .map((n) => n.id),
      roundMs: schedule.roundMs,
      drainWindowMs: 2000,
      writes,
      logs,
      nextCode,
    });
    nodes.push(node);
    trace(`${world.now - start} start ${id}`);
    node.start();
    return node;
  };
  const start = world.now;

  // Clients on a node that dies or drains lose their socket and reconnect.
  const dropClientsOf = (node: SimNode): void => {
    for (const c of clients) if (c.node === node) c.dropped();
  };
  const resolve = (t: Target): SimNode | undefined => {
    const live = running().sort((a, b) => (a.id < b.id ? -1 : 1));
    if (live.length === 0) return undefined;
    if ('node' in t) return live[Math.floor(t.node * live.length)];
    const codes = [...new Set(clients.map((c) => c.code))].sort();
    const code = codes[Math.floor(t.owner * codes.length)];
    const owner = code ? live.find((n) => n.sessions.ownedCodes().includes(code)) : undefined;
    return owner ?? live[Math.floor(t.owner * live.length)];
  };

  for (let i = 0; i < schedule.nodes; i++) newNode();
  await world.runUntil(world.now + 4000);

  // Players sign up, one of each group creates a game, the others join, the creator starts it.
  const codes: string[] = [];
  let playerNo = 0;
  for (const size of schedule.games) {
    const players: { id: string; name: string }[] = [];
    for (let i = 0; i < size; i++) {
      const name = `p${++playerNo}`;
      const made = await accounts.create(name, 'x');
      if (!made.ok) throw new Error(made.message);
      players.push({ id: made.account.id, name });
    }
    const host = world.rng.pick(ready());
    let code: string | undefined;
    world.after(
      1,
      () => {
        void host.sessions.create(players[0]!).then(async (out) => {
          if (!out.ok) return;
          code = out.code;
          for (const p of players.slice(1))
            await host.sessions.execute(out.code, { kind: 'join', player: p });
          await host.sessions.execute(out.code, { kind: 'start', playerId: players[0]!.id });
        });
      },
      host.proc,
    );
    for (let i = 0; i < 20 && code === undefined; i++) await world.runUntil(world.now + 500);
    if (code === undefined) throw new Error(`game for ${players[0]!.name} was not created`);
    codes.push(code);
    for (const p of players) {
      const c = new SimClient(
        {
          world,
          ready,
          latency: () => 0.2 + world.rng.next() * 5,
          ended: (c) => endedCodes.has(c),
        },
        p.id,
        p.name,
        code,
      );
      clients.push(c);
      c.connect(world.rng.int(0, 300));
    }
  }
  trace(`${world.now - start} games ${codes.join(',')}`);

  // Faults.
  const t0 = world.now;
  for (const f of schedule.faults) {
    world.schedule(t0 + f.at, () => {
      switch (f.kind) {
        case 'kill': {
          const n = resolve(f.who);
          if (!n) return;
          trace(`${world.now - start} SIGKILL ${n.id}`);
          n.kill();
          if (db.lockedBy === n.id) unlock(); // the lock dies with its process
          dropClientsOf(n);
          if (f.restartAfter !== undefined) {
            const id = f.sameId ? n.id : undefined;
            world.after(f.restartAfter, () => {
              if (id && running().some((x) => x.id === id)) return;
              newNode(id);
            });
          }
          return;
        }
        case 'stall': {
          const n = resolve(f.who);
          if (!n || n.proc.paused) return;
          trace(`${world.now - start} SIGSTOP ${n.id} for ${f.ms} ms`);
          world.pause(n.proc);
          world.after(f.ms, () => {
            trace(`${world.now - start} SIGCONT ${n.id}`);
            world.resume(n.proc);
          });
          return;
        }
        case 'partition': {
          const a = resolve(f.a);
          const b = resolve(f.b);
          if (!a || !b || a === b) return;
          trace(`${world.now - start} partition ${a.id} | ${b.id} for ${f.ms} ms`);
          net.partition(a.id, b.id);
          world.after(f.ms, () => net.heal(a.id, b.id));
          return;
        }
        case 'reset': {
          const a = resolve(f.a);
          const b = resolve(f.b);
          if (!a || !b || a === b) return;
          if (net.reset(a.id, b.id)) trace(`${world.now - start} reset ${a.id} — ${b.id}`);
          return;
        }
        case 'isolate': {
          const n = resolve(f.who);
          if (!n) return;
          const others = nodes.filter((x) => x !== n).map((x) => x.id);
          trace(`${world.now - start} isolate ${n.id} for ${f.ms} ms`);
          for (const o of others) net.partition(n.id, o);
          world.after(f.ms, () => {
            for (const o of others) net.heal(n.id, o);
          });
          return;
        }
        case 'replace': {
          const old = resolve(f.who);
          if (!old || old.state !== 'ready') return;
          const fresh = newNode();
          trace(`${world.now - start} replace ${old.id} by ${fresh.id}`);
          const waitReady = (): void => {
            if (fresh.state === 'ready' || !fresh.alive) {
              trace(`${world.now - start} SIGTERM ${old.id}`);
              old.drain(() => dropClientsOf(old));
            } else world.after(100, waitReady);
          };
          world.after(100, waitReady);
          return;
        }
        case 'db-outage': {
          if (db.down) return;
          trace(`${world.now - start} database down for ${f.ms} ms`);
          db.down = true;
          world.after(f.ms, () => {
            trace(`${world.now - start} database back`);
            db.down = false;
          });
          return;
        }
        case 'split': {
          const first = resolve(f.a);
          const live = running().sort((x, y) => (x.id < y.id ? -1 : 1));
          if (!first || live.length < 2) return;
          const i = live.indexOf(first);
          const more = Math.min(live.length - 2, Math.floor(f.size * (live.length - 1)));
          const sideA = Array.from({ length: more + 1 }, (_, j) => live[(i + j) % live.length]!);
          const sideB = live.filter((n) => !sideA.includes(n));
          const names = (side: SimNode[]) => side.map((n) => n.id).join(',');
          const cutOff = (f.dbWithA ? sideB : sideA)
            .map((n) => n.id)
            .filter((id) => !db.cut.has(id));
          trace(
            `${world.now - start} split ${names(sideA)} | ${names(sideB)} for ${f.ms} ms, the database with ${f.dbWithA ? names(sideA) : names(sideB)}`,
          );
          for (const a of sideA) for (const b of sideB) net.partition(a.id, b.id);
          for (const id of cutOff) db.cut.add(id);
          world.after(f.ms, () => {
            trace(`${world.now - start} split healed`);
            for (const a of sideA) for (const b of sideB) net.heal(a.id, b.id);
            for (const id of cutOff) db.cut.delete(id);
          });
          return;
        }
        case 'db-reply-lost': {
          const n = resolve(f.who);
          if (!n || db.lost.has(n.id)) return;
          const id = n.id;
          trace(
            `${world.now - start} ${id} loses ${f.p * 100} % of its database replies for ${f.ms} ms`,
          );
          db.lost.set(id, { p: f.p, rng: new Rng(seed ^ f.at) });
          world.after(f.ms, () => {
            trace(`${world.now - start} ${id} gets its database replies again`);
            db.lost.delete(id);
          });
          return;
        }
        case 'skew': {
          const n = resolve(f.who);
          if (!n) return;
          trace(`${world.now - start} ${n.id}'s clock steps ${f.ms} ms`);
          n.proc.offset += f.ms;
          return;
        }
        case 'frozen-writer': {
          const n = resolve(f.who);
          if (!n || n.proc.paused || db.lockedBy !== null) return;
          trace(`${world.now - start} SIGSTOP ${n.id} holding the write lock for ${f.ms} ms`);
          world.pause(n.proc);
          db.lockedBy = n.id;
          world.after(f.ms, () => {
            trace(`${world.now - start} SIGCONT ${n.id}, the write lock released`);
            unlock();
            world.resume(n.proc);
          });
          return;
        }
        case 'db-cut': {
          const n = resolve(f.who);
          if (!n || db.cut.has(n.id)) return;
          const id = n.id;
          trace(`${world.now - start} ${id} cut off from the database for ${f.ms} ms`);
          db.cut.add(id);
          world.after(f.ms, () => {
            trace(`${world.now - start} ${id} reaches the database again`);
            db.cut.delete(id);
          });
          return;
        }
        case 'cold-restart': {
          const all = running();
          trace(
            `${world.now - start} cold restart: ${f.kill ? 'SIGKILL' : 'SIGTERM'} ${all.map((n) => n.id).join(',')}, ${f.nodes} new after ${f.downMs} ms`,
          );
          for (const n of all) {
            if (f.kill) {
              n.kill();
              if (db.lockedBy === n.id) unlock();
              dropClientsOf(n);
            } else n.drain(() => dropClientsOf(n));
          }
          world.after(f.downMs, () => {
            for (let i = 0; i < f.nodes; i++)
              world.after(f.spreadMs === 0 ? 0 : world.rng.int(0, f.spreadMs), () => newNode());
          });
          return;
        }
      }
    });
  }
  await world.runUntil(t0 + schedule.playMs);

  // Heal everything and let the cluster settle: no more lost messages, thaw, reconnect, at least
  // one node running.
  net.healAll();
  net.calm();
  db.down = false;
  db.cut.clear();
  db.lost.clear();
  unlock();
  for (const n of nodes) if (n.proc.paused) world.resume(n.proc);
  if (running().length === 0) newNode();
  await world.runUntil(world.now + 15_000);
  if (ready().length === 0) newNode();
  await world.runUntil(world.now + 10_000);
  for (const c of clients) c.stop();
  await world.runUntil(world.now + 15_000);
  // Replicas agree eventually, not at every instant: rounds still resolve on their deadlines and
  // each write takes a moment to reach every node. Check at an instant when they agree, waiting
  // up to two anti-entropy periods for one (a replica that never catches up is still reported).
  const agree = (): boolean =>
    codes.every((code) => {
      const held = ready().map((n) => n.replica.getAny(code));
      return held.every((r) =>
        r === undefined
          ? held[0] === undefined
          : held[0] !== undefined && compareVersion(r, held[0]) === 0,
      );
    });
  for (let waited = 0; waited < 10_000 && !agree(); waited += 50)
    await world.runUntil(world.now + 50);

  if (process.env.SIM_LOGS)
    for (const l of logs)
      if (l.level >= Number(process.env.SIM_LOGS))
        console.log(l.at - start, l.node, l.msg, l.err ? JSON.stringify(l.err).slice(0, 300) : '');
  const report = check({ codes, clients, writes, logs, nodes: ready(), recorded });
  for (const n of running()) n.stop();
  await storage.close();
  return {
    ...report,
    seed,
    schedule,
    events: world.events,
    virtualMs: world.now - start,
  };
}

export function runSeed(
  seed: number,
  opts: { trace?: (line: string) => void; kinds?: readonly FaultKind[] } = {},
): Promise<RunResult> {
  return runSchedule(seed, generate(seed, opts.kinds), opts);
}

/** Removes faults one at a time while the run still fails: a shorter schedule to replay. */
export async function shrink(seed: number, schedule: Schedule): Promise<Schedule> {
  let best = schedule;
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < best.faults.length; i++) {
      const candidate: Schedule = { ...best, faults: best.faults.filter((_, j) => j !== i) };
      if ((await runSchedule(seed, candidate)).violations.length > 0) {
        best = candidate;
        changed = true;
        break;
      }
    }
    if (
      !changed &&
      (best.network.drop > 0 || best.network.duplicate > 0 || best.network.reorder > 0)
    ) {
      const calm: Schedule = { ...best, network: { drop: 0, duplicate: 0, reorder: 0 } };
      if ((await runSchedule(seed, calm)).violations.length > 0) {
        best = calm;
        changed = true;
      }
    }
  }
  return best;
}
