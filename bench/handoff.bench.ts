// Benchmark (not a timed test): handoff time. Run: npx tsx bench/handoff.bench.ts [--quick]
//
// Two nodes (n1, n2) with default drain settings. G playing 2-player games are created on n1,
// so n1 owns them; for up to 10 of them a player's live socket is open on n1. Then n1 gets
// SIGTERM and the bench measures, from the signal:
//   - until n2 has adopted every game (the timestamps of n2's "game X adopted from node n1"
//     log lines), and n1's own account ("drained: … handed off" line);
//   - n1's minotaur_handoff_seconds histogram (time to hand one game; read from n1 while it
//     still serves during its drain window);
//   - when n1's process exits;
//   - the reconnect gap a connected player sees: its socket closes with 1012, it reconnects
//     at once to n2, and the gap ends with the first status partial from n2.
// Baseline, same run: the same cluster and SIGTERM with no games at all (G = 0).

import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { TestCluster } from '../test/support/cluster.js';
import type { NodeProcess } from '../test/support/node-process.js';
import type { Player } from '../test/support/player.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  metric,
  metrics,
  liveSocketPath,
  onCleanup,
  pct,
  pool,
  runBench,
  signupMany,
  sleep,
  statusIn,
  table,
  track,
  waitFor,
} from './support.js';
import { WireReader } from './players-wire.js';

const SIZES = (process.env.BENCH_HANDOFF_GAMES ?? (QUICK ? '0,10,50' : '0,10,100,500'))
  .split(',')
  .map(Number);
const WATCHERS = 10;

interface Watch {
  closedAt: number | null;
  closeCode: number | null;
  backAt: number | null;
}

async function watch(
  player: Player,
  code: string,
  from: NodeProcess,
  to: NodeProcess,
): Promise<Watch> {
  const w: Watch = { closedAt: null, closeCode: null, backAt: null };
  // The address the game page opens (trees, read with the page's reader, one per connection).
  const path = await liveSocketPath(player, `/games/${code}`);
  const url = (n: NodeProcess) => `${n.url.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url(from), { headers: { cookie: player.cookie, origin: from.url } });
  const first = new WireReader();
  onCleanup(() => ws.terminate());
  ws.on('error', () => undefined);
  ws.on('close', (closeCode) => {
    w.closedAt = Date.now();
    w.closeCode = closeCode;
    // Like htmx behind a load balancer: reconnect at once, to the node that is left.
    const again = new WebSocket(url(to), { headers: { cookie: player.cookie, origin: to.url } });
    onCleanup(() => again.terminate());
    again.on('error', () => undefined);
    const reader = new WireReader();
    again.on('message', (data: Buffer) => {
      if (w.backAt === null && statusIn(reader.shown(data.toString()))) {
        w.backAt = Date.now();
        again.close();
      }
    });
  });
  return new Promise((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      if (statusIn(first.shown(data.toString()))) resolve(w);
    });
    ws.once('error', reject);
  });
}

/**
 * Quantile estimate from a Prometheus histogram's cumulative buckets (upper bound of the bucket).
 */
function histQuantile(body: string, name: string, q: number): number {
  const buckets: { le: number; n: number }[] = [];
  for (const m of body.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\}\\s+(\\S+)`, 'gm'))) {
    const le = m[1]!.match(/le="([^"]+)"/)?.[1];
    if (le) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), n: Number(m[2]) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (!total) return NaN;
  return buckets.find((b) => b.n >= q * total)?.le ?? NaN;
}

export interface SizeResult {
  games: number;
  adoptedS: number;
  adopted: number;
  drainedS: number;
  handed: number;
  exitS: number;
  exitCode: number | null;
  perGameMs: number;
  histMeanMs: number;
  histP95Ms: number;
  closeS: number;
  gapP50Ms: number;
  gapMaxMs: number;
  reconnected: number;
  watchers: number;
  setupS: number;
}

/** Two nodes n1 and n2, ready and meshed, and how to stop them. */
export interface TwoNodes {
  n1: NodeProcess;
  n2: NodeProcess;
  close(): Promise<void>;
}

/** Two nodes on this host's loopback addresses, one SQLite file (the default). */
async function onLoopback(): Promise<TwoNodes> {
  const c = await TestCluster.start(['127.0.0.2', '127.0.0.3'], {
    env: { ...NODE_ENV_BASE, ROUND_SECONDS: '10' },
  });
  c.nodes.forEach(track);
  onCleanup(() => c.close());
  const [n1, n2] = c.nodes as [NodeProcess, NodeProcess];
  return { n1, n2, close: () => c.close() };
}

/**
 * SIGTERM to n1 while it owns `games` games: until n2 adopted them all, n1's drain and exit, the
 * watchers' reconnect gaps.
 */
