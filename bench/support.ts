// Shared helpers for the process-level benchmarks (live, capacity, handoff, pages): the
// machine line, percentiles, tables, a hard time limit, cleanup of every process a bench
// started, and the JSON result that bench/index.ts collects for its summary.
//
// Benchmarks only ever talk to 127.0.0.x; every loop in them is bounded in count and time.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { TEST_ADMIN_TOKEN } from '../test/support/admin.js';
import { ROOT, waitFor, type NodeProcess } from '../test/support/node-process.js';
import { Player } from '../test/support/player.js';
import type { TemplateTable } from '../test/support/live-page.js';
import { fetchMetrics, metricValue } from '../test/support/metrics.js';

export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** Environment every benchmarked node gets (on top of node-process.ts's test defaults). */
export const NODE_ENV_BASE: Record<string, string> = {
  PASSWORD_COST: '12',
  // The config accepts at most 10,000 (100,000 stops the node with exit code 78).
  LOGIN_RATE_LIMIT: '10000',
  // Sign-ups go 32 at a time from the one address of the load client.
  PASSWORD_CHECKS_PER_ADDRESS: '64',
  // The handoff bench opens hundreds of games from one account; the limits are not measured here.
  OPEN_GAMES_PER_ACCOUNT: '1000',
  GAMES_PER_HOUR: '10000',
  // The handoff bench watches many games as one account; each watcher is a live socket.
  SOCKETS_PER_ACCOUNT: '1000',
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  LOG_LEVEL: 'info',
};

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, node ${process.version}, ${os.platform()} ${os.arch()}`;
}

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of `xs` (p in 0..100); NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}

export function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** A markdown table: the `left` columns left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][], left: number[] = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (left.includes(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

// ── processes: everything started is killed on exit, and a bench never outlives its limit ──

const nodes = new Set<NodeProcess>();
const children = new Set<ChildProcess>();
const closers: (() => Promise<void> | void)[] = [];

export function track(n: NodeProcess): NodeProcess {
  nodes.add(n);
  return n;
}

export function onCleanup(fn: () => Promise<void> | void): void {
  closers.push(fn);
}

export async function cleanup(): Promise<void> {
  for (const fn of closers.splice(0)) {
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
  await Promise.all([...nodes].map((n) => n.kill()));
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function killNow(): void {
  for (const n of nodes) if (n.alive) n.child.kill('SIGKILL');
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killNow();
    process.exit(130);
  });
}

/**
 * Runs a benchmark's main: a hard time limit (the bench is killed, with its nodes, if it runs
 * longer), cleanup, and the JSON result written where bench/index.ts asked (BENCH_RESULT_FILE).
 */
export async function runBench<T>(
  name: string,
  limitMs: number,
  main: () => Promise<T>,
): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`${name}: hard time limit of ${limitMs / 1000} s reached; stopping`);
    killNow();
    process.exit(3);
  }, limitMs);
  watchdog.unref();
  let code = 0;
  try {
    const result = await main();
    if (process.env.BENCH_RESULT_FILE)
      writeFileSync(
        process.env.BENCH_RESULT_FILE,
        JSON.stringify({ name, machine: machine(), quick: QUICK, result }, null, 2),
      );
  } catch (e) {
    console.error(`${name} failed:`, e);
    code = 1;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  process.exit(code);
}

/**
 * Starts a plain Node child process running an inline ES module, or a TypeScript file of the
 * repo with its arguments (run from the repo, so `ws` and `express` resolve).
 */
export function spawnModule(
  source: string | { file: string; args: string[] },
  env: Record<string, string> = {},
): { child: ChildProcess; firstLine: Promise<string> } {
  const argv =
    typeof source === 'string'
      ? ['--input-type=module', '-e', source]
      : ['--import', 'tsx', source.file, ...source.args];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.once('exit', (c) => reject(new Error(`child exited (${c}) before printing its address`)));
  });
  return { child, firstLine };
}

// ── metrics of a node ──────────────────────────────────────────────────────────────────

export function metrics(base: string): Promise<string> {
  return fetchMetrics(base);
}

/** Sum of a metric's samples whose labels include `labels`. */
export const metric = metricValue;

// ── players and games ──────────────────────────────────────────────────────────────────

let nameSeq = 0;
const runTag = Date.now().toString(36).slice(-5);

/** `count` new signed-up players on `base`, `parallel` sign-ups at a time. */
export async function signupMany(
  base: string,
  count: number,
  prefix: string,
  parallel = 8,
): Promise<Player[]> {
  const out = new Array<Player>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const p = new Player(base, `${prefix}${runTag}${(nameSeq++).toString(36)}`.slice(0, 20));
      await p.signup();
      out[i] = p;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

/** players[0] creates a game on its node, the others join, the creator starts it. */
export async function openGame(players: Player[], startIt = true): Promise<string> {
  const code = await players[0]!.createGame();
  for (const p of players.slice(1)) {
    const res = await p.join(code);
    if (res.status !== 303) throw new Error(`join ${code}: ${res.status}`);
  }
  if (startIt) {
    const res = await players[0]!.start(code);
    if (res.status !== 303) throw new Error(`start ${code}: ${res.status}`);
  }
  return code;
}

/** The path of the live socket the page at `path` opens (hx-ws:connect), as `player` sees it. */
export async function liveSocketPath(
  player: Player,
  path: string,
  table?: TemplateTable,
): Promise<string> {
  const { html } = await player.page(path);
  const socket = /hx-ws:connect="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  if (!socket) throw new Error(`no live socket on ${path}`);
  // A page that holds the release's template table says so, as public/js/minotaur.js does.
  return table ? `${socket}&templates=${table.v}` : socket;
}

/** Runs `fn` over `items`, `parallel` at a time. */
export async function pool<T, R>(
  items: T[],
  parallel: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return out;
}

export { waitFor };

const STATUS = /<hx-partial hx-target="#game-status"[^>]*>([\s\S]*?)<\/hx-partial>/;

/** The status partial in one live message, parsed (null when the message has none). */
export function statusIn(
  raw: string,
): { round: number; deadline: number | null; over: boolean } | null {
  const m = STATUS.exec(raw);
  if (!m) return null;
  const html = m[1] ?? '';
  if (/Game over/.test(html))
    return {
      round: Number(html.match(/after (\d+) rounds/)?.[1] ?? 0),
      deadline: null,
      over: true,
    };
  const r = html.match(/data-round="(\d+)"/);
  const d = html.match(/data-deadline="(\d+)"/);
  return { round: r ? Number(r[1]) : 0, deadline: d ? Number(d[1]) : null, over: false };
}

/**
 * What the players benchmark's players do: a fifth of actions are moves, a tenth attacks, the
 * rest defend (the render benchmark plays games the same way).
 */
export const PLAYERS_MIX = { moveRate: 0.2, attackRate: 0.1 };
