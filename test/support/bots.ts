// Bot players for redeploy tests and the rehearsal.
//
// A Bot is one signed-up player in one game. It keeps the game's live socket open to some node
// picked from a list the test controls (the "load balancer"); when the socket closes it
// reconnects to another live node, like htmx behind a load balancer. Each round it submits one
// action with an id of its own, keeps every action until it is acknowledged, and sends the
// unacknowledged ones again after reconnecting (exactly as public/js/minotaur.js does). It
// records what it sent, every ack and refusal, the rounds it saw, and every socket close.
//
// It speaks what a page of this release speaks: it asks for trees (?render=patch2 with the id of
// the game it shows, and the version of the template table it holds if given one), reads them
// with the page's own reader (public/js/live-render.js), and
// reconnects with the token of the last render it applied (?seen=), so that a node whose copy is
// behind keeps it waiting rather than show it rounds it already saw. `wire: 'partials'` makes it
// a page of the release before, sent whole partials (what a page left open through a rolling
// update is sent).
//
// The invariants these records are checked against are in invariants.ts.

import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { PATCH_RENDER } from '../../src/live/live-socket.js';
import { LivePage, shownBy, type LivePageApi, type TemplateTable } from './live-page.js';
import { waitFor } from './node-process.js';
import { wsOptionsFor, type Player } from './player.js';

export interface ActMsg {
  type: 'act';
  actionId: string;
  round: number;
  kind: 'move' | 'attack' | 'defend';
  dir?: string;
}

export interface AckRec {
  actionId: string;
  round: number;
  duplicate: boolean;
  node: string;
  at: number;
}

export interface RefusalRec {
  actionId: string | null;
  round: number | null;
  code: string;
  retry: boolean;
  node: string;
  at: number;
}

export interface BotOptions {
  name: string;
  code: string;
  player: Player;
  playerId: string;
  /** Base URLs of the nodes the load balancer currently routes to (first choice rotates). */
  backends: () => string[];
  /** Delay before acting once a round is seen, uniform in [min, max] ms. */
  delayMs?: [number, number];
  /** Probability of defending (otherwise a move in an open direction). */
  defendRate?: number;
  /** How long an upgrade may take before the bot gives up on that node. */
  connectTimeoutMs?: number;
  /**
   * What to do when a node redirects the page to the lobby (the game is gone from its replica,
   * or it cannot read it): 'stop' (default) or 'return' (the player opens the game again).
   */
  onRedirect?: 'stop' | 'return';
  /** What the bot's page reads: trees (a page of this release, the default) or whole partials. */
  wire?: 'trees' | 'partials';
  /** The id of the game the page shows (the page's socket address names it: ?game=). */
  gameId?: string;
  /**
   * The release's template table, which the page then holds (its script loaded) and names in its
   * socket's address (?templates=); without it, the page is sent each template's fixed text.
   */
  table?: TemplateTable;
}

let rotation = 0;

/**
 * Close codes on which htmx's WebSocket extension reconnects (its defaults, which the page keeps).
 */
const RECONNECT_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

const PARTIAL = /<hx-partial hx-target="#([a-z-]+)"[^>]*>([\s\S]*?)<\/hx-partial>/g;

export class Bot {
  readonly sent: (ActMsg & { at: number })[] = [];
  readonly acks: AckRec[] = [];
  readonly refusals: RefusalRec[] = [];
  /** Distinct rounds as this bot first saw them, in order, with the node that showed them. */
  readonly rounds: { round: number; node: string; at: number }[] = [];
  /** A round shown lower than one shown before (a reset or a lagging replica). */
  readonly regressions: { from: number; to: number; node: string; at: number }[] = [];
  readonly closes: { node: string; code: number; reason: string; at: number }[] = [];
  /** Connections opened with the token of what the page had seen (?seen=): reconnects. */
  seenConnects = 0;
  readonly redirects: { node: string; at: number }[] = [];
  readonly connects: { node: string; at: number }[] = [];
  /** The first partial received on each connection (for reconnect gaps: close → first partial). */
  readonly firstPartials: { node: string; at: number }[] = [];
  readonly pending = new Map<string, ActMsg>();
  /** Latest status partial's deadline attribute (ms) as shown. */
  deadline: number | null = null;
  currentRound = 0;
  status: 'unknown' | 'playing' | 'finished' | 'gone' = 'unknown';
  eliminated = false;
  paused = false;
  node: string | null = null;
  private ws: WebSocket | null = null;
  private lastActed = 0;
  /** The bot closed its socket to open the game again (a redirect with onRedirect 'return'). */
  private returning = false;
  private openDirs: string[] = [];
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();
  /** The page's reader of the current connection (trees): one per connection, as the page. */
  private reader: LivePageApi | null = null;
  /** The token of the last render applied: sent back on every reconnect, as the page does. */
  seen: string | null = null;
  private readonly o: Required<Omit<BotOptions, 'gameId' | 'table'>> &
    Pick<BotOptions, 'gameId' | 'table'>;

