// The load client of the players-per-node benchmark (bench/players.bench.ts), run in a process of
// its own so it never shares an event loop with the orchestrator: one `ws` socket per player,
// each acting once per round at a random moment, and the measurements (act → ack, act → the
// update every other player of the game receives, bytes per message kind, refusals).
//
// Talks to its parent over IPC: init → connected, measure → (window) → stats, stop.
// It understands the server's live messages only as far as it needs: the status partial's round,
// deadline and "waiting for" names, decoded by bench/players-wire.ts.

import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { WireReader, type StatusView } from './players-wire.js';
import type { TemplateTable } from '../test/support/live-page.js';
import { frameBytes, WireFrames } from '../test/support/wire-frames.js';

export interface Seat {
  cookie: string;
  code: string;
  name: string;
  /** The live socket's path, as the game page gives it (hx-ws:connect). */
  path: string;
  /** The node this seat's page is on (http://host:port), when not the init's `origin`. */
  base?: string;
  /** A spectator's page of the game (an account not in it): it never acts, counted apart. */
  watch?: boolean;
}

export interface ClientInit {
  type: 'init';
  /** ws://host:port */
  base: string;
  origin: string;
  seats: Seat[];
  roundMs: number;
  /** Players act at a random moment in the first (roundMs − marginMs) of each round. */
  marginMs: number;
  /** Share of actions that are moves and attacks (the rest defend). */
  moveRate: number;
  attackRate: number;
  connectParallel: number;
  /** Pages that keep the lobby open (people between games): a socket each, counted apart. */
  lobbies?: Lobby[];
  /** The release's template table, which the pages hold (their paths say so). */
  table?: TemplateTable;
  /** Pages compress every message they send (as Chromium does), not only those of 1 KiB. */
  deflateAll?: boolean;
}

/** A lobby page's live socket: an account's cookie and the path the lobby page gives. */
export interface Lobby {
  cookie: string;
  path: string;
}

