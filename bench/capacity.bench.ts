// Benchmark (not a timed test): players per node. Run: npx tsx bench/capacity.bench.ts [--quick]
//
// One node with 1-second rounds; N games of 8 players, each player a bot on the game's live
// socket (the address the game page opens, so it is sent trees). Seven bots per game submit an
// action every round (70 % defend, 30 % move), after a random delay of 50–600 ms; the eighth
// seat is idle (an AFK player), so rounds end on their deadline and the game clock's
// punctuality can be observed. N grows in steps (a fresh node
// for each step, so each step's memory is its own); each step warms up, then is measured for
// a fixed window. Reported per step:
//   - action ack latency (send → ack) p50/p95/p99;
//   - round-resolution lag: the owner's resolution time (next deadline − round length) minus
//     the round's deadline, and the same as seen by a player (status partial of the next
//     round received − deadline);
//   - node RSS and CPU (minotaur_process_resident_memory_bytes, minotaur_process_cpu_seconds_total
//     over the window) and the load generator's own CPU (it shares the machine).
// Stepping stops when ack p95 exceeds 1 s, or after the last step.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, startNode, tempDir, type NodeProcess } from '../test/support/node-process.js';
import type { Player } from '../test/support/player.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  metric,
  metrics,
  now,
  onCleanup,
  liveSocketPath,
  openGame,
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

const STEPS = (process.env.BENCH_CAPACITY_STEPS ?? (QUICK ? '2,5' : '5,10,20,50'))
  .split(',')
  .map(Number);
const WARMUP_MS = QUICK ? 1500 : 3000;
const WINDOW_MS = QUICK ? 4000 : 15_000;
const ROUND_SECONDS = 1;
const PLAYERS_PER_GAME = 8;
const ACT_DELAY: [number, number] = [50, 600];
const P95_LIMIT_MS = 1000;

const ACTIONS = /<hx-partial hx-target="#game-actions"[^>]*>([\s\S]*?)<\/hx-partial>/;

interface Sample {
  at: number;
  value: number;
}

class CapacityBot {
  private ws: WebSocket | null = null;
  private sent = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();
  private lastActed = 0;
  private lastDeadline: number | null = null;
  private openDirs: string[] = [];
  private stopped = false;
  private readonly reader = new WireReader();
  round = 0;
  over = false;
  eliminated = false;
  readonly acks: Sample[] = [];
  readonly refusals = new Map<string, number>();
  readonly serverLag: Sample[] = [];
  readonly clientLag: Sample[] = [];
  early = 0;
  bytes = 0;
  messages = 0;

  constructor(
    private readonly base: string,
    readonly code: string,
    private readonly player: Player,
    private readonly idle: boolean,
  ) {}