  constructor(opts: BotOptions) {
    this.o = {
      delayMs: [300, 1500],
      defendRate: 0.7,
      connectTimeoutMs: 2000,
      onRedirect: 'stop',
      wire: 'trees',
      ...opts,
    };
  }

  get name(): string {
    return this.o.name;
  }
  get playerId(): string {
    return this.o.playerId;
  }
  get code(): string {
    return this.o.code;
  }
  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.connect();
  }

  /** Stops acting (the round then resolves on its deadline); the socket stays open. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.maybeAct();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ws?.terminate();
    this.ws = null;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private connect(): void {
    if (this.stopped) return;
    const list = this.o.backends();
    if (list.length === 0) return this.later(200, () => this.connect());
    // The load balancer picks round-robin among the live backends.
    const base = list[rotation++ % list.length]!;
    this.o.player.base = base;
    const url = base.replace(/^http/, 'ws') + this.socketPath();
    if (this.o.wire === 'trees' && this.seen) this.seenConnects++;
    const ws = new WebSocket(url, {
      headers: { cookie: this.o.player.cookie, origin: base },
      ...wsOptionsFor(this.o.player.net),
    });
    this.ws = ws;
    const giveUp = setTimeout(() => ws.terminate(), this.o.connectTimeoutMs);
    let first = true;
    ws.on('open', () => {
      clearTimeout(giveUp);
      this.reader = this.o.wire === 'trees' ? new LivePage(this.o.table ?? null) : null;
      this.node = base;
      this.connects.push({ node: base, at: Date.now() });
      // Exactly as the page: send every unacknowledged action again.
      for (const m of this.pending.values()) ws.send(JSON.stringify(m));
    });
    ws.on('message', (data: Buffer) => {
      if (this.ws !== ws) return;
      const raw = this.read(data.toString());
      if (first && raw.startsWith('<')) {
        first = false;
        this.firstPartials.push({ node: base, at: Date.now() });
      }
      this.onMessage(raw, base);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code, why: Buffer) => {
      clearTimeout(giveUp);
      if (this.ws !== ws) return;
      this.ws = null;
      this.node = null;
      this.closes.push({ node: base, code, reason: why.toString(), at: Date.now() });
      if (this.status === 'gone') return;
      // As the page (htmx): a refusal with an application code (no such game, not logged in,
      // too many pages) or a flood verdict is final; a restart, a cut or a timeout is not.
      if (!RECONNECT_CODES.has(code) && !this.returning) return;
      this.returning = false;
      this.later(100 + Math.floor(Math.random() * 200), () => this.connect());
    });
  }

  /** The address the page's socket connects to (and reconnects to, with its last token). */
  private socketPath(): string {
    const path = `/games/${this.o.code}/live`;
    if (this.o.wire === 'partials') return path;
    const q = new URLSearchParams({ render: PATCH_RENDER });
    if (this.o.gameId) q.set('game', this.o.gameId);
    if (this.o.table) q.set('templates', this.o.table.v);
    if (this.seen) q.set('seen', this.seen);
    return `${path}?${q.toString()}`;
  }

  /** A render message as the page turns it into partials (other messages as they are). */
  private read(raw: string): string {
    if (!this.reader) return raw;
    const html = shownBy(this.reader, raw);
    if (this.reader.seen) this.seen = this.reader.seen;
    return html;
  }

  private send(m: ActMsg): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  private onMessage(raw: string, node: string): void {
    if (raw.startsWith('{')) {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.type === 'ack' && typeof msg.actionId === 'string') {
        const m = this.sent.find((s) => s.actionId === msg.actionId);
        this.acks.push({
          actionId: msg.actionId,
          round: m?.round ?? -1,
          duplicate: msg.duplicate === true,
          node,
          at: Date.now(),
        });
        this.pending.delete(msg.actionId);
      } else if (msg.type === 'error') {
        const id = typeof msg.actionId === 'string' ? msg.actionId : null;
        const m = id ? this.sent.find((s) => s.actionId === id) : undefined;
        const retry = msg.retry === true;
        this.refusals.push({
          actionId: id,
          round: m?.round ?? null,
          code: String(msg.code),
          retry,
          node,
          at: Date.now(),
        });
        if (id && retry) {
          this.later(300, () => {
            const p = this.pending.get(id);
            if (p) this.send(p);
          });
        } else if (id) {
          this.pending.delete(id);
        }
        if (msg.code === 'eliminated') this.eliminated = true;
      } else if (msg.type === 'redirect') {
        this.redirects.push({ node, at: Date.now() });
        if (this.o.onRedirect === 'stop') this.status = 'gone';
        else this.returning = true; // the page opens the game again
        this.ws?.close();
      }
      return;
    }
    for (const m of raw.matchAll(PARTIAL)) {
      const [, id, html = ''] = m;
      if (id === 'game-status') this.onStatus(html, node);
      else if (id === 'game-actions') this.onActions(html);
    }
  }

  private onStatus(html: string, node: string): void {
    if (/Game over/.test(html)) {
      this.status = 'finished';
      return;
    }
    const r = html.match(/data-round="(\d+)"/);
    const d = html.match(/data-deadline="(\d+)"/);
    if (!r) return;
    this.status = 'playing';
    const round = Number(r[1]);
    this.deadline = d ? Number(d[1]) : null;
    if (round < this.currentRound)
      this.regressions.push({ from: this.currentRound, to: round, node, at: Date.now() });
    if (round > this.currentRound) {
      this.currentRound = round;
      this.rounds.push({ round, node, at: Date.now() });
    }
    this.maybeAct();
  }

  private onActions(html: string): void {
    if (/You have fallen/.test(html)) this.eliminated = true;
    const dirs: string[] = [];
    for (const m of html.matchAll(/data-action="move" data-dir="(\w+)"\s*(disabled)?/g))
      if (!m[2]) dirs.push(m[1]!);
    this.openDirs = dirs;
  }

  private maybeAct(): void {
    const round = this.currentRound;
    if (this.paused || this.eliminated || this.status !== 'playing' || round <= this.lastActed)
      return;
    this.lastActed = round;
    const [lo, hi] = this.o.delayMs;
    this.later(lo + Math.floor(Math.random() * (hi - lo)), () => {
      if (this.currentRound !== round || this.status !== 'playing' || this.eliminated) return;
      if (this.paused) {
        this.lastActed = round - 1; // act on resume
        return;
      }
      this.act(round);
    });
  }

  /** Submits one action for `round` now (also used by tests to act at a precise moment). */
  act(round = this.currentRound): ActMsg {
    const move = Math.random() >= this.o.defendRate && this.openDirs.length > 0;
    const m: ActMsg = move
      ? {
          type: 'act',
          actionId: randomUUID(),
          round,
          kind: 'move',
          dir: this.openDirs[Math.floor(Math.random() * this.openDirs.length)]!,
        }
      : { type: 'act', actionId: randomUUID(), round, kind: 'defend' };
    this.lastActed = Math.max(this.lastActed, round);
    this.pending.set(m.actionId, m);
    this.sent.push({ ...m, at: Date.now() });
    this.send(m);
    return m;
  }

  /** Non-duplicate acks of actions for `round`. */
  ackedIn(round: number): AckRec[] {
    return this.acks.filter((a) => a.round === round);
  }

  /** Waits until this bot has an ack for an action of `round`. */
  async waitAck(round: number, timeoutMs = 10_000): Promise<AckRec> {
    return waitFor(
      () => this.acks.find((a) => a.round === round),
      timeoutMs,
      `${this.name}: an ack for round ${round}`,
    );
  }
}
