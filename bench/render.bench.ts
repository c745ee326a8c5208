// Benchmark (not a timed test): a node's live render path alone, in one process, for comparing
// builds. Run: npm run build && npx tsx bench/render.bench.ts [DIST …]
//
// 100 games of five heroes, played by the rules from seeds (test/unit/live/corpus.ts), each
// watched by its five players' pages (sockets that only count what they are sent). Every state
// of every game is shown to its pages, game after game; reported: CPU per state (building the
// trees, diffing them, writing the message text) and bytes per message by what the state was
// (a hero acted, a round resolved, table talk). Then two byte counts: a game of five whose
// heroes go on talking at a full table (each line pushes the oldest of the CHAT_KEEP kept out),
// and the lobby: 25 lobby pages (20 of viewers in no game, 5 of hosts) through 600 seeded
// changes of the lists (games opened, joined, started, a hero fallen, ended), each page rendered
// after each change. Last, what the largest messages of a round resolved carry (templates' fixed
// text, and bytes per partial), in those games and in games whose heroes act as the players
// benchmark's load client does. No network: the socket writes and everything else a node does
// are left out, so the numbers move only with the render path.
//
// Each DIST is a build's dist directory (default: this checkout's). Several are measured in
// turn, three passes each, alternating, so a comparison of two builds shares the machine's mood.
// Baseline, same run: each build's whole-partials format (what pages of an earlier release ask
// for: every changed partial as HTML), against this release's (trees, one stream per game),
// with pages that hold the release's template table (as pages whose cached script loaded) and
// pages that do not.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { CHAT_KEEP, createGame, joinGame, say, startGame } from '../src/game/index.js';
import type { GameState } from '../src/game/types.js';
import type { GameSource } from '../src/live/source.js';
import { playedGame } from '../test/unit/live/corpus.js';
import { fmt, machine, pct, PLAYERS_MIX, table } from './support.js';

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
  /** What each page's message for a round resolved carries (patch format only). */
  resolved: Carried[];
}

/** A render message's bytes: in all, of templates' fixed text ("t"), and per partial. */
interface Carried {
  bytes: number;
  statics: number;
  parts: Record<string, number>;
}

function carried(text: string): Carried {
  const m = JSON.parse(text) as {
    t?: object;
    p?: Record<string, unknown>;
    g?: { t?: object; p?: Record<string, unknown> };
  };
  // `{}` when there is none.
  const fixed = (t: object | undefined) => (t ? JSON.stringify(t).length - 2 : 0);
  const parts: Record<string, number> = {};
  for (const [target, change] of Object.entries(m.p ?? {}))
    parts[`own ${target}`] = Buffer.byteLength(JSON.stringify(change));
  for (const [target, change] of Object.entries(m.g?.p ?? {}))
    parts[`shared ${target}`] = Buffer.byteLength(JSON.stringify(change));
  return { bytes: Buffer.byteLength(text), statics: fixed(m.t) + fixed(m.g?.t), parts };
}

/** The games played from seeds, each as the states its pages are shown. */
type Shown = ReturnType<typeof playedGame>;

/**
 * What the pages ask for: trees holding the release's template table (as pages whose cached
 * script loaded), trees without it, or whole partials (pages of an earlier release).
 */
type Format = 'patch+table' | 'patch' | 'html';
const FORMATS: readonly Format[] = ['patch', 'patch+table', 'html'];

