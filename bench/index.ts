// `npm run bench` (add `-- --quick` for a short run): runs every benchmark in sequence, each in
// its own process (crdt first), streams their output, then prints one summary table.
// Every benchmark has a hard time limit of its own; this runner adds one per benchmark too.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUICK, fmt, machine, table } from './support.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BENCHES: { name: string; file: string; limitS: number; env?: Record<string, string> }[] = [
  { name: 'crdt', file: 'crdt.bench.ts', limitS: 120, env: QUICK ? { BENCH_ENTRIES: '2000' } : {} },
  { name: 'live', file: 'live.bench.ts', limitS: 200 },
  // The live render path alone, in one process (~1 min).
  { name: 'render', file: 'render.bench.ts', limitS: 300 },
  { name: 'capacity', file: 'capacity.bench.ts', limitS: 220 },
  // Players per node: 250 to 5,000 players, each step against a bare ws server (~15 min).
  { name: 'players', file: 'players.bench.ts', limitS: 1500 },
  // Heap after GC over 100,000 actions with games ending all along (~5 min).
  { name: 'memory', file: 'memory.bench.ts', limitS: 1100 },
  { name: 'handoff', file: 'handoff.bench.ts', limitS: 220 },
  { name: 'pages', file: 'pages.bench.ts', limitS: 240 },
  // Needs root (network namespaces): otherwise it says why and is skipped.
  { name: 'hosts', file: 'hosts.bench.ts', limitS: 440 },
];
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const dir = mkdtempSync(join(tmpdir(), 'minotaur-bench-'));

interface Ran {
  name: string;
  code: number | null;
  seconds: number;
  stdout: string;
  /** The JSON result the benchmark wrote (see runBench), or null when it wrote none. */
  result: unknown;
}

// The parts of each benchmark's result the summary reads (the benchmarks write more).
interface Latency {
  mode: string;
  p50: number;
  p95: number;
  samples: number;
}
interface LiveResult {
  rows: (Latency & { p99: number })[];
}
interface CapacityResult {
  steps: {
    games: number;
    sockets: number;
    ackP50: number;
    ackP95: number;
    lagP95: number;
    rssMB: number;
    nodeCpu: number;
  }[];
  stoppedEarly?: boolean;
}
interface Sample {
  p99: number;
}
interface PlayersResult {
  roundMs: number;
  steps: {
    players: number;
    app: {
      stats: { othersUpdate: Sample; acks: Sample; lateRefusals: number };
      cpu: number;
      rssMB: number;
    };
    raw: { stats: { othersUpdate: Sample } };
  }[];
}
interface MemoryResult {
  samples: { actions: number; heapMB: number; rssMB: number; gamesEnded: number }[];
}
interface Handoff {
  games: number;
  adoptedS: number;
  gapP50Ms: number;
  gapMaxMs: number;
}
interface HandoffResult {
  sizes: (Handoff & { exitS: number; drainedS: number })[];
}
interface HostsResult {
  skipped?: string;
  live: (Latency & { ackP50: number })[];
  handoff: { setup: string; sizes: Handoff[] }[];
}
interface PagesResult {
  rows: {
    target: string;
    reqPerSec: number;
    p50: number;
    p99: number;
    bytes: number;
    non2xx: number;
    errors: number;
  }[];
}

function runOne(b: (typeof BENCHES)[number]): Promise<Ran> {
  const resultFile = join(dir, `${b.name}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(HERE, b.file), ...(QUICK ? ['--quick'] : [])],
      {
        env: { ...process.env, ...b.env, BENCH_RESULT_FILE: resultFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      process.stdout.write(d);
    });
    const limit = setTimeout(() => {
      console.error(`${b.name}: over ${b.limitS} s, killing it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, b.limitS * 1000);
    child.on('exit', (code) => {
      clearTimeout(limit);
      const result = existsSync(resultFile)
        ? (JSON.parse(readFileSync(resultFile, 'utf8')) as { result: unknown }).result
        : null;
      resolve({ name: b.name, code, seconds: (Date.now() - started) / 1000, stdout, result });
    });
  });
}

const started = Date.now();
console.log(`npm run bench${QUICK ? ' -- --quick' : ''} — ${new Date().toISOString()}`);
console.log(`machine: ${machine()}`);
const ran: Ran[] = [];
for (const b of BENCHES) {
  if (only.length && !only.includes(b.name)) continue;
  console.log(`\n━━ ${b.name} ${'━'.repeat(60)}`);
  ran.push(await runOne(b));
}

