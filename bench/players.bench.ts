// Benchmark (not a timed test): players per node. Run: npx tsx bench/players.bench.ts [--quick]
//
// Steps of 250, 1,000, 2,000 and 5,000 players on one node (a fresh node and database per
// step): games of five, 2-second rounds, each player acting once per round at a random moment
// of the round (a defend, a move or an attack), so a round ends when the fifth player acts or on
// its deadline. The players are one load client in a process of its own (bench/players-client.ts,
// plain `ws`), so the node has one core and the client the other (the machine has two; nothing
// else of the benchmark runs meanwhile).
//
// Per step, over a measured window after a warm-up:
//   - act → update: a player's action until each other player of the game receives the update
//     that shows it (p50/p95/p99), and until the acting player sees it; act → ack;
//   - bytes on the wire per message kind (own action: the ack and the update; other's action;
//     round resolved; first render), median and p99;
//   - refusals, and late refusals: `stale-round` for an action sent before its round's deadline;
//   - node CPU (from /proc), RSS, heap, event-loop delay; the client's CPU and event-loop delay.
// Baseline, same run, same client, same players: a bare `ws` server (bench/players-raw-server.ts)
// that plays the same rounds and sends messages of the sizes the node sent, per kind.
//
// BENCH_PLAYERS_STEPS=250,1000 picks steps; BENCH_PROFILE_DIR=dir records a CPU profile of the
// node over each step's window (through the inspector) and prints its top functions and how its
// busy time came (stretches with no idle moment between), and with BENCH_HEAP_SITES=1 also the
// heap still held at the window's end by allocation site, with BENCH_HEAP_SITES=alloc what was
// allocated over the window by site, freed or not, with =survived what of it outlived a young
// collection (sampling costs the node CPU), with =diff two heap snapshots a second apart after
// the window (the players play on) and what the node still holds of that second (heap-diff.ts);
// BENCH_LIVE_COMPRESSION=off|large|on runs the node with that LIVE_COMPRESSION (default: the
// node's default, large; the client offers permessage-deflate as browsers do; bytes are what
// crossed the wire, compressed or not); BENCH_CLIENT_DEFLATE=all makes the pages compress every
// message they send, as Chromium does (by default only those of 1 KiB and more: none);
// BENCH_SQLITE_SYNCHRONOUS=full runs it with SQLITE_SYNCHRONOUS=full (every commit waits for the
// disk);
// BENCH_PLAYERS_PROCESSES=2 makes the node under test two processes (a cluster of two nodes on
// this host, one SQLite file), with pages spread over them in turn, or, with
// BENCH_PLAYERS_ROUTE=owner, each game's pages on the process that runs the game.

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminGame } from '../test/support/admin.js';
import type { TemplateTable } from '../test/support/live-page.js';
import { TestCluster, waitForPeers } from '../test/support/cluster.js';
import { freePort, startNode, tempDir, type NodeProcess } from '../test/support/node-process.js';
import type { ClientInit, ClientStats, Dist, Lobby, Seat } from './players-client.js';
import type { RawInit } from './players-raw-server.js';
import { heapDiff, type HeapDiff } from './heap-diff.js';
import {
  Profiler,
  busyStretches,
  summarise,
  type BusyStretches,
  type HeapMode,
} from './profile.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  metric,
  metrics,
  onCleanup,
  openGame,
  PLAYERS_MIX,
  pool,
  runBench,
  signupMany,
  liveSocketPath,
  sleep,
  table,
  track,
} from './support.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const STEPS = (process.env.BENCH_PLAYERS_STEPS ?? (QUICK ? '50,250' : '250,1000,2000,5000'))
  .split(',')
  .map(Number);
const PER_GAME = 5;
const ROUND_MS = 2000;
const WARMUP_MS = QUICK ? 4000 : 6000;
const WINDOW_MS = QUICK ? 6000 : 20_000;
const HOST = '127.0.0.2';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/**
 * With BENCH_PROFILE_DIR: also sample the heap (it costs the node a fifth more CPU or so), for
 * what is held at the window's end (BENCH_HEAP_SITES=1), what was allocated over it (=alloc), or
 * what of that outlived a young-generation collection (=survived).
 */
const HEAP_MODE: HeapMode | null =
  (
    { '1': 'held', alloc: 'alloc', survived: 'survived', diff: 'diff' } as Record<
      string,
      HeapMode | undefined
    >
  )[process.env.BENCH_HEAP_SITES ?? ''] ?? null;
