// Benchmark (not a timed test): live-update latency. Run: npx tsx bench/live.bench.ts [--quick]
//
// Two players A and B in a 2-player game. Each measured round, B submits first (and waits for
// its ack), then A submits the action that completes the round, so the owner resolves it at
// once; the time from A's send until B's socket receives the update that changes the status is
// one sample. Both sockets connect as the game page does (its socket address, so they are sent
// trees, read with the page's own reader). Two setups:
//   - single node: A, B and the game on one node;
//   - 3-node cluster: the game owned by n1, A connected to n2, B to n3 — A's action is
//     forwarded n2 → n1, resolved, replicated to n2 and n3, and n3 pushes B's partials.
// Baseline, same run, same machine: a bare `ws` server in its own process that answers each
// small message with one of the size B receives per update (the floor for any push over a
// WebSocket here), and the same server relaying A's message to B's socket.
//
// Games are rotated (a player may send at most 10 actions a second) and replaced when over.

import WebSocket from 'ws';
import { TestCluster } from '../test/support/cluster.js';
import { freePort, startNode, tempDir, type NodeProcess } from '../test/support/node-process.js';
import { LiveConnection, type Player } from '../test/support/player.js';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  now,
  onCleanup,
  liveSocketPath,
  openGame,
  pct,
  runBench,
  signupMany,
  sleep,
  spawnModule,
  statusIn,
  table,
  track,
} from './support.js';
import { WireReader } from './players-wire.js';

const ROUNDS = Number(process.env.BENCH_LIVE_ROUNDS ?? (QUICK ? 60 : 300));
const WARMUP = QUICK ? 10 : 30;
const GAMES = 8; // games in rotation
const MIN_GAP_MS = 150; // per game, so no player exceeds the 10 actions/s limit
const STEP_TIMEOUT_MS = 5000;
const MODE_LIMIT_MS = QUICK ? 30_000 : 90_000;

/** A socket whose messages can be awaited without polling. */
class Wire {
  readonly conn: LiveConnection;
  private waiters: { pred: (raw: string) => boolean; resolve: (t: number) => void }[] = [];
  bytes: number[] = [];
  /** The page's reader: the socket asks for trees, as a page does. */
  private readonly reader = new WireReader();
  round = 0;
  over = false;

  constructor(url: string, cookie: string, origin: string) {
    this.conn = new LiveConnection(
      new WebSocket(url, { headers: { cookie, origin }, perMessageDeflate: false }),
    );
    this.conn.ws.on('message', (data: Buffer) => {
      const t = now();
      const wire = data.toString();
      this.conn.messages.length = 0; // LiveConnection keeps every message; we do not need them
      const raw = this.reader.shown(wire);
      const s = statusIn(raw);
      if (s) {
        if (s.over) this.over = true;
        else this.round = Math.max(this.round, s.round);
      }
      for (const w of [...this.waiters]) {
        if (w.pred(raw)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          if (s) this.bytes.push(Buffer.byteLength(wire));
          w.resolve(t);
        }
      }
    });
  }