export interface Dist {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface ClientStats {
  type: 'stats';
  windowS: number;
  actions: number;
  acks: Dist;
  /** Own action → the update that shows it to the player who acted. */
  ownUpdate: Dist;
  /** A's action → each other player of the game receives an update that shows it. */
  othersUpdate: Dist;
  bytes: { own: Dist; other: Dist; round: Dist; first: Dist; ack: Dist };
  /** Bytes received per socket per second in the window (payload + frame header). */
  bytesPerSocketPerS: number;
  refusals: Record<string, number>;
  /** `stale-round` refusals of actions sent before their round's deadline. */
  lateRefusals: number;
  rounds: number;
  /** Sockets closed, by close code. */
  closes: Record<string, number>;
  clientCpu: number;
  clientLoopP99Ms: number;
  playing: number;
  over: number;
  /** The lobby pages: how many were open, what each received per second in the window. */
  lobby: { sockets: number; messagesPerS: number; bytesPerS: number };
  /**
   * The spectators' pages: how many were open, a player's action → each spectator of the game
   * receives an update that shows it, and what each received per second in the window.
   */
  spectators: { sockets: number; update: Dist; bytesPerS: number };
}

type Kind = 'own' | 'other' | 'round' | 'first' | 'ack';

const DIRS = ['e', 'ne', 'nw', 'w', 'sw', 'se'];

class Samples {
  private xs: number[] = [];
  add(x: number): void {
    this.xs.push(x);
  }
  reset(): void {
    this.xs = [];
  }
  dist(): Dist {
    const s = this.xs.sort((a, b) => a - b);
    const at = (p: number) =>
      s.length
        ? (s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number)
        : NaN;
    return {
      n: s.length,
      p50: at(50),
      p95: at(95),
      p99: at(99),
      max: at(100),
      mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
    };
  }
}

interface Pending {
  id: string;
  actor: Player;
  round: number;
  sentAt: number;
  /** Date.now() at send, to compare with the round's deadline. */
  sentEpoch: number;
  /** Players of the game that have not yet received an update showing it. */
  unseen: Set<Player>;
  ackBytes: number;
}

class Game {
  readonly players: Player[] = [];
  /** Spectators' pages (never act). */
  readonly watchers: Player[] = [];
  /** Actions of the current rounds not yet shown to every player. */
  pending: Pending[] = [];
}

let measuring = false;
let bytesInWindow = 0;
const acks = new Samples();
const ownUpdate = new Samples();
const othersUpdate = new Samples();
const watchUpdate = new Samples();
let watcherBytes = 0;
const bytes: Record<Kind, Samples> = {
  own: new Samples(),
  other: new Samples(),
  round: new Samples(),
  first: new Samples(),
  ack: new Samples(),
};
let actions = 0;
let rounds = 0;
let lateRefusals = 0;
const refusals = new Map<string, number>();
const closes: Record<string, number> = {};
let lobbyMessages = 0;
let lobbyBytes = 0;
const lobbySockets: WebSocket[] = [];

/** Opens a lobby page's socket; what it receives in the window is counted. */
function openLobby(o: ClientInit, lobby: Lobby): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${o.base}${lobby.path}`, {
      headers: { cookie: lobby.cookie, origin: o.origin },
      perMessageDeflate: true,
    });
    ws.once('open', () => {
      lobbySockets.push(ws);
      resolve();
    });
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      if (!measuring) return;
      lobbyMessages++;
      lobbyBytes += frameBytes(data.length);
    });
  });
}

class Player {
  ws: WebSocket | null = null;
  readonly reader: WireReader;
  /** What each message weighed on the wire (compressed or not). */
  private frames = new WireFrames();
  readonly watcher: boolean;
  round = 0;
  deadline: number | null = null;
  over = false;
  eliminated = false;
  firstBytes = 0;
  firstDone = false;
  private acted = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The action this player sent and has not yet seen shown (ack and update). */
  mine: Pending | null = null;
  readonly deadlines = new Map<number, number>();

  constructor(
    readonly seat: Seat,
    readonly game: Game,
    private readonly o: ClientInit,
  ) {
    this.reader = new WireReader(o.table ?? null);
    this.watcher = seat.watch === true;
  }

  open(): Promise<void> {
    const origin = this.seat.base ?? this.o.origin;
    const base = this.seat.base ? this.seat.base.replace(/^http/, 'ws') : this.o.base;
    const ws = new WebSocket(`${base}${this.seat.path}`, {
      headers: { cookie: this.seat.cookie, origin },
      // Browsers offer permessage-deflate; the server decides (LIVE_COMPRESSION). Once agreed,
      // Chromium compresses every message it sends (deflateAll); ws, only those of 1 KiB.
      perMessageDeflate: { threshold: this.o.deflateAll ? 0 : 1024 },
    });
    this.ws = ws;
    this.frames = WireFrames.of(ws);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', (code) => {
      closes[String(code)] = (closes[String(code)] ?? 0) + 1;
    });
    ws.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const at = performance.now();
    const size = this.frames.next()?.bytes ?? frameBytes(data.length);
    if (measuring) {
      if (this.watcher) watcherBytes += size;
      else bytesInWindow += size;
    }
    if (isBinary) return;
    const raw = data.toString();
    if (raw.charCodeAt(0) === 123 /* { */ && this.reader.isData(raw)) {
      const m = JSON.parse(raw) as { type?: string; actionId?: string; code?: string };
      if (!this.firstDone) this.firstBytes += size;
      if (m.type === 'ack' && this.mine && m.actionId === this.mine.id) {
        if (measuring) {
          acks.add(at - this.mine.sentAt);
          bytes.ack.add(size);
        }
        this.mine.ackBytes = size;
      } else if (m.type === 'error') {
        const code = String(m.code);
        if (measuring) refusals.set(code, (refusals.get(code) ?? 0) + 1);
        if (this.mine && m.actionId === this.mine.id) {
          const d = this.deadlines.get(this.mine.round);
          if (code === 'stale-round' && d !== undefined && this.mine.sentEpoch < d && measuring)
            lateRefusals++;
          if (code === 'eliminated') this.eliminated = true;
          this.forget(this.mine);
          this.mine = null;
        }
      }
      return;
    }
    const status = this.reader.read(raw);
    if (!this.firstDone) {
      this.firstBytes += size;
      this.firstDone = true;
      if (!this.watcher) bytes.first.add(this.firstBytes);
      if (status) this.see(status, at, null);
      return;
    }
    let kind: Kind = 'other';
    if (status && status.round > this.round) kind = 'round';
    if (status) {
      const ownShown = this.see(status, at, kind);
      if (kind !== 'round' && ownShown) kind = 'own';
    }
    if (measuring && !this.watcher) {
      if (kind === 'own' && this.shownOwnAck !== null) bytes.own.add(size + this.shownOwnAck);
      else bytes[kind].add(size);
    }
    this.shownOwnAck = null;
  }

  private shownOwnAck: number | null = null;

  /** Updates what this player sees; returns true when it shows this player's own pending action. */
  private see(status: StatusView, at: number, kind: Kind | null): boolean {
    if (status.over) {
      this.over = true;
      this.flushAll(at);
      return false;
    }
    const game = this.game;
    let ownShown = false;
    const newRound = status.round > this.round;
    for (const p of [...game.pending]) {
      if (!p.unseen.has(this)) continue;
      // Shown once the round moved on, or the actor is no longer among those still choosing.
      if (
        newRound ||
        (status.round === p.round &&
          status.waiting !== null &&
          !status.waiting.includes(p.actor.seat.name))
      ) {
        p.unseen.delete(this);
        if (measuring) this.shown(p).add(at - p.sentAt);
        if (p.actor === this) {
          ownShown = true;
          this.shownOwnAck = p.ackBytes;
          if (this.mine === p) this.mine = null;
        }
        if (p.unseen.size === 0) game.pending.splice(game.pending.indexOf(p), 1);
      }
    }
    if (newRound) {
      if (kind !== null && measuring && this === game.players[0]) rounds++;
      this.round = status.round;
      this.deadline = status.deadline;
      if (status.deadline !== null) this.deadlines.set(status.round, status.deadline);
      if (this.deadlines.size > 8)
        this.deadlines.delete(this.deadlines.keys().next().value as number);
      if (status.waiting !== null && !status.waiting.includes(this.seat.name))
        this.eliminated = true;
      this.schedule();
    }
    return ownShown;
  }

  private flushAll(at: number): void {
    for (const p of [...this.game.pending]) {
      if (p.unseen.delete(this) && measuring) this.shown(p).add(at - p.sentAt);
      if (p.unseen.size === 0) this.game.pending.splice(this.game.pending.indexOf(p), 1);
    }
  }

  /** Where the time from `p`'s sending to this page showing it is counted. */
  private shown(p: Pending): Samples {
    return p.actor === this ? ownUpdate : this.watcher ? watchUpdate : othersUpdate;
  }

  private forget(p: Pending): void {
    const i = this.game.pending.indexOf(p);
    if (i >= 0) this.game.pending.splice(i, 1);
  }

  /** Acts once in this round, at a random moment of its first roundMs − marginMs. */
  private schedule(): void {
    const round = this.round;
    if (
      this.watcher ||
      this.eliminated ||
      this.over ||
      this.deadline === null ||
      round <= this.acted ||
      stopped
    )
      return;
    this.acted = round;
    const start = this.deadline - this.o.roundMs;
    const at = start + Math.random() * (this.o.roundMs - this.o.marginMs);
    const wait = Math.max(0, at - Date.now());
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.act(round);
    }, wait);
  }

  private act(round: number): void {
    if (
      stopped ||
      this.round !== round ||
      this.over ||
      this.eliminated ||
      !this.ws ||
      this.ws.readyState !== WebSocket.OPEN
    )
      return;
    const r = Math.random();
    const kind =
      r < this.o.moveRate ? 'move' : r < this.o.moveRate + this.o.attackRate ? 'attack' : 'defend';
    const id = randomUUID();
    const msg: Record<string, unknown> = { type: 'act', actionId: id, round, kind };
    if (kind !== 'defend') msg.dir = DIRS[Math.floor(Math.random() * DIRS.length)];
    const p: Pending = {
      id,
      actor: this,
      round,
      sentAt: performance.now(),
      sentEpoch: Date.now(),
      unseen: new Set([...this.game.players, ...this.game.watchers].filter((x) => !x.over)),
      ackBytes: 0,
    };
    this.mine = p;
    this.game.pending.push(p);
    if (measuring) actions++;
    this.ws.send(JSON.stringify(msg));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.ws?.terminate();
  }
}

let stopped = false;
const all: Player[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });
let windowStart = 0;
let cpuStart = process.cpuUsage();

function reply(msg: object): void {
  process.send?.(msg);
}

async function init(o: ClientInit): Promise<void> {
  const games = new Map<string, Game>();
  for (const seat of o.seats) {
    let g = games.get(seat.code);
    if (!g) games.set(seat.code, (g = new Game()));
    const p = new Player(seat, g, o);
    (p.watcher ? g.watchers : g.players).push(p);
    all.push(p);
  }
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < all.length; i = next++) {
      try {
        await all[i]!.open();
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.connectParallel, all.length) }, worker));
  for (const lobby of o.lobbies ?? [])
    await openLobby(o, lobby).catch(() => {
      failed++;
    });
  // Every socket has its first render before the games start.
  const deadline = Date.now() + 60_000;
  while (
    all.some((p) => p.ws?.readyState === WebSocket.OPEN && !p.firstDone) &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 50));
  reply({
    type: 'connected',
    failed,
    sockets: all.filter((p) => p.ws?.readyState === WebSocket.OPEN).length,
    first: bytes.first.dist(),
  });
}

process.on('message', (m: { type: string } & Partial<Omit<ClientInit, 'type'>>) => {
  if (m.type === 'init') void init(m as ClientInit);
  else if (m.type === 'measure') {
    for (const s of [
      acks,
      ownUpdate,
      othersUpdate,
      watchUpdate,
      bytes.own,
      bytes.other,
      bytes.round,
      bytes.ack,
    ])
      s.reset();
    watcherBytes = 0;
    actions = 0;
    rounds = 0;
    lateRefusals = 0;
    bytesInWindow = 0;
    lobbyMessages = 0;
    lobbyBytes = 0;
    refusals.clear();
    loop.reset();
    loop.enable();
    cpuStart = process.cpuUsage();
    windowStart = performance.now();
    measuring = true;
  } else if (m.type === 'report') {
    measuring = false;
    const windowS = (performance.now() - windowStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    loop.disable();
    const players = all.filter((p) => !p.watcher);
    const watchers = all.filter((p) => p.watcher);
    const stats: ClientStats = {
      type: 'stats',
      windowS,
      actions,
      acks: acks.dist(),
      ownUpdate: ownUpdate.dist(),
      othersUpdate: othersUpdate.dist(),
      bytes: {
        own: bytes.own.dist(),
        other: bytes.other.dist(),
        round: bytes.round.dist(),
        first: bytes.first.dist(),
        ack: bytes.ack.dist(),
      },
      bytesPerSocketPerS: bytesInWindow / Math.max(1, players.length) / windowS,
      refusals: Object.fromEntries(refusals),
      lateRefusals,
      rounds,
      closes: { ...closes },
      clientCpu: (cpu.user + cpu.system) / 1e6 / windowS,
      clientLoopP99Ms: loop.percentile(99) / 1e6,
      playing: new Set(players.filter((p) => !p.over).map((p) => p.seat.code)).size,
      over: new Set(players.filter((p) => p.over).map((p) => p.seat.code)).size,
      lobby: {
        sockets: lobbySockets.filter((ws) => ws.readyState === WebSocket.OPEN).length,
        messagesPerS: lobbyMessages / Math.max(1, lobbySockets.length) / windowS,
        bytesPerS: lobbyBytes / Math.max(1, lobbySockets.length) / windowS,
      },
      spectators: {
        sockets: watchers.filter((p) => p.ws?.readyState === WebSocket.OPEN).length,
        update: watchUpdate.dist(),
        bytesPerS: watcherBytes / Math.max(1, watchers.length) / windowS,
      },
    };
    reply(stats);
  } else if (m.type === 'stop') {
    stopped = true;
    for (const p of all) p.stop();
    for (const ws of lobbySockets) ws.close();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
process.on('disconnect', () => process.exit(0));