/** The heap sampler's mode, when HEAP_MODE samples (not =diff, which takes snapshots). */
const SAMPLING: Exclude<HeapMode, 'diff'> | null = HEAP_MODE === 'diff' ? null : HEAP_MODE;
/**
 * BENCH_NODE_LOG=path: each node's output, and its /metrics at the end of the window, are written
 * to path-<players>.log after its step.
 */
const NODE_LOG = process.env.BENCH_NODE_LOG;
/** Options for the node under test (BENCH_NODE_OPTIONS, e.g. a garbage collector setting). */
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '';
/** BENCH_PLAYERS_WIRE=html: sockets ask for whole partials, as pages of earlier releases did. */
const WIRE = process.env.BENCH_PLAYERS_WIRE === 'html' ? 'html' : 'page';
/**
 * BENCH_PLAYERS_TABLE=off: pages do not hold the release's template table (as pages whose script
 * did not load), so they are sent each template's fixed text the first time they need it.
 */
const TABLE = WIRE === 'page' && process.env.BENCH_PLAYERS_TABLE !== 'off';
/**
 * BENCH_CLIENT_DEFLATE=all: the pages compress every message they send once the node agrees, as
 * Chromium does. Off by default: the load client's ws compresses on the thread pool, at most ten
 * messages at a time for the whole process, so at 2,000 pages and more its actions leave late
 * (late refusals the node is not the cause of), and its CPU is taken from the node's two cores.
 */
const CLIENT_DEFLATE_ALL = process.env.BENCH_CLIENT_DEFLATE === 'all';
/** BENCH_LIVE_COMPRESSION=off|large|on: which messages the node compresses (LIVE_COMPRESSION). */
const COMPRESSION = ((v) => (v === 'on' || v === 'off' ? v : 'large'))(
  process.env.BENCH_LIVE_COMPRESSION,
);
/** BENCH_SQLITE_SYNCHRONOUS=full: the node's commits wait for the disk (SQLITE_SYNCHRONOUS). */
const SYNCHRONOUS = process.env.BENCH_SQLITE_SYNCHRONOUS === 'full' ? 'full' : 'normal';
/**
 * BENCH_PLAYERS_PROCESSES=2: the node under test is that many processes (a cluster of that many
 * nodes on this host, pages spread over them), measured against the same single raw server.
 */
const PROCESSES = Number(process.env.BENCH_PLAYERS_PROCESSES ?? '1');
if (!Number.isInteger(PROCESSES) || PROCESSES < 1 || PROCESSES > 4)
  throw new Error('BENCH_PLAYERS_PROCESSES must be 1, 2, 3 or 4');
/** How pages find a process: the next one for each page (spread), or the game's owner. */
const ROUTE = process.env.BENCH_PLAYERS_ROUTE === 'owner' ? 'owner' : 'spread';
/**
 * BENCH_PLAYERS_LOBBIES=N: N more accounts keep the lobby open during the step (people between
 * games), a lobby socket each; the step reports what each received.
 */
const LOBBIES = Number(process.env.BENCH_PLAYERS_LOBBIES ?? '0');
if (!Number.isInteger(LOBBIES) || LOBBIES < 0 || LOBBIES > 5000)
  throw new Error('BENCH_PLAYERS_LOBBIES must be a whole number from 0 to 5000');
/**
 * BENCH_PLAYERS_SPECTATORS=N: N more accounts watch games during the step, a game page each,
 * spread over the first BENCH_PLAYERS_WATCHED games (default: all of them; 1 puts every
 * spectator on one game, as a streamed game would). The step reports act → each spectator's
 * update and what each received; the bare server sends them the same messages.
 */
const SPECTATORS = Number(process.env.BENCH_PLAYERS_SPECTATORS ?? '0');
if (!Number.isInteger(SPECTATORS) || SPECTATORS < 0 || SPECTATORS > 5000)
  throw new Error('BENCH_PLAYERS_SPECTATORS must be a whole number from 0 to 5000');
const WATCHED = Number(process.env.BENCH_PLAYERS_WATCHED ?? '0');
if (!Number.isInteger(WATCHED) || WATCHED < 0)
  throw new Error('BENCH_PLAYERS_WATCHED must be a whole number (0: every game)');

interface GcPauses {
  /** Young-generation collections per second, and their mean pause. */
  minorPerS: number;
  minorMeanMs: number;
  /** Full collections in the window, and their mean pause. */
  major: number;
  majorMeanMs: number;
}