// ── summary ─────────────────────────────────────────────────────────────────────────────
const rows: string[][] = [];
const ms = (n: number) => `${fmt(n, n < 10 ? 2 : 0)} ms`;
for (const r of ran) {
  if (r.code !== 0) {
    rows.push([r.name, 'FAILED', `exit ${r.code}`, '']);
    continue;
  }
  if (r.name === 'crdt') {
    for (const line of r.stdout.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      if (cells.length > 8 && /Replica|crdts|yjs/.test(cells[1] ?? '')) {
        rows.push([
          'crdt',
          `${cells[1]}: update ops/s`,
          cells[3]!,
          `lookup ${cells[4]} µs, heap ${cells[6]} B/overwrite`,
        ]);
      }
    }
  } else if (r.name === 'render') {
    for (const line of r.stdout.split('\n')) {
      // The games' table comes first; the lobby's, after this line, has rows named alike.
      if (line.startsWith('Lobby:')) break;
      const cells = line.split('|').map((c) => c.trim());
      const name = {
        'dist patch+table': 'trees, the page holding the template table',
        'dist patch': 'trees, without the table',
        'dist html': 'whole partials (baseline)',
      }[cells[1] ?? ''];
      if (name)
        rows.push([
          'render',
          `${name}: CPU ms per state · round resolved B p50 (p99)`,
          cells[2]!,
          cells[4]!,
        ]);
    }
  } else if (r.name === 'live') {
    for (const m of (r.result as LiveResult).rows)
      rows.push([
        'live',
        `${m.mode}: act → update p50 / p95 / p99`,
        `${ms(m.p50)} / ${ms(m.p95)} / ${ms(m.p99)}`,
        `${m.samples} rounds`,
      ]);
  } else if (r.name === 'capacity') {
    const result = r.result as CapacityResult;
    for (const s of result.steps) {
      rows.push([
        'capacity',
        `${s.games} games, ${s.sockets} sockets: ack p50 / p95`,
        `${ms(s.ackP50)} / ${ms(s.ackP95)}`,
        `round lag p95 ${ms(s.lagP95)}, RSS ${fmt(s.rssMB, 0)} MB, node CPU ${fmt(s.nodeCpu * 100, 0)} %`,
      ]);
    }
    if (result.stoppedEarly) rows.push(['capacity', 'stopped stepping', 'ack p95 > 1 s', '']);
  } else if (r.name === 'players') {
    const result = r.result as PlayersResult;
    for (const s of result.steps) {
      const a = s.app.stats;
      rows.push([
        'players',
        `${s.players} players (games of 5, ${result.roundMs / 1000} s rounds): act → others p99`,
        `${ms(a.othersUpdate.p99)} (raw ws ${ms(s.raw.stats.othersUpdate.p99)})`,
        `ack p99 ${ms(a.acks.p99)}, node CPU ${fmt(s.app.cpu * 100, 0)} %, ${a.lateRefusals} late refusals, RSS ${fmt(s.app.rssMB, 0)} MB`,
      ]);
    }
  } else if (r.name === 'memory') {
    const xs = (r.result as MemoryResult).samples;
    const first = xs[1] ?? xs[0];
    const last = xs[xs.length - 1];
    if (first !== undefined && last !== undefined)
      rows.push([
        'memory',
        `heap after GC at ${fmt(first.actions, 0)} → ${fmt(last.actions, 0)} actions`,
        `${fmt(first.heapMB, 1)} → ${fmt(last.heapMB, 1)} MB`,
        `${last.gamesEnded} games ended, RSS ${fmt(last.rssMB, 0)} MB`,
      ]);
  } else if (r.name === 'handoff') {
    for (const s of (r.result as HandoffResult).sizes) {
      rows.push([
        'handoff',
        s.games === 0
          ? 'baseline, 0 games: SIGTERM → exit'
          : `${s.games} games: SIGTERM → all adopted`,
        s.games === 0 ? `${fmt(s.exitS, 2)} s` : `${fmt(s.adoptedS, 3)} s`,
        s.games === 0
          ? `drained after ${fmt(s.drainedS, 3)} s`
          : `exit ${fmt(s.exitS, 2)} s, reconnect gap p50 ${ms(s.gapP50Ms)} (max ${ms(s.gapMaxMs)})`,
      ]);
    }
  } else if (r.name === 'hosts') {
    const result = r.result as HostsResult;
    if (result.skipped) rows.push(['hosts', 'skipped', 'not root', result.skipped]);
    for (const m of result.live)
      rows.push([
        'hosts',
        `${m.mode}: act → update p50 / p95`,
        `${ms(m.p50)} / ${ms(m.p95)}`,
        `ack p50 ${ms(m.ackP50)}, ${m.samples} rounds`,
      ]);
    for (const h of result.handoff) {
      for (const s of h.sizes)
        rows.push([
          'hosts',
          `${h.setup}, ${s.games} games: SIGTERM → all adopted`,
          `${fmt(s.adoptedS, 3)} s`,
          `reconnect gap p50 ${ms(s.gapP50Ms)} (max ${ms(s.gapMaxMs)})`,
        ]);
    }
  } else if (r.name === 'pages') {
    for (const p of (r.result as PagesResult).rows)
      rows.push([
        'pages',
        p.target,
        `${fmt(p.reqPerSec, 0)} req/s`,
        `p50 ${p.p50} ms, p99 ${p.p99} ms, ${p.bytes} B${p.non2xx || p.errors ? `, ${p.non2xx} non-2xx, ${p.errors} errors` : ''}`,
      ]);
  }
}
console.log(`\n━━ summary ${'━'.repeat(60)}`);
console.log(
  `machine: ${machine()}; total ${fmt((Date.now() - started) / 1000, 0)} s${QUICK ? ' (quick run)' : ''}`,
);
console.log(table(['bench', 'measure', 'value', 'also'], rows, [0, 1, 3]));
process.exit(ran.every((r) => r.code === 0) ? 0 : 1);
