// Benchmark (not a timed test): memory per game over 100,000 actions, with games ending and new
// ones starting all along. Run: npx tsx bench/memory.bench.ts [--quick]
//
// One node (FINISHED_GAME_SECONDS=5: a finished game leaves the replica 5 s after it ended, as it
// does after 5 minutes by default), TABLES tables of five players. Each table plays games back
// to back, as players who press "new game" would: create, join, five live sockets on the page's
// wire, start; every living player acts at a random moment in the first 300 ms of each round
// (rounds end when the last one acts), one action in ten comes with an emote; when the game is
// over, the sockets close and the table opens its next game.
//
// Every 10,000 accepted actions: the node's heap right after a full garbage collection (through
// the inspector), its RSS, the games in its replica and the games ended so far. Flat means the
// heap after GC does not grow with the games that ended: what a game kept (its frames, trees,
// subscribers) goes with it.

import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, startNode, tempDir } from '../test/support/node-process.js';
import type { Player } from '../test/support/player.js';
import { WireReader } from './players-wire.js';
import { Profiler } from './profile.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  liveSocketPath,
  machine,
  metric,
  metrics,
  openGame,
  runBench,
  signupMany,
  sleep,
  table,
  track,
} from './support.js';

const TABLES = Number(process.env.BENCH_MEMORY_TABLES ?? (QUICK ? 20 : 100));
const ACTIONS = Number(process.env.BENCH_MEMORY_ACTIONS ?? (QUICK ? 10_000 : 100_000));
const SAMPLE_EVERY = ACTIONS / 10;
const HOST = '127.0.0.2';
const EMOTES = ['gg', 'nice', 'oops', 'run'];
const DIRS = ['e', 'ne', 'nw', 'w', 'sw', 'se'];

interface Sample {
  actions: number;
  gamesEnded: number;
  gamesReplicated: number;
  heapMB: number;
  rssMB: number;
  seconds: number;
}

let accepted = 0;
let gamesEnded = 0;
let failedGames = 0;
let stopped = false;
const refusals: Record<string, number> = {};

/** One player's live socket for one game; resolves when the game is over for this page. */
function seat(
  base: string,
  origin: string,
  p: Player,
  path: string,
): { opened: Promise<void>; done: Promise<void>; ws: WebSocket } {
  const ws = new WebSocket(`${base}${path}`, {
    headers: { cookie: p.cookie, origin },
    perMessageDeflate: false,
  });
  const reader = new WireReader();
  let acted = 0;
  let out = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  ws.on('message', (data: Buffer) => {
    const raw = data.toString();
    if (reader.isData(raw)) {
      const m = JSON.parse(raw) as { type?: string; code?: string };
      if (m.type === 'ack') accepted++;
      else if (m.type === 'error') {
        refusals[String(m.code)] = (refusals[String(m.code)] ?? 0) + 1;
        if (m.code === 'eliminated') out = true;
      }
      return;
    }
    const status = reader.read(raw);
    if (!status) return;
    if (status.over) return finish();
    if (out || stopped || status.round <= acted || !status.waiting?.includes(p.username)) return;
    const round = (acted = status.round);
    setTimeout(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const r = Math.random();
      const kind = r < 0.2 ? 'move' : r < 0.3 ? 'attack' : 'defend';
      ws.send(
        JSON.stringify({
          type: 'act',
          actionId: crypto.randomUUID(),
          round,
          kind,
          ...(kind === 'defend' ? {} : { dir: DIRS[Math.floor(Math.random() * 6)] }),
        }),
      );
      if (Math.random() < 0.1)
        ws.send(
          JSON.stringify({
            type: 'react',
            emote: EMOTES[Math.floor(Math.random() * EMOTES.length)],
          }),
        );
    }, Math.random() * 300);
  });
  ws.on('close', () => finish());
  ws.on('error', () => finish());
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { opened, done, ws };
}

/** A table of five playing games back to back until the run stops. */
async function playTable(base: string, ps: Player[]): Promise<void> {
  while (!stopped) {
    try {
      await playGame(base, ps);
      gamesEnded++;
    } catch (e) {
      // A request that timed out on a loaded machine: that game is left open, the table goes on.
      if (++failedGames > 50) throw e;
      await sleep(1000);
    }
  }
}

async function playGame(base: string, ps: Player[]): Promise<void> {
  const code = await openGame(ps, false);
  const path = await liveSocketPath(ps[0]!, `/games/${code}`);
  const seats = ps.map((p) => seat(base.replace(/^http/, 'ws'), base, p, path));
  try {
    await Promise.all(seats.map((s) => s.opened));
    const res = await ps[0]!.start(code);
    if (res.status !== 303) throw new Error(`start ${code}: ${res.status}`);
    // A game lasts at most 60 rounds; one that hangs past this is a failure of the node.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`game ${code} not over after 180 s`)), 180_000);
    });
    await Promise.race([Promise.all(seats.map((s) => s.done)), limit]).finally(() =>
      clearTimeout(timer),
    );
  } finally {
    for (const s of seats) s.ws.close();
  }
}