/** The pauses between two scrapes of /metrics (prom-client's gc histogram, by kind). */
function gcPauses(before: string[], after: string[], windowS: number): GcPauses {
  const delta = (kind: string, what: 'sum' | 'count') =>
    after.reduce((total, m, i) => {
      const name = `minotaur_nodejs_gc_duration_seconds_${what}`;
      return (
        total + (metric(m, name, { kind }) ?? 0) - (metric(before[i] ?? '', name, { kind }) ?? 0)
      );
    }, 0);
  const minor = delta('minor', 'count');
  const major = delta('major', 'count');
  return {
    minorPerS: minor / windowS,
    minorMeanMs: minor ? (delta('minor', 'sum') * 1000) / minor : 0,
    major,
    majorMeanMs: major ? (delta('major', 'sum') * 1000) / major : 0,
  };
}

/**
 * The node's /health_check as a load balancer sees it over the window: asked once a second
 * (HAProxy's `inter` in deploy/haproxy.cfg), each answer timed. An answer slower than the
 * balancer's `timeout check` (3 s), or none, is a failed check: three in a row mark the node
 * down and cut its players' connections.
 */
interface HealthChecks {
  asked: number;
  p50Ms: number;
  maxMs: number;
  /** Not 200 (the node is ready throughout), or slower than 3 s. */
  failed: number;
}

const CHECK_TIMEOUT_MS = 3000;

function checkHealth(url: string): { stop(): Promise<HealthChecks> } {
  const times: number[] = [];
  let failed = 0;
  const done = new AbortController();
  const loop = (async () => {
    while (!done.signal.aborted) {
      const t0 = performance.now();
      const ok = await fetch(`${url}/health_check`, { signal: AbortSignal.timeout(10_000) })
        .then(async (res) => {
          await res.arrayBuffer();
          return res.status === 200;
        })
        .catch(() => false);
      const took = performance.now() - t0;
      times.push(took);
      if (!ok || took > CHECK_TIMEOUT_MS) failed++;
      await sleep(Math.max(0, 1000 - took));
    }
  })();
  return {
    async stop() {
      done.abort();
      await loop;
      const sorted = [...times].sort((a, b) => a - b);
      return {
        asked: sorted.length,
        p50Ms: sorted[Math.floor(sorted.length / 2)] ?? NaN,
        maxMs: sorted.at(-1) ?? NaN,
        failed,
      };
    },
  };
}

/** Rounds resolved after their deadline over the window, and how late. */
interface LateRounds {
  count: number;
  meanMs: number;
  /** Resolved more than 100 ms, and more than 1 s, after their deadline. */
  over100ms: number;
  over1s: number;
}

/** The node's minotaur_round_late_seconds between two scrapes (its processes together). */
function lateRounds(before: string[], after: string[]): LateRounds {
  const name = 'minotaur_round_late_seconds';
  const delta = (suffix: string, labels?: Record<string, string>) =>
    after.reduce(
      (total, m, i) =>
        total +
        (metric(m, `${name}_${suffix}`, labels) ?? 0) -
        (metric(before[i] ?? '', `${name}_${suffix}`, labels) ?? 0),
      0,
    );
  const count = delta('count');
  return {
    count,
    meanMs: count ? (delta('sum') * 1000) / count : 0,
    over100ms: count - delta('bucket', { le: '0.1' }),
    over1s: count - delta('bucket', { le: '1' }),
  };
}

interface Side {
  stats: ClientStats;
  cpu: number;
  rssMB: number;
  heapMB: number | null;
  loopP99Ms: number | null;
  /** The garbage collector's pauses over the window (the node's processes together). */
  gc: GcPauses | null;
  /** The first process's health check over the window (the node under test only). */
  health?: HealthChecks;
  /** Rounds resolved after their deadline over the window (the node under test only). */
  late?: LateRounds;
  sockets: number;
  failed: number;
  firstBytes: Dist;
  setupS: number;
}

interface StepResult {
  players: number;
  games: number;
  app: Side;
  raw: Side;
  /** One CPU profile per process of the node (BENCH_PROFILE_DIR). */
  profiles?: {
    busy: number;
    rows: { name: string; share: number; busyShare: number }[];
    stretches: BusyStretches;
    /** The heap sampled by allocation site, in BENCH_HEAP_SITES's mode (see HEAP_MODE). */
    heap?: { total: number; rows: { name: string; bytes: number }[] };
    /** With BENCH_HEAP_SITES=diff: what the node kept of a second's allocations, by holder. */
    diff?: HeapDiff;
    file: string;
  }[];
}