  /** Opens the socket the game page opens (its address: trees, read with the page's reader). */
  async open(): Promise<void> {
    const path = await liveSocketPath(this.player, `/games/${this.code}`);
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}${path}`, {
      headers: { cookie: this.player.cookie, origin: this.base },
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onMessage(data.toString()));
    ws.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  private onMessage(wire: string): void {
    const at = Date.now();
    this.bytes += Buffer.byteLength(wire);
    this.messages++;
    const raw = this.reader.shown(wire);
    if (raw.startsWith('{')) {
      const m = JSON.parse(raw) as { type?: string; actionId?: string; code?: string };
      if (m.type === 'ack' && m.actionId) {
        const t = this.sent.get(m.actionId);
        if (t !== undefined) this.acks.push({ at, value: now() - t });
        this.sent.delete(m.actionId);
      } else if (m.type === 'error') {
        this.refusals.set(String(m.code), (this.refusals.get(String(m.code)) ?? 0) + 1);
        if (m.actionId) this.sent.delete(m.actionId);
        if (m.code === 'eliminated') this.eliminated = true;
      }
      return;
    }
    const a = ACTIONS.exec(raw);
    if (a) {
      const html = a[1] ?? '';
      if (/You have fallen/.test(html)) this.eliminated = true;
      this.openDirs = [...html.matchAll(/data-action="move" data-dir="(\w+)"\s*(disabled)?/g)]
        .filter((m) => !m[2])
        .map((m) => m[1]!);
    }
    const s = statusIn(raw);
    if (!s) return;
    if (s.over) {
      this.over = true;
      return;
    }
    if (s.round > this.round) {
      if (
        this.round > 0 &&
        s.round === this.round + 1 &&
        this.lastDeadline !== null &&
        s.deadline !== null
      ) {
        const resolvedAt = s.deadline - ROUND_SECONDS * 1000;
        const lag = resolvedAt - this.lastDeadline;
        if (lag >= -2) {
          this.serverLag.push({ at, value: lag });
          this.clientLag.push({ at, value: at - this.lastDeadline });
        } else {
          this.early++;
        }
      }
      this.round = s.round;
      this.lastDeadline = s.deadline;
      this.maybeAct();
    }
  }

  private maybeAct(): void {
    const round = this.round;
    if (this.idle || this.stopped || this.eliminated || this.over || round <= this.lastActed)
      return;
    this.lastActed = round;
    const delay = ACT_DELAY[0] + Math.random() * (ACT_DELAY[1] - ACT_DELAY[0]);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopped || this.round !== round || this.eliminated || this.over) return;
      const actionId = randomUUID();
      const move = Math.random() < 0.3 && this.openDirs.length > 0;
      const msg = move
        ? {
            type: 'act',
            actionId,
            round,
            kind: 'move',
            dir: this.openDirs[Math.floor(Math.random() * this.openDirs.length)],
          }
        : { type: 'act', actionId, round, kind: 'defend' };
      this.sent.set(actionId, now());
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }, delay);
    this.timers.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.ws?.terminate();
  }
}

interface StepResult {
  games: number;
  sockets: number;
  playingAtEnd: number;
  actions: number;
  ackP50: number;
  ackP95: number;
  ackP99: number;
  lagP50: number;
  lagP95: number;
  lagMax: number;
  seenLagP50: number;
  seenLagP95: number;
  rounds: number;
  earlyRounds: number;
  refusals: Record<string, number>;
  rssMB: number;
  loopP99: number;
  loopMax: number;
  heapMB: number;
  nodeCpu: number;
  loadgenCpu: number;
  partialKBps: number;
  setupS: number;
}

const inWindow = (xs: Sample[], from: number, to: number) =>
  xs.filter((x) => x.at >= from && x.at <= to).map((x) => x.value);

async function step(games: number): Promise<StepResult> {
  const setup0 = Date.now();
  const port = await freePort();
  const node: NodeProcess = track(
    startNode({
      host: '127.0.0.2',
      port,
      nodeId: `cap${games}`,
      databasePath: join(tempDir('minotaur-bench-cap-'), 'minotaur.db'),
      env: {
        ...NODE_ENV_BASE,
        ROUND_SECONDS: String(ROUND_SECONDS),
        ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      },
    }),
  );
  await node.ready(30_000);
  const players = await signupMany(node.url, games * PLAYERS_PER_GAME, 'cp', 8);
  const bots: CapacityBot[] = [];
  onCleanup(() => bots.forEach((b) => b.stop()));
  const groups = Array.from({ length: games }, (_, g) =>
    players.slice(g * PLAYERS_PER_GAME, (g + 1) * PLAYERS_PER_GAME),
  );
  // Open every game (not started yet), connect its bots, then start them all at once.
  const codes = await pool(groups, 8, (ps) => openGame(ps, false));
  await pool(groups, 16, async (ps, g) => {
    for (let i = 0; i < ps.length; i++) {
      const b = new CapacityBot(node.url, codes[g]!, ps[i]!, i === PLAYERS_PER_GAME - 1);
      bots.push(b);
      await b.open();
    }
  });
  // Starts spread over one round, so the games' deadlines are spread as they would be in real
  // play (games started in the same instant would all resolve, and re-render, in one burst).
  const t0 = Date.now();
  await pool(groups, 8, async (ps, g) => {
    const wait = t0 + (g * ROUND_SECONDS * 1000) / games - Date.now();
    if (wait > 0) await sleep(wait);
    const res = await ps[0]!.start(codes[g]!);
    if (res.status !== 303) throw new Error(`start ${codes[g]}: ${res.status}`);
  });
  await waitFor(() => bots.every((b) => b.round >= 1), 30_000, 'every bot to see round 1', 100);
  const setupS = (Date.now() - setup0) / 1000;

  await sleep(WARMUP_MS);
  const m0 = await metrics(node.url);
  const from = Date.now();
  const cpu0 = process.cpuUsage();
  const bytes0 = bots.reduce((n, b) => n + b.bytes, 0);
  await sleep(WINDOW_MS);
  const to = Date.now();
  const cpu1 = process.cpuUsage(cpu0);
  const bytes1 = bots.reduce((n, b) => n + b.bytes, 0);
  const m1 = await metrics(node.url);
  for (const b of bots) b.stop();
  if (process.env.BENCH_NODE_OPTIONS) {
    // Diagnostics (e.g. --cpu-prof) need a clean exit.
    node.signal('SIGTERM');
    await Promise.race([node.exited, sleep(10_000)]);
  }
  await node.kill();

  const secs = (to - from) / 1000;
  const acks = bots.flatMap((b) => inWindow(b.acks, from, to));
  const lag = bots
    .filter((_, i) => i % PLAYERS_PER_GAME === PLAYERS_PER_GAME - 1)
    .flatMap((b) => inWindow(b.serverLag, from, to));
  const seen = bots.flatMap((b) => inWindow(b.clientLag, from, to));
  const refusals: Record<string, number> = {};
  for (const b of bots) for (const [k, v] of b.refusals) refusals[k] = (refusals[k] ?? 0) + v;
  const cpuSeconds = (body: string) => metric(body, 'minotaur_process_cpu_seconds_total') ?? NaN;
  return {
    games,
    sockets: bots.length,
    playingAtEnd: new Set(bots.filter((b) => !b.over).map((b) => b.code)).size,
    actions: acks.length,
    ackP50: pct(acks, 50),
    ackP95: pct(acks, 95),
    ackP99: pct(acks, 99),
    lagP50: pct(lag, 50),
    lagP95: pct(lag, 95),
    lagMax: pct(lag, 100),
    seenLagP50: pct(seen, 50),
    seenLagP95: pct(seen, 95),
    rounds: lag.length,
    earlyRounds: bots
      .filter((_, i) => i % PLAYERS_PER_GAME === PLAYERS_PER_GAME - 1)
      .reduce((n, b) => n + b.early, 0),
    refusals,
    rssMB: (metric(m1, 'minotaur_process_resident_memory_bytes') ?? NaN) / 2 ** 20,
    loopP99: (metric(m1, 'minotaur_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    loopMax: (metric(m1, 'minotaur_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    heapMB: (metric(m1, 'minotaur_nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
    nodeCpu: (cpuSeconds(m1) - cpuSeconds(m0)) / secs,
    loadgenCpu: (cpu1.user + cpu1.system) / 1e6 / secs,
    partialKBps: (bytes1 - bytes0) / 1024 / secs,
    setupS,
  };
}

async function main(): Promise<{
  steps: StepResult[];
  roundSeconds: number;
  windowS: number;
  stoppedEarly: boolean;
}> {
  console.log(
    `Players per node — steps of ${STEPS.join(', ')} games × ${PLAYERS_PER_GAME} players, ${ROUND_SECONDS} s rounds, ${WARMUP_MS / 1000} s warm-up + ${WINDOW_MS / 1000} s measured per step`,
  );
  console.log(`machine: ${machine()} (the bots run on the same machine)`);
  const steps: StepResult[] = [];
  let stoppedEarly = false;
  for (const games of STEPS) {
    const r = await step(games);
    steps.push(r);
    console.log(
      `  ${games} games: ack p95 ${fmt(r.ackP95)} ms, lag p95 ${fmt(r.lagP95)} ms, rss ${fmt(r.rssMB)} MB, event loop delay p99 ${fmt(r.loopP99)} ms max ${fmt(r.loopMax)} ms, lag samples ${r.rounds}, early ${r.earlyRounds}, node cpu ${fmt(r.nodeCpu * 100, 0)} %, ${
        Object.entries(r.refusals)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || 'no refusals'
      }`,
    );
    if (r.ackP95 > P95_LIMIT_MS) {
      stoppedEarly = games !== STEPS.at(-1);
      break;
    }
  }
  console.log('');
  console.log(
    table(
      [
        'games',
        'sockets',
        'actions/s',
        'ack p50 ms',
        'ack p95 ms',
        'ack p99 ms',
        'round lag p50 ms',
        'lag p95 ms',
        'lag max ms',
        'seen lag p95 ms',
        'node RSS MB',
        'node CPU %',
        'bots CPU %',
        'pushed KB/s',
      ],
      steps.map((r) => [
        String(r.games),
        String(r.sockets),
        fmt(r.actions / (WINDOW_MS / 1000), 0),
        fmt(r.ackP50),
        fmt(r.ackP95),
        fmt(r.ackP99),
        fmt(r.lagP50),
        fmt(r.lagP95),
        fmt(r.lagMax),
        fmt(r.seenLagP95),
        fmt(r.rssMB, 0),
        fmt(r.nodeCpu * 100, 0),
        fmt(r.loadgenCpu * 100, 0),
        fmt(r.partialKBps, 0),
      ]),
    ),
  );
  if (stoppedEarly) console.log(`stopped stepping: ack p95 above ${P95_LIMIT_MS} ms`);
  return { steps, roundSeconds: ROUND_SECONDS, windowS: WINDOW_MS / 1000, stoppedEarly };
}

await runBench('capacity', QUICK ? 120_000 : 200_000, main);