async function main(): Promise<{
  tables: number;
  samples: Sample[];
  refusals: Record<string, number>;
  failedGames: number;
}> {
  console.log(
    `Memory over ${fmt(ACTIONS, 0)} actions — ${TABLES} tables of 5 playing games back to back; finished games dropped 5 s after they end`,
  );
  console.log(`machine: ${machine()}; the players run in this process, on the same machine`);
  const port = await freePort([HOST]);
  const inspectPort = await freePort([HOST]);
  const node = track(
    startNode({
      host: HOST,
      port,
      nodeId: 'memory',
      databasePath: join(tempDir('minotaur-bench-memory-'), 'minotaur.db'),
      env: {
        ...NODE_ENV_BASE,
        PASSWORD_COST: '10',
        ROUND_SECONDS: '10',
        FINISHED_GAME_SECONDS: '5',
        NODE_OPTIONS: `--inspect=${HOST}:${inspectPort}`,
      },
    }),
  );
  await node.ready(30_000);
  const url = node.raw.find((l) => l.includes('Debugger listening on'))?.match(/ws:\/\/\S+/)?.[0];
  if (!url) throw new Error('the node did not announce its inspector');
  const inspector = new Profiler();
  await inspector.attach(url);
  const players = await signupMany(node.url, TABLES * 5, 'mem', 32);
  const tables = Array.from({ length: TABLES }, (_, t) => players.slice(t * 5, t * 5 + 5));

  const t0 = Date.now();
  const samples: Sample[] = [];
  const sample = async (): Promise<void> => {
    const heap = await inspector.heapAfterGc();
    const m = await metrics(node.url);
    const s: Sample = {
      actions: accepted,
      gamesEnded,
      gamesReplicated: metric(m, 'minotaur_games_replicated') ?? NaN,
      heapMB: heap / 2 ** 20,
      rssMB: (metric(m, 'minotaur_process_resident_memory_bytes') ?? NaN) / 2 ** 20,
      seconds: (Date.now() - t0) / 1000,
    };
    samples.push(s);
    console.log(
      `  ${fmt(s.actions, 0)} actions, ${s.gamesEnded} games ended, ${s.gamesReplicated} in the replica: heap after GC ${fmt(s.heapMB, 1)} MB, RSS ${fmt(s.rssMB, 0)} MB (${fmt(s.seconds, 0)} s${failedGames ? `, ${failedGames} games abandoned on a failed request` : ''})`,
    );
  };
  await sample();
  const playing = Promise.all(tables.map((ps) => playTable(node.url, ps)));
  playing.catch(() => undefined);
  let next = SAMPLE_EVERY;
  const deadline = Date.now() + (QUICK ? 240_000 : 900_000);
  while (accepted < ACTIONS) {
    if (Date.now() > deadline) throw new Error(`only ${accepted} actions in the time allowed`);
    await Promise.race([sleep(200), playing]);
    if (accepted >= next) {
      next += SAMPLE_EVERY;
      await sample();
    }
  }
  stopped = true;
  // Every table's last game ends on its own (players stop acting: rounds end on their deadline).
  // Close what is left: after that and the 5 s retention, the node holds no game at all.
  await sleep(1000);
  await inspector.heapAfterGc();
  inspector.close();

  const first = samples[1] ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const perGameKB =
    ((last.heapMB - first.heapMB) * 1024) / Math.max(1, last.gamesEnded - first.gamesEnded);
  console.log('');
  console.log(
    table(
      ['actions', 'games ended', 'games in replica', 'heap after GC MB', 'RSS MB', 's'],
      samples.map((s) => [
        fmt(s.actions, 0),
        fmt(s.gamesEnded, 0),
        fmt(s.gamesReplicated, 0),
        fmt(s.heapMB, 1),
        fmt(s.rssMB, 0),
        fmt(s.seconds, 0),
      ]),
      [],
    ),
  );
  console.log(
    `heap growth from ${fmt(first.actions, 0)} to ${fmt(last.actions, 0)} actions: ${fmt(last.heapMB - first.heapMB, 1)} MB over ${last.gamesEnded - first.gamesEnded} games ended (${fmt(perGameKB, 1)} KB per ended game); refusals ${JSON.stringify(refusals)}`,
  );
  return { tables: TABLES, samples, refusals, failedGames };
}

await runBench('memory', QUICK ? 300_000 : 1_000_000, main);