// ── processes ─────────────────────────────────────────────────────────────────────────────

const children = new Set<ChildProcess>();
onCleanup(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function forkChild(file: string): ChildProcess {
  const child = fork(join(HERE, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { PATH: process.env.PATH ?? '' },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no ${type} from child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const on = (m: { type?: string }) => {
      if (m.type !== type) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.once('exit', (c) => reject(new Error(`child exited (${c}) waiting for ${type}`)));
  });
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime in clock ticks (USER_HZ = 100)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ── one side of a step: the client against a server ─────────────────────────────────────────

async function drive(
  base: string,
  seats: Seat[],
  pids: number[],
  startGames: () => Promise<void>,
  around: { before?: () => Promise<void>; after?: () => Promise<void> } = {},
  lobbies: Lobby[] = [],
  table?: TemplateTable,
): Promise<Omit<Side, 'heapMB' | 'loopP99Ms' | 'gc' | 'setupS'>> {
  const client = forkChild('players-client.ts');
  const init: ClientInit = {
    type: 'init',
    base: base.replace(/^http/, 'ws'),
    origin: base,
    seats,
    roundMs: ROUND_MS,
    marginMs: 250,
    ...PLAYERS_MIX,
    connectParallel: 32,
    lobbies,
    ...(table ? { table } : {}),
    deflateAll: CLIENT_DEFLATE_ALL,
  };
  const connected = nextMessage<{ failed: number; sockets: number; first: Dist }>(
    client,
    'connected',
    180_000,
  );
  client.send(init);
  const c = await connected;
  await startGames();
  await sleep(WARMUP_MS);
  await around.before?.();
  const cpuAll = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpu0 = cpuAll();
  const t0 = Date.now();
  client.send({ type: 'measure' });
  await sleep(WINDOW_MS);
  const statsP = nextMessage<ClientStats>(client, 'stats', 30_000);
  client.send({ type: 'report' });
  const cpu1 = cpuAll();
  const t1 = Date.now();
  const rss = pids.reduce((sum, pid) => sum + rssMB(pid), 0);
  await around.after?.();
  const stats = await statsP;
  client.send({ type: 'stop' });
  return {
    stats,
    cpu: (cpu1 - cpu0) / ((t1 - t0) / 1000),
    rssMB: rss,
    sockets: c.sockets,
    failed: c.failed,
    firstBytes: c.first,
  };
}

// ── the node ──────────────────────────────────────────────────────────────────────────────

async function appSide(
  players: number,
): Promise<{ side: Side; seats: Seat[]; profiles?: StepResult['profiles'] }> {
  const setup0 = Date.now();
  const env = {
    ...NODE_ENV_BASE,
    PASSWORD_COST: '10',
    ROUND_SECONDS: String(ROUND_MS / 1000),
    LIVE_COMPRESSION: COMPRESSION,
    SQLITE_SYNCHRONOUS: SYNCHRONOUS,
  };
  // Each process's inspector on a port of its own choosing (its log line gives the address).
  const options = [NODE_OPTIONS, PROFILE_DIR ? `--inspect=${HOST}:0` : ''].filter(Boolean);
  const nodeOptions: Record<string, string> = options.length
    ? { NODE_OPTIONS: options.join(' ') }
    : {};
  let nodes: NodeProcess[];
  let cluster: TestCluster | null = null;
  if (PROCESSES === 1) {
    const port = await freePort([HOST]);
    nodes = [
      track(
        startNode({
          host: HOST,
          port,
          nodeId: `players${players}`,
          databasePath: join(tempDir('minotaur-bench-players-'), 'minotaur.db'),
          env: { ...env, ...nodeOptions },
        }),
      ),
    ];
  } else {
    // A node of several processes, as a cluster of that many nodes on one host: loopback
    // addresses, one SQLite file, the mesh between them.
    const hosts = Array.from({ length: PROCESSES }, (_, i) => `127.0.0.${i + 2}`);
    cluster = await TestCluster.start(hosts, { env: { ...env, ...nodeOptions } });
    nodes = cluster.nodes.map(track);
    await Promise.all(
      nodes.map((n, i) =>
        waitForPeers(
          n,
          nodes.filter((_, j) => j !== i).map((m) => m.opts.nodeId ?? ''),
        ),
      ),
    );
  }
  const node = nodes[0]!;
  await node.ready(30_000);
  const accounts = await signupMany(node.url, players, 'pl', 32);
  const groups = Array.from({ length: Math.ceil(players / PER_GAME) }, (_, g) =>
    accounts.slice(g * PER_GAME, (g + 1) * PER_GAME),
  );
  // With several processes, games are opened on each in turn (a balancer's round robin).
  if (PROCESSES > 1)
    groups.forEach((ps, g) => ps.forEach((p) => (p.base = nodes[g % PROCESSES]!.url)));
  const codes = await pool(groups, 16, (ps) => openGame(ps, false));
  // The template table, loaded once as a browser loads and keeps the script its pages name.
  const table = TABLE ? await accounts[0]!.templates() : undefined;
  // BENCH_PLAYERS_ROUTE=owner: each game's pages on the process that runs the game.
  const owners =
    PROCESSES > 1 && ROUTE === 'owner'
      ? await pool(codes, 16, async (code) => {
          const { owner } = await adminGame(node.url, code);
          const at = nodes.find((n) => n.opts.nodeId === owner);
          if (!at) throw new Error(`game ${code}: owner ${owner} is not a process of this node`);
          return at.url;
        })
      : [];
  // The live socket's path as the game page gives it (with the wire format the page asks for).
  const paths = await pool(groups, 16, async (ps, g) => {
    const path = await liveSocketPath(ps[0]!, `/games/${codes[g]}`, table);
    return WIRE === 'html' ? path.split('?')[0]! : path;
  });
  // With several processes, pages are spread over them as a balancer would (the next seat, the
  // next process), so most games have players on every process.
  let seated = 0;
  const seats: Seat[] = groups.flatMap((ps, g) =>
    ps.map((p) => ({
      cookie: p.cookie,
      code: codes[g]!,
      name: p.username,
      path: paths[g]!,
      ...(PROCESSES > 1
        ? { base: ROUTE === 'owner' ? owners[g]! : nodes[seated++ % PROCESSES]!.url }
        : {}),
    })),
  );
  // BENCH_PLAYERS_SPECTATORS: accounts that watch, spread over the first WATCHED games.
  const watched = WATCHED > 0 ? Math.min(WATCHED, codes.length) : codes.length;
  seats.push(
    ...(await pool(await signupMany(node.url, SPECTATORS, 'sp', 32), 16, async (p, i) => {
      const g = i % watched;
      const path = await liveSocketPath(p, `/games/${codes[g]}`, table);
      return {
        cookie: p.cookie,
        code: codes[g]!,
        name: p.username,
        path: WIRE === 'html' ? path.split('?')[0]! : path,
        watch: true,
        ...(PROCESSES > 1 ? { base: ROUTE === 'owner' ? owners[g]! : node.url } : {}),
      };
    })),
  );
  // BENCH_PLAYERS_LOBBIES: accounts that keep the lobby open, each with the socket its page opens.
  const lobbies: Lobby[] = await pool(
    await signupMany(node.url, LOBBIES, 'lb', 32),
    16,
    async (p) => ({ cookie: p.cookie, path: await liveSocketPath(p, '/lobby', table) }),
  );
  const setupS = (Date.now() - setup0) / 1000;
  console.log(`  ${players} players: signed up and seated in ${fmt(setupS, 0)} s`);

  const startGames = async (): Promise<void> => {
    // Spread over one round, as games started by people would be.
    const t0 = Date.now();
    await pool(groups, 32, async (ps, g) => {
      const wait = t0 + (g * ROUND_MS) / groups.length - Date.now();
      if (wait > 0) await sleep(wait);
      const res = await ps[0]!.start(codes[g]!);
      if (res.status !== 303) throw new Error(`start ${codes[g]}: ${res.status}`);
    });
  };

  const profilers: Profiler[] = [];
  let m0: string[] = [];
  let m1: string[] = [];
  let checks: ReturnType<typeof checkHealth> | null = null;
  let health: HealthChecks | undefined;
  const profiles: NonNullable<StepResult['profiles']> = [];
  const side = await drive(
    node.url,
    seats,
    nodes.map((n) => n.child.pid!),
    startGames,
    {
      before: async () => {
        // A scrape resets prom-client's event-loop delay histogram: the next one covers the window.
        m0 = await Promise.all(nodes.map((n) => metrics(n.url)));
        checks = checkHealth(node.url);
        if (PROFILE_DIR)
          for (const n of nodes) {
            const line = n.raw.find((l) => l.includes('Debugger listening on'));
            const url = line?.match(/ws:\/\/\S+/)?.[0];
            if (!url) continue;
            const profiler = new Profiler();
            await profiler.attach(url);
            if (SAMPLING) await profiler.startHeapSampling(SAMPLING);
            await profiler.start();
            profilers.push(profiler);
          }
      },
      after: async () => {
        health = await checks?.stop();
        for (const [i, profiler] of profilers.entries()) {
          mkdirSync(PROFILE_DIR!, { recursive: true });
          const name = `players-${players}${PROCESSES > 1 ? `-p${i + 1}` : ''}-${Date.now()}`;
          const file = join(PROFILE_DIR!, `${name}.cpuprofile`);
          const p = await profiler.stop(file);
          let diff: HeapDiff | undefined;
          if (HEAP_MODE === 'diff') {
            // The players play on after the window: what the node keeps of a second of it.
            const [a, b] = ['a', 'b'].map((x) =>
              file.replace(/\.cpuprofile$/, `-${x}.heapsnapshot`),
            );
            await profiler.heapSnapshot(a!);
            await sleep(1000);
            await profiler.heapSnapshot(b!);
            diff = heapDiff(a!, b!);
          }
          const heap = SAMPLING
            ? await profiler.heapBySite(SAMPLING, file.replace(/\.cpuprofile$/, '.heapprofile'), 25)
            : undefined;
          profiler.close();
          profiles.push({
            ...summarise(p, 20),
            stretches: busyStretches(p),
            ...(heap ? { heap } : {}),
            ...(diff ? { diff } : {}),
            file,
          });
        }
        m1 = await Promise.all(nodes.map((n) => metrics(n.url)));
      },
    },
    lobbies,
    table,
  );
  if (NODE_LOG)
    for (const [i, n] of nodes.entries())
      writeFileSync(
        `${NODE_LOG}-${players}${nodes.length > 1 ? `-p${i + 1}` : ''}.log`,
        `${n.raw.join('\n')}\n\n# /metrics at the end of the window\n${m1[i] ?? ''}`,
      );
  if (cluster) await cluster.close();
  else await node.kill();
  const each = (name: string) => m1.map((m) => metric(m, name) ?? NaN);
  return {
    side: {
      ...side,
      // Summed over the processes (heap) or the worst of them (event-loop delay).
      heapMB: each('minotaur_nodejs_heap_size_used_bytes').reduce((a, b) => a + b, 0) / 2 ** 20,
      loopP99Ms: Math.max(...each('minotaur_nodejs_eventloop_lag_p99_seconds')) * 1000,
      gc: gcPauses(m0, m1, side.stats.windowS),
      ...(health ? { health } : {}),
      late: lateRounds(m0, m1),
      setupS,
    },
    seats,
    ...(profiles.length ? { profiles } : {}),
  };
}

// ── the floor: a bare ws server playing the same rounds ────────────────────────────────────

async function rawSide(seats: Seat[], app: Side): Promise<Side> {
  const port = await freePort([HOST]);
  const server = forkChild('players-raw-server.ts');
  // Every seat on the one bare server.
  const bare = seats.map(({ base: _base, ...seat }) => seat);
  const header = (n: number) => (n < 126 ? 2 : n < 65536 ? 4 : 10);
  const payload = (d: Dist) => Math.max(1, Math.round(d.p50 - header(d.p50)));
  const own = app.stats.bytes.own.p50 - app.stats.bytes.ack.p50;
  const init: RawInit = {
    type: 'init',
    host: HOST,
    port,
    seats: bare,
    roundMs: ROUND_MS,
    sizes: {
      first: payload(app.firstBytes),
      own: Math.max(1, Math.round(own - header(own))),
      other: payload(app.stats.bytes.other),
      round: payload(app.stats.bytes.round),
    },
  };
  const listening = nextMessage(server, 'listening', 10_000);
  server.send(init);
  await listening;
  const side = await drive(`http://${HOST}:${port}`, bare, [server.pid!], () => {
    server.send({ type: 'start', spreadMs: ROUND_MS });
    return Promise.resolve();
  });
  server.kill('SIGKILL');
  return { ...side, heapMB: null, loopP99Ms: null, gc: null, setupS: 0 };
}

// ── report ────────────────────────────────────────────────────────────────────────────────

const ms = (n: number) => fmt(n, n < 10 ? 1 : 0);
const kb = (d: Dist) => `${fmt(d.p50, 0)} (${fmt(d.p99, 0)})`;

function rows(steps: StepResult[]): string[][] {
  const out: string[][] = [];
  for (const s of steps) {
    for (const [label, side] of [
      ['minotaur', s.app],
      ['raw ws', s.raw],
    ] as const) {
      const st = side.stats;
      out.push([
        fmt(s.players, 0),
        label,
        `${side.sockets}${side.failed ? ` (${side.failed} failed)` : ''}`,
        fmt(st.actions / st.windowS, 0),
        `${ms(st.othersUpdate.p50)} / ${ms(st.othersUpdate.p95)} / ${ms(st.othersUpdate.p99)}`,
        label === 'minotaur'
          ? `${fmt(s.app.stats.othersUpdate.p99 / s.raw.stats.othersUpdate.p99, 1)}×`
          : '',
        `${ms(st.acks.p50)} / ${ms(st.acks.p99)}`,
        ms(st.ownUpdate.p99),
        String(st.lateRefusals),
        fmt(side.cpu * 100, 0),
        fmt((side.cpu * 1000) / (st.actions / st.windowS), 2),
        fmt(side.rssMB, 0),
        side.gc
          ? `${fmt(side.gc.minorPerS, 1)} · ${ms(side.gc.minorMeanMs)} (${side.gc.major} · ${ms(side.gc.majorMeanMs)})`
          : '',
        kb(st.bytes.own),
        kb(st.bytes.other),
        kb(st.bytes.round),
        kb(side.firstBytes),
        fmt(st.bytesPerSocketPerS, 0),
        `${fmt(st.clientCpu * 100, 0)} % / ${ms(st.clientLoopP99Ms)}`,
      ]);
    }
  }
  return out;
}

export const HEADER = [
  'players',
  'server',
  'sockets',
  'actions/s',
  'act → others p50 / p95 / p99 ms',
  'app / raw p99',
  'ack p50 / p99 ms',
  'act → own update p99 ms',
  'late refusals',
  'server CPU %',
  // Less sensitive than latency to other work on the machine: CPU time per action, all its updates
  // included.
  'server CPU ms/action',
  'RSS MB',
  // Young-generation collections per second · their mean pause (full collections · their mean).
  'GC pauses/s · mean ms (full · ms)',
  'own action B p50 (p99)',
  "other's action B",
  'round resolved B',
  'first render B',
  'B/socket/s',
  'client CPU / loop p99 ms',
];

async function main(): Promise<{ steps: StepResult[]; roundMs: number; windowS: number }> {
  console.log(
    `Players per node — steps of ${STEPS.join(', ')} players, games of ${PER_GAME}, ${ROUND_MS / 1000} s rounds, ${WARMUP_MS / 1000} s warm-up + ${WINDOW_MS / 1000} s measured per step`,
  );
  console.log(`machine: ${machine()}; the load client runs in its own process on the same machine`);
  console.log(`live socket compression (LIVE_COMPRESSION): ${COMPRESSION}`);
  console.log(`SQLite commits (SQLITE_SYNCHRONOUS): ${SYNCHRONOUS}`);
  if (NODE_OPTIONS) console.log(`the node's options (BENCH_NODE_OPTIONS): ${NODE_OPTIONS}`);
  if (LOBBIES)
    console.log(`lobby pages open beside the players (BENCH_PLAYERS_LOBBIES): ${LOBBIES}`);
  if (SPECTATORS)
    console.log(
      `spectators (BENCH_PLAYERS_SPECTATORS): ${SPECTATORS}, over ${WATCHED || 'every'} game${WATCHED === 1 ? '' : 's'}`,
    );
  if (PROCESSES > 1)
    console.log(
      `the node: ${PROCESSES} processes (a cluster on 127.0.0.2…, one SQLite file; CPU and RSS summed); pages go to ${ROUTE === 'owner' ? "their game's owner" : 'each process in turn'}`,
    );
  const steps: StepResult[] = [];
  for (const players of STEPS) {
    const app = await appSide(players);
    const raw = await rawSide(app.seats, app.side);
    const step: StepResult = {
      players,
      games: Math.ceil(players / PER_GAME),
      app: app.side,
      raw,
      ...(app.profiles ? { profiles: app.profiles } : {}),
    };
    steps.push(step);
    const a = app.side.stats;
    console.log(
      `  ${players} players: act → others p99 ${ms(a.othersUpdate.p99)} ms (raw ws ${ms(raw.stats.othersUpdate.p99)} ms), ack p99 ${ms(a.acks.p99)} ms, node CPU ${fmt(app.side.cpu * 100, 0)} %, RSS ${fmt(app.side.rssMB, 0)} MB, heap ${fmt(app.side.heapMB ?? NaN, 0)} MB, loop p99 ${ms(app.side.loopP99Ms ?? NaN)} ms, GC ${app.side.gc ? `${fmt(app.side.gc.minorPerS, 1)} young collections/s of ${ms(app.side.gc.minorMeanMs)} ms, ${app.side.gc.major} full of ${ms(app.side.gc.majorMeanMs)} ms` : '—'}, late refusals ${a.lateRefusals}, refusals ${JSON.stringify(a.refusals)}, closes ${JSON.stringify(a.closes)}, games playing ${a.playing}/${a.playing + a.over}${LOBBIES ? `, lobby pages ${a.lobby.sockets} of ${LOBBIES} open, each sent ${fmt(a.lobby.messagesPerS, 1)} messages (${fmt(a.lobby.bytesPerS, 0)} B) a second` : ''}${SPECTATORS ? `, spectators ${a.spectators.sockets} of ${SPECTATORS} open, act → spectators p50 / p99 ${ms(a.spectators.update.p50)} / ${ms(a.spectators.update.p99)} ms (raw ws ${ms(raw.stats.spectators.update.p50)} / ${ms(raw.stats.spectators.update.p99)} ms), each sent ${fmt(a.spectators.bytesPerS, 0)} B a second` : ''}`,
    );
    const late = app.side.late;
    if (late)
      console.log(
        `  rounds resolved after their deadline: ${late.count}, on average ${ms(late.meanMs)} ms after it; ${late.over100ms} more than 100 ms late, ${late.over1s} more than 1 s`,
      );
    const h = app.side.health;
    if (h)
      console.log(
        `  health check once a second over the window: ${h.asked} asked, p50 ${ms(h.p50Ms)} ms, max ${ms(h.maxMs)} ms, ${h.failed} failed (not 200, or over ${CHECK_TIMEOUT_MS / 1000} s)`,
      );
    for (const profile of app.profiles ?? []) {
      console.log(
        `  CPU profile (${profile.file}): busy ${fmt(profile.busy * 100, 0)} % of the window; self time, share of busy time:`,
      );
      for (const r of profile.rows)
        console.log(`    ${fmt(r.busyShare * 100, 1).padStart(5)} %  ${r.name}`);
      const s = profile.stretches;
      console.log(
        `  busy stretches (no idle sample between): p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms, max ${ms(s.max)} ms; ${fmt(s.over20 * 100, 0)} % of busy time in stretches over 20 ms`,
      );
      const { diff } = profile;
      if (diff) {
        console.log(
          `  allocated in one second after the window and still held: ${fmt(diff.newCount, 0)} objects, ${fmt(diff.newBytes / 1e6, 1)} MB (of ${fmt(diff.totalBytes / 1e6, 0)} MB), by what holds them:`,
        );
        for (const h of diff.holders)
          console.log(
            `    ${fmt(diff.newBytes ? (100 * h.bytes) / diff.newBytes : 0, 1).padStart(5)} %  ${fmt(h.bytes / 1e6, 2)} MB  ${h.holder}`,
          );
      }
      const heap = profile.heap;
      if (!heap) continue;
      console.log(
        HEAP_MODE === 'held'
          ? `  heap held at the end of the window, sampled, ${fmt(heap.total / 1e6, 0)} MB, by allocation site:`
          : `  ${HEAP_MODE === 'alloc' ? 'allocated over the window' : 'allocated over the window and outliving a young-generation collection'}, sampled, ${fmt(heap.total / 1e6, 0)} MB (${fmt(heap.total / 1e6 / (WINDOW_MS / 1000), 1)} MB/s), by allocation site:`,
      );
      for (const r of heap.rows)
        console.log(
          `    ${fmt((100 * r.bytes) / heap.total, 1).padStart(5)} %  ${fmt(r.bytes / 1e6, 1)} MB  ${r.name}`,
        );
    }
  }
  console.log('');
  console.log(table(HEADER, rows(steps), [0, 1]));
  return { steps, roundMs: ROUND_MS, windowS: WINDOW_MS / 1000 };
}

await runBench('players', QUICK ? 300_000 : 1_200_000, main);