async function pass(dist: string, format: Format, games: () => Iterable<Shown>): Promise<Pass> {
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
  const resolved: Carried[] = [];
  let kind: Kind = 'other';
  let cpu = 0;
  let states = 0;
  for (const shown of games()) {
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
      format: format === 'html' ? ('html' as const) : ('patch' as const),
      table: format === 'patch+table',
      shownGame: state.id,
    };
    const wire = new CountingWire((text) => {
      if (text.startsWith('{"type":"render"') || text.startsWith('<hx-partial'))
        bytes[kind].push(Buffer.byteLength(text));
      if (kind === 'resolved' && text.startsWith('{"type":"render"')) resolved.push(carried(text));
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
  return { cpuMsPerState: cpu / states, bytes, resolved };
}

function* played(): Iterable<Shown> {
  for (let g = 0; g < GAMES; g++) yield playedGame(1000 + g, 5, { maxRounds: 30 });
}

/** Lines said at a table already full (CHAT_KEEP lines kept): each pushes the oldest out. */
const TALK_LINES = 120;

/** A game of five whose heroes talk: CHAT_KEEP lines, then TALK_LINES more, each one state. */
function* talk(): Iterable<Shown> {
  const [start] = playedGame(1, 5, { maxRounds: 1 }).filter((s) => s.label === 'started');
  let state = start!.state;
  const shown: Shown = [{ label: 'started', state }];
  for (let n = 0; n < CHAT_KEEP + TALK_LINES; n++) {
    const said = say(state, String(1 + (n % 5)), `line ${n}: the Minotaur went west`);
    if (!said.ok) throw new Error(said.message);
    state = said.state;
    // Only the lines said at a full table are counted.
    shown.push({ label: n < CHAT_KEEP ? 'filling' : 'said', state });
  }
  yield shown;
}

/** Lobby updates: churn of games opened, joined, started, a hero fallen, ended. */
const LOBBY_EVENTS = Number(process.env.BENCH_RENDER_LOBBY_EVENTS ?? 600);
/** Lobby pages: viewers in none of the games, and hosts of the first games opened. */
const LOBBY_VIEWERS = 20;
const LOBBY_HOSTS = 5;

/** A seeded random number in [0, 1) (the same churn for every build and format). */
function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/**
 * The lobby's churn, one state per event: games opened (on top of the open list), joined,
 * started (moved to the top of the games being played), a hero fallen, a game ended.
 */
function lobbyChurn(): GameState[][] {
  const rnd = seeded(7);
  const all = new Map<string, GameState>();
  const out: GameState[][] = [];
  let t = 1000;
  let opened = 0;
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const put = (g: GameState) => {
    all.set(g.code, g);
    out.push([...all.values()].filter((x) => x.status !== 'finished'));
  };
  const open = () => {
    const code = `G${String(opened).padStart(3, '0')}`;
    const host = `h${opened++}`;
    put(
      createGame({
        id: code,
        code,
        seed: opened,
        creator: { id: host, name: host },
        now: t++,
        roundMs: 2000,
      }),
    );
  };
  for (let i = 0; i < 12; i++) open();
  out.length = 0;
  out.push([...all.values()]);
  while (out.length <= LOBBY_EVENTS) {
    const games = [...all.values()];
    const openGames = games.filter((g) => g.status === 'open');
    const playing = games.filter((g) => g.status === 'playing');
    const r = rnd();
    if (openGames.length < 5 || (r < 0.3 && openGames.length < 30)) open();
    else if (r < 0.6) {
      const g = pick(openGames.filter((x) => x.players.length < 8));
      const id = `p${t++}`;
      const joined = g && joinGame(g, { id, name: id }, t);
      if (joined?.ok) put(joined.state);
    } else if (r < 0.75) {
      const g = pick(openGames.filter((x) => x.players.length >= 2));
      const started = g && startGame(g, g.createdBy, t++);
      if (started?.ok) put(started.state);
    } else if (r < 0.9) {
      const g = pick(playing.filter((x) => x.players.filter((p) => p.alive).length > 1));
      const hero = g?.players.find((p) => p.alive);
      if (g && hero)
        put({ ...g, players: g.players.map((p) => (p === hero ? { ...p, alive: false } : p)) });
    } else {
      const g = pick(playing);
      if (g) put({ ...g, status: 'finished' });
    }
  }
  return out;
}

/** Bytes of every lobby update (after each page's first render) through a build's lobby. */
async function lobbyPass(
  dist: string,
  format: 'patch' | 'html',
  churn: GameState[][],
): Promise<number[]> {
  const url = (m: string) => pathToFileURL(resolve(dist, m)).href;
  const { LobbyFeed, LobbyLiveSocket } = (await import(
    url('live/lobby-socket.js')
  )) as typeof import('../src/live/lobby-socket.js');
  const { InboundBudget } = (await import(
    url('live/inbound.js')
  )) as typeof import('../src/live/inbound.js');
  let games: GameState[] = churn[0]!;
  let heard: (code: string) => void = () => undefined;
  const feed = new LobbyFeed({
    game: (code) => games.find((g) => g.code === code),
    lobbyGames: () => games,
    subscribe: (l) => ((heard = l), () => undefined),
  });
  const sizes: number[] = [];
  let counting = false;
  const wire = new CountingWire((text) => {
    if (counting) sizes.push(Buffer.byteLength(text));
  });
  const ids = [
    ...Array.from({ length: LOBBY_VIEWERS }, (_, i) => `v${i}`),
    ...Array.from({ length: LOBBY_HOSTS }, (_, i) => `h${i}`),
  ];
  const pages = ids.map((id) => {
    const page = new LobbyLiveSocket(
      wire,
      { id, username: id },
      feed,
      pino({ level: 'silent' }),
      new InboundBudget(),
      'a-token-of-forty-three-characters-xxxxxxxx',
      1,
      format,
    );
    page.start();
    // Rendered at once after each change (a live page renders 100 ms after it), one by one.
    return page as unknown as { render(): void };
  });
  counting = true;
  for (const next of churn.slice(1)) {
    const before = new Map(games.map((g) => [g.code, g]));
    games = next;
    const changed = new Set([...before.keys(), ...games.map((g) => g.code)]);
    for (const code of changed)
      if (before.get(code) !== games.find((g) => g.code === code)) heard(code);
    for (const page of pages) page.render();
  }
  return sizes;
}

console.log(
  `Live render path — ${GAMES} games of 5, every state shown to 5 pages, ${PASSES} passes per build`,
);
console.log(`machine: ${machine()}`);
const runs = new Map<string, Pass[]>();
for (let i = 0; i < PASSES; i++)
  for (const b of builds)
    for (const format of FORMATS) {
      const p = await pass(b, format, played);
      const name = `${b} ${format}`;
      runs.set(name, [...(runs.get(name) ?? []), p]);
      console.log(`  ${name} pass ${i + 1}: ${p.cpuMsPerState.toFixed(3)} ms CPU per state`);
    }
// Table talk at a full table, once per build and format (bytes only).
const fullTable = new Map<string, number[]>();
for (const b of builds)
  for (const format of FORMATS)
    fullTable.set(`${b} ${format}`, (await pass(b, format, talk)).bytes.talk);
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
    `${fmt(pct(fullTable.get(b)!, 50), 0)} (${fmt(pct(fullTable.get(b)!, 99), 0)})`,
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
      `a line at a full table (${CHAT_KEEP} lines) B`,
    ],
    rows,
  ),
);
// What the largest messages of a round resolved are made of (this checkout's build, patch): in
// the games above, and in games whose heroes act as the players benchmark's load client does.
function carriedSummary(label: string, all: Carried[]): string {
  const p99 = pct(
    all.map((c) => c.bytes),
    99,
  );
  const withFixed = all.filter((c) => c.statics > 0);
  const top = all.filter((c) => c.bytes >= p99);
  const byPart = new Map<string, number>();
  for (const c of top)
    for (const [part, n] of Object.entries(c.parts))
      byPart.set(part, (byPart.get(part) ?? 0) + n / top.length);
  const share = (100 * withFixed.length) / all.length;
  const fixed = pct(
    withFixed.map((c) => c.statics),
    50,
  );
  const without = pct(
    all.map((c) => c.bytes - c.statics),
    99,
  );
  const topFixed = top.reduce((a, c) => a + c.statics, 0) / top.length;
  const parts = [...byPart]
    .sort((a, b) => b[1] - a[1])
    .map(([part, n]) => `${part} ${fmt(n, 0)}`)
    .join(', ');
  return (
    `Round resolved, ${label}: ${all.length} messages, p99 ${fmt(p99, 0)} B; ` +
    `${fmt(share, 1)} % carry templates' fixed text (median ${fmt(fixed, 0)} B of it); ` +
    `without that text p99 would be ${fmt(without, 0)} B. The largest 1 % (${top.length}): ` +
    `fixed text ${fmt(topFixed, 0)} B on average, and by partial: ${parts} B`
  );
}
function* playedLikeLoad(): Iterable<Shown> {
  for (let g = 0; g < GAMES; g++) yield playedGame(2000 + g, 5, { asLoadClient: PLAYERS_MIX });
}
console.log(
  carriedSummary(
    `the games above (${builds[0]!} patch)`,
    runs.get(`${builds[0]!} patch`)!.at(-1)!.resolved,
  ),
);
for (const format of ['patch', 'patch+table'] as const)
  console.log(
    carriedSummary(
      `${GAMES} games of five whose heroes act as the players benchmark's load client does (${format})`,
      (await pass(builds[0]!, format, playedLikeLoad)).resolved,
    ),
  );
const churn = lobbyChurn();
const lobbyRows: string[][] = [];
for (const b of builds)
  for (const format of ['patch', 'html'] as const) {
    const sizes = await lobbyPass(b, format, churn);
    const total = sizes.reduce((a, x) => a + x, 0);
    lobbyRows.push([
      `${b} ${format}`,
      String(sizes.length),
      `${fmt(pct(sizes, 50), 0)} (${fmt(pct(sizes, 99), 0)})`,
      fmt(total / sizes.length, 0),
      fmt(total / (churn.length - 1) / (LOBBY_VIEWERS + LOBBY_HOSTS), 0),
    ]);
  }
console.log(
  `Lobby: ${churn.length - 1} changes (games opened, joined, started, a hero fallen, ended), ${LOBBY_VIEWERS + LOBBY_HOSTS} pages (${LOBBY_HOSTS} of hosts)`,
);
console.log(
  table(
    ['build and format', 'messages', 'B p50 (p99)', 'B mean', 'B per page per change'],
    lobbyRows,
  ),
);