  next(pred: (raw: string) => boolean, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (t: number) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for ${what}`));
      }, STEP_TIMEOUT_MS);
      this.waiters.push(w);
    });
  }

  act(round: number): { sent: number; ack: Promise<number> } {
    const actionId = randomUUID();
    const ack = this.next((raw) => raw.includes(`"actionId":"${actionId}"`), `ack of ${actionId}`);
    const sent = now();
    this.conn.send({ type: 'act', actionId, round, kind: 'defend' });
    return { sent, ack };
  }

  close(): void {
    this.conn.ws.terminate();
  }
}

interface Pair {
  a: Player;
  b: Player;
  code: string;
  wa: Wire;
  wb: Wire;
  last: number;
}

export interface ModeResult {
  mode: string;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  ackP50: number;
  ackP95: number;
  updateBytes: number;
  games: number;
}

/** The address of `player`'s page of `code`'s live socket (as the page names it) on `node`. */
const wsUrl = async (node: NodeProcess, player: Player, code: string) =>
  node.url.replace(/^http/, 'ws') + (await liveSocketPath(player, `/games/${code}`));

/**
 * A's action → B's update, `rounds` times (and a warm-up), with the game on `owner`, A on `viaA`, B
 * on `viaB`.
 */
export async function measure(
  mode: string,
  owner: NodeProcess,
  viaA: NodeProcess,
  viaB: NodeProcess,
  rounds = ROUNDS,
): Promise<ModeResult> {
  const players = await signupMany(owner.url, GAMES * 2, 'lv', 4);
  let gamesOpened = 0;
  const open = async (a: Player, b: Player): Promise<Pair> => {
    const code = await openGame([a, b]);
    gamesOpened++;
    const wa = new Wire(await wsUrl(viaA, a, code), a.cookie, viaA.url);
    const wb = new Wire(await wsUrl(viaB, b, code), b.cookie, viaB.url);
    const firstB = wb.next((raw) => statusIn(raw) !== null, 'B first render');
    await Promise.all([wa.conn.opened, wb.conn.opened, firstB]);
    return { a, b, code, wa, wb, last: 0 };
  };
  const pairs: Pair[] = [];
  for (let i = 0; i < GAMES; i++) pairs.push(await open(players[2 * i]!, players[2 * i + 1]!));
  onCleanup(() => {
    for (const p of pairs) {
      p.wa.close();
      p.wb.close();
    }
  });

  // The time limit counts from here: opening the games takes seconds more between hosts 50 ms
  // apart, and in a quick run it left no time to measure.
  const deadline = Date.now() + MODE_LIMIT_MS;
  const lat: number[] = [];
  const acks: number[] = [];
  const bytes: number[] = [];
  let i = 0;
  for (let n = 0; n < rounds + WARMUP && Date.now() < deadline; n++, i = (i + 1) % GAMES) {
    let p = pairs[i]!;
    if (p.wb.over || p.wa.over) {
      p.wa.close();
      p.wb.close();
      p = pairs[i] = await open(p.a, p.b);
    }
    const wait = p.last + MIN_GAP_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const round = p.wb.round;
    // B first: its action does not complete the round.
    await p.wb.act(round).ack;
    const changed = p.wb.next((raw) => {
      const s = statusIn(raw);
      return s !== null && (s.over || s.round > round);
    }, `B to see round ${round} of ${p.code} resolved`);
    const { sent, ack } = p.wa.act(round);
    const [tB, tAck] = await Promise.all([changed, ack]);
    p.last = Date.now();
    if (n >= WARMUP) {
      lat.push(tB - sent);
      acks.push(tAck - sent);
      bytes.push(p.wb.bytes.at(-1) ?? 0);
    }
  }
  for (const p of pairs) {
    p.wa.close();
    p.wb.close();
  }
  return {
    mode,
    samples: lat.length,
    p50: pct(lat, 50),
    p95: pct(lat, 95),
    p99: pct(lat, 99),
    max: pct(lat, 100),
    ackP50: pct(acks, 50),
    ackP95: pct(acks, 95),
    updateBytes: Math.round(pct(bytes, 50)),
    games: gamesOpened,
  };
}

/** Bare ws: echo round trip, and A → server → B relay, with a reply of `size` bytes. */
async function baseline(size: number): Promise<ModeResult[]> {
  const { child, firstLine } = spawnModule({
    file: 'bench/live-echo-server.ts',
    args: [String(MODE_LIMIT_MS)],
  });
  const port = Number(await firstLine);
  const url = `ws://127.0.0.1:${port}`;
  const open = async () => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    return ws;
  };
  const [a, b] = [await open(), await open()];
  const once = (ws: WebSocket) =>
    new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('echo timed out')), STEP_TIMEOUT_MS);
      ws.once('message', () => {
        clearTimeout(t);
        resolve(now());
      });
    });
  const run = async (relay: boolean): Promise<ModeResult> => {
    const lat: number[] = [];
    for (let n = 0; n < ROUNDS + WARMUP; n++) {
      const got = once(relay ? b : a);
      const sent = now();
      a.send(JSON.stringify({ n, size, relay }));
      const t = await got;
      if (n >= WARMUP) lat.push(t - sent);
      await sleep(MIN_GAP_MS / GAMES);
    }
    return {
      mode: relay ? 'baseline: bare ws relay A → server → B' : 'baseline: bare ws echo round trip',
      samples: lat.length,
      p50: pct(lat, 50),
      p95: pct(lat, 95),
      p99: pct(lat, 99),
      max: pct(lat, 100),
      ackP50: NaN,
      ackP95: NaN,
      updateBytes: size,
      games: 0,
    };
  };
  const out = [await run(false), await run(true)];
  a.close();
  b.close();
  child.kill();
  return out;
}

export async function main(): Promise<{ rows: ModeResult[]; rounds: number }> {
  console.log(
    `Live-update latency — ${ROUNDS} measured rounds per setup (after ${WARMUP} warm-up), ${GAMES} 2-player games in rotation`,
  );
  console.log(`machine: ${machine()}`);
  const rows: ModeResult[] = [];

  // Single node.
  const port = await freePort();
  const single = track(
    startNode({
      host: '127.0.0.2',
      port,
      nodeId: 'solo',
      databasePath: join(tempDir('minotaur-bench-live-'), 'minotaur.db'),
      env: { ...NODE_ENV_BASE, ROUND_SECONDS: '60' },
    }),
  );
  await single.ready(30_000);
  rows.push(await measure('single node (A, B, owner on one node)', single, single, single));
  await single.kill();

  // Three nodes: owner n1, A on n2, B on n3.
  const cluster = await TestCluster.start(['127.0.0.2', '127.0.0.3', '127.0.0.4'], {
    env: { ...NODE_ENV_BASE, ROUND_SECONDS: '60' },
  });
  cluster.nodes.forEach(track);
  onCleanup(() => cluster.close());
  const [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
  rows.push(await measure('3-node cluster (owner n1, A on n2, B on n3)', n1, n2, n3));
  await cluster.close();

  rows.push(...(await baseline(rows[0]!.updateBytes)));

  console.log('');
  console.log(
    table(
      [
        'setup',
        'samples',
        'A act → B update p50 ms',
        'p95 ms',
        'p99 ms',
        'max ms',
        'A ack p50 ms',
        'A ack p95 ms',
        'update bytes',
        'games',
      ],
      rows.map((r) => [
        r.mode,
        String(r.samples),
        fmt(r.p50, 2),
        fmt(r.p95, 2),
        fmt(r.p99, 2),
        fmt(r.max, 2),
        fmt(r.ackP50, 2),
        fmt(r.ackP95, 2),
        String(r.updateBytes),
        r.games ? String(r.games) : '—',
      ]),
    ),
  );
  return { rows, rounds: ROUNDS };
}

// Run directly (bench/index.ts does); bench/hosts.bench.ts imports measure().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await runBench('live', QUICK ? 90_000 : 180_000, main);