export async function run(
  games: number,
  start: () => Promise<TwoNodes> = onLoopback,
): Promise<SizeResult> {
  const setup0 = Date.now();
  const c = await start();
  const { n1, n2 } = c;
  const [p0, p1] = await signupMany(n1.url, 2, 'ho', 2);
  // One creator, one joiner for every game (a player may sit in several games).
  const codes = await pool(Array.from({ length: games }), 8, async () => {
    const code = await p0!.createGame();
    const j = await p1!.join(code);
    if (j.status !== 303) throw new Error(`join ${code}: ${j.status}`);
    const s = await p0!.start(code);
    if (s.status !== 303) throw new Error(`start ${code}: ${s.status}`);
    return code;
  });
  const watches = await Promise.all(
    codes.slice(0, WATCHERS).map((code) => watch(p1!, code, n1, n2)),
  );
  // Every game replicated to n2 before the signal.
  await waitFor(
    async () => (metric(await metrics(n2.url), 'minotaur_games_replicated') ?? 0) >= games,
    30_000,
    `n2 to hold ${games} games`,
    100,
  );
  const setupS = (Date.now() - setup0) / 1000;
  await sleep(300);

  const t0 = Date.now();
  n1.signal('SIGTERM');
  // n1 keeps serving for its drain window after the handoffs: read its histogram then.
  let hist = '';
  await waitFor(
    () => n1.lines.some((l) => /^drained:/.test(l.msg)) || !n1.alive,
    30_000,
    'n1 to finish draining',
    20,
  );
  try {
    hist = await metrics(n1.url);
  } catch {
    /* already gone */
  }
  await Promise.race([n1.exited, sleep(30_000)]);
  const exitS = (Date.now() - t0) / 1000;
  await waitFor(
    () => watches.every((w) => w.backAt !== null),
    10_000,
    'every watcher back on n2',
    20,
  ).catch(() => undefined);

  const adoptedLines = n2.lines.filter((l) => /^game [A-Z]{4} adopted from node n1/.test(l.msg));
  const adoptedAt = Math.max(...adoptedLines.map((l) => Date.parse(String(l.time))));
  const drained = n1.lines.find((l) => /^drained:/.test(l.msg));
  const histCount = metric(hist, 'minotaur_handoff_seconds_count') ?? 0;
  const histSum = metric(hist, 'minotaur_handoff_seconds_sum') ?? NaN;
  const gaps = watches
    .filter((w) => w.backAt !== null && w.closedAt !== null)
    .map((w) => w.backAt! - w.closedAt!);
  const closes = watches.filter((w) => w.closedAt !== null).map((w) => w.closedAt! - t0);
  const result: SizeResult = {
    games,
    adopted: adoptedLines.length,
    adoptedS: adoptedLines.length ? (adoptedAt - t0) / 1000 : NaN,
    drainedS: drained ? (Date.parse(String(drained.time)) - t0) / 1000 : NaN,
    handed: Number(drained?.handed ?? NaN),
    exitS,
    exitCode: n1.exitCode,
    perGameMs: NaN,
    histMeanMs: histCount ? (histSum / histCount) * 1000 : NaN,
    histP95Ms: histQuantile(hist, 'minotaur_handoff_seconds', 0.95) * 1000,
    closeS: closes.length ? Math.max(...closes) / 1000 : NaN,
    gapP50Ms: pct(gaps, 50),
    gapMaxMs: pct(gaps, 100),
    reconnected: gaps.length,
    watchers: watches.length,
    setupS,
  };
  const wrong = watches.filter((w) => w.closeCode !== null && w.closeCode !== 1012);
  if (wrong.length)
    console.log(
      `  note: ${wrong.length} sockets closed with ${wrong.map((w) => w.closeCode).join(',')} instead of 1012`,
    );
  if (result.adopted !== games)
    console.log(`  note: n2 logged ${result.adopted} adoptions for ${games} games`);
  await c.close();
  return result;
}

async function main(): Promise<{ sizes: SizeResult[] }> {
  console.log(
    `Handoff time — 2 nodes, games owned by n1, SIGTERM n1; games: ${SIZES.join(', ')} (0 = baseline)`,
  );
  console.log(`machine: ${machine()}`);
  const sizes: SizeResult[] = [];
  for (const g of SIZES) {
    const r = await run(g);
    sizes.push(r);
    console.log(
      `  ${g} games: all adopted after ${fmt(r.adoptedS, 3)} s, n1 exited after ${fmt(r.exitS, 2)} s (code ${r.exitCode}), setup ${fmt(r.setupS)} s`,
    );
  }
  const base = sizes.find((s) => s.games === 0);
  for (const s of sizes) {
    if (s.games > 0 && base) s.perGameMs = ((s.drainedS - base.drainedS) * 1000) / s.games;
  }
  console.log('');
  console.log(
    table(
      [
        'games',
        'all adopted s',
        'n1 drained s',
        'extra drain ms/game',
        'handoff mean ms',
        'handoff p95 ≤ ms',
        'last 1012 close s',
        'reconnect gap p50 ms',
        'gap max ms',
        'n1 exit s',
      ],
      sizes.map((s) => [
        s.games === 0 ? '0 (baseline)' : String(s.games),
        s.games ? fmt(s.adoptedS, 3) : '—',
        fmt(s.drainedS, 3),
        s.games ? fmt(s.perGameMs, 2) : '—',
        fmt(s.histMeanMs, 1),
        fmt(s.histP95Ms, 0),
        fmt(s.closeS, 3),
        s.reconnected ? `${fmt(s.gapP50Ms, 0)} (${s.reconnected}/${s.watchers})` : '—',
        fmt(s.gapMaxMs, 0),
        fmt(s.exitS, 2),
      ]),
    ),
  );
  return { sizes };
}

// Run directly (bench/index.ts does); bench/hosts.bench.ts imports run().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await runBench('handoff', QUICK ? 120_000 : 200_000, main);
