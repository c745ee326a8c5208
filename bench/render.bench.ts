// Benchmark (not a timed test): a node's live render path alone, in one process, for comparing
// builds. Run: npm run build && npx tsx bench/render.bench.ts [DIST …]
//
// 100 games of five heroes, played by the rules from seeds (test/unit/live/corpus.ts), each
// watched by its five players' pages (sockets that only count what they are sent). Every state
// of every game is shown to its pages, game after game; reported: CPU per state (building the
// trees, diffing them, writing the message text) and bytes per message by what the state was
// (a hero acted, a round resolved, table talk). No network: the socket writes and everything
// else a node does are left out, so the numbers move only with the render path.
//
// Each DIST is a build's dist directory (default: this checkout's). Several are measured in
// turn, three passes each, alternating, so a comparison of two builds shares the machine's mood.
// Baseline, same run: each build's whole-partials format (what pages of an earlier release ask
// for: every changed partial as HTML), against this release's (trees, one stream per game).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { GameState } from '../src/game/types.js';
import type { GameSource } from '../src/live/source.js';
import { playedGame } from '../test/unit/live/corpus.js';
import { fmt, machine, pct, table } from './support.js';

const GAMES = Number(process.env.BENCH_RENDER_GAMES ?? 100);
const PASSES = 3;
const builds = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (builds.length === 0) builds.push('dist');

type Kind = 'acted' | 'resolved' | 'talk' | 'other';
const kindOf = (label: string): Kind =>
  label.includes('resolved')
    ? 'resolved'
    : label.includes('acted')
      ? 'acted'
      : label.includes('said')
        ? 'talk'
        : 'other';

class CountingWire {
  readyState = 1;
  constructor(private readonly sink: (text: string) => void) {}
  send(text: string): void {
    this.sink(text);
  }
  close(): void {}
  on(): this {
    return this;
  }
}

interface Pass {
  cpuMsPerState: number;
  bytes: Record<Kind, number[]>;
}

async function pass(dist: string, format: 'patch' | 'html'): Promise<Pass> {
  const url = (m: string) => pathToFileURL(resolve(dist, m)).href;
  const { GameLiveSocket } = (await import(
    url('live/game-socket.js')
  )) as typeof import('../src/live/game-socket.js');
  const { GameFrames } = (await import(
    url('live/game-frame.js')
  )) as typeof import('../src/live/game-frame.js');
  const { InboundBudget } = (await import(
    url('live/inbound.js')
  )) as typeof import('../src/live/inbound.js');
  const { createMetrics } = (await import(url('metrics.js'))) as typeof import('../src/metrics.js');
  const frames = new GameFrames();
  const metrics = createMetrics('render_bench');
  const bytes: Record<Kind, number[]> = { acted: [], resolved: [], talk: [], other: [] };
  let kind: Kind = 'other';
  let cpu = 0;
  let states = 0;
  for (let g = 0; g < GAMES; g++) {
    const shown = playedGame(1000 + g, 5, { maxRounds: 30 });
    let state: GameState = shown[0]!.state;
    const listeners: (() => void)[] = [];
    const source = {
      game: () => state,
      shownRecord: () => ({ epoch: 1 }),
      unreadable: () => false,
      watch: (_code: string, l: () => void) => (listeners.push(l), () => undefined),
      execute: () => Promise.resolve({ ok: true, duplicate: false }),
    } as unknown as GameSource;
    const deps = {
      source,
      logger: pino({ level: 'silent' }),
      metrics,
      budget: new InboundBudget(),
      chatLimiter: new RateLimiterMemory({ points: 3, duration: 10 }),
      now: () => 1000,
      csrfToken: 'tok',
      frames,
      format,
      shownGame: state.id,
    };
    const wire = new CountingWire((text) => {
      if (text.startsWith('{"type":"render"') || text.startsWith('<hx-partial'))
        bytes[kind].push(Buffer.byteLength(text));
    });
    for (const id of ['1', '2', '3', '4', '5'])
      new GameLiveSocket(wire, state.code, { id, username: id }, deps).start();
    for (const { label, state: next } of shown.slice(1)) {
      kind = kindOf(label);
      state = next;
      const t0 = process.cpuUsage();
      for (const l of listeners) l();
      await new Promise((r) => setImmediate(r));
      const t = process.cpuUsage(t0);
      cpu += (t.user + t.system) / 1000;
      states++;
    }
    frames.forget(state.code);
  }
  return { cpuMsPerState: cpu / states, bytes };
}

console.log(
  `Live render path — ${GAMES} games of 5, every state shown to 5 pages, ${PASSES} passes per build`,
);
console.log(`machine: ${machine()}`);
const runs = new Map<string, Pass[]>();
for (let i = 0; i < PASSES; i++)
  for (const b of builds)
    for (const format of ['patch', 'html'] as const) {
      const p = await pass(b, format);
      const name = `${b} ${format}`;
      runs.set(name, [...(runs.get(name) ?? []), p]);
      console.log(`  ${name} pass ${i + 1}: ${p.cpuMsPerState.toFixed(3)} ms CPU per state`);
    }
const rows = [...runs].map(([b, passes]) => {
  const cpu = passes.map((p) => p.cpuMsPerState).sort((x, y) => x - y);
  const last = passes[passes.length - 1]!;
  const size = (k: Kind) => {
    const v = last.bytes[k];
    return `${fmt(pct(v, 50), 0)} (${fmt(pct(v, 99), 0)})`;
  };
  return [
    b,
    `${cpu[0]!.toFixed(3)}–${cpu[cpu.length - 1]!.toFixed(3)}`,
    size('acted'),
    size('resolved'),
    size('talk'),
  ];
});
console.log(
  table(
    [
      'build and format',
      'CPU ms per state (5 pages)',
      'a hero acted B p50 (p99)',
      'round resolved B',
      'table talk B',
    ],
    rows,
  ),
);
