// Bot players for redeploy tests, and the invariant checker they feed.
//
// A Bot is one signed-up player in one game. It keeps the game's live socket open to some node
// picked from a list the test controls (the "load balancer"); when the socket closes it
// reconnects to another live node, like htmx behind a load balancer. Each round it submits one
// action with an id of its own, keeps every action until it is acknowledged, and sends the
// unacknowledged ones again after reconnecting (exactly as public/js/minotaur.js does). It
// records what it sent, every ack and refusal, the rounds it saw, and every socket close.
//
// checkInvariants() combines the bots' records, the nodes' logs (the debug line "round R of
// CODE resolved (epoch E)" with the action ids it applied) and samples of the replicated
// record taken through several nodes, and lists every violation of:
//   - no game reset: the same game id throughout; in version order (epoch, owner, seq) the
//     round never decreases and no character's hp ever increases;
//   - no round repeated or skipped: each round of each game resolves exactly once (one
//     effective resolution in all logs of all nodes) and the resolved rounds are 1, 2, 3, … ;
//     a bot never sees an earlier round after a later one;
//   - no acknowledged action lost: for every ack of action X for round r, the resolution of
//     round r applied X for that player (or, for the round still running, the record holds X);
//   - none applied twice: an action id is acknowledged as new (duplicate: false) at most once
//     and appears in at most one resolution;
//   - never two owners resolving a round: no (game, round) resolved by two nodes, or twice.

import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { LogLine, NodeProcess } from './node-process.js';
import { waitFor } from './node-process.js';
import { wsOptionsFor, type Player } from './player.js';
import type { AdminRecord } from './admin.js';
import { TEST_ADMIN_TOKEN } from './admin.js';

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
}

let rotation = 0;

const PARTIAL = /<hx-partial hx-target="#([a-z-]+)"[^>]*>([\s\S]*?)<\/hx-partial>/g;

export class Bot {
  readonly sent: (ActMsg & { at: number })[] = [];
  readonly acks: AckRec[] = [];
  readonly refusals: RefusalRec[] = [];
  /** Distinct rounds as this bot first saw them, in order, with the node that showed them. */
  readonly rounds: { round: number; node: string; at: number }[] = [];
  /** A round shown lower than one shown before (a reset or a lagging replica). */
  readonly regressions: { from: number; to: number; node: string; at: number }[] = [];
  readonly closes: { node: string; code: number; at: number }[] = [];
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
  private openDirs: string[] = [];
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();
  private readonly o: Required<BotOptions>;

  constructor(opts: BotOptions) {
    this.o = { delayMs: [300, 1500], defendRate: 0.7, connectTimeoutMs: 2000, onRedirect: 'stop', ...opts };
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
    const url = base.replace(/^http/, 'ws') + `/games/${this.o.code}/live`;
    const ws = new WebSocket(url, { headers: { cookie: this.o.player.cookie, origin: base }, ...wsOptionsFor(this.o.player.net) });
    this.ws = ws;
    const giveUp = setTimeout(() => ws.terminate(), this.o.connectTimeoutMs);
    let first = true;
    ws.on('open', () => {
      clearTimeout(giveUp);
      this.node = base;
      this.connects.push({ node: base, at: Date.now() });
      // Exactly as the page: send every unacknowledged action again.
      for (const m of this.pending.values()) ws.send(JSON.stringify(m));
    });
    ws.on('message', (data) => {
      const raw = data.toString();
      if (first && raw.startsWith('<')) {
        first = false;
        this.firstPartials.push({ node: base, at: Date.now() });
      }
      this.onMessage(raw, base);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      clearTimeout(giveUp);
      if (this.ws !== ws) return;
      this.ws = null;
      this.node = null;
      this.closes.push({ node: base, code, at: Date.now() });
      if (this.status === 'gone') return;
      this.later(100 + Math.floor(Math.random() * 200), () => this.connect());
    });
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
        this.acks.push({ actionId: msg.actionId, round: m?.round ?? -1, duplicate: msg.duplicate === true, node, at: Date.now() });
        this.pending.delete(msg.actionId);
      } else if (msg.type === 'error') {
        const id = typeof msg.actionId === 'string' ? msg.actionId : null;
        const m = id ? this.sent.find((s) => s.actionId === id) : undefined;
        const retry = msg.retry === true;
        this.refusals.push({ actionId: id, round: m?.round ?? null, code: String(msg.code), retry, node, at: Date.now() });
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
    if (round < this.currentRound) this.regressions.push({ from: this.currentRound, to: round, node, at: Date.now() });
    if (round > this.currentRound) {
      this.currentRound = round;
      this.rounds.push({ round, node, at: Date.now() });
    }
    this.maybeAct();
  }

  private onActions(html: string): void {
    if (/You have fallen/.test(html)) this.eliminated = true;
    const dirs: string[] = [];
    for (const m of html.matchAll(/data-action="move" data-dir="(\w+)"\s*(disabled)?/g)) if (!m[2]) dirs.push(m[1]!);
    this.openDirs = dirs;
  }

  private maybeAct(): void {
    const round = this.currentRound;
    if (this.paused || this.eliminated || this.status !== 'playing' || round <= this.lastActed) return;
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
      ? { type: 'act', actionId: randomUUID(), round, kind: 'move', dir: this.openDirs[Math.floor(Math.random() * this.openDirs.length)]! }
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
    return waitFor(() => this.acks.find((a) => a.round === round), timeoutMs, `${this.name}: an ack for round ${round}`);
  }
}

// ── invariants ──────────────────────────────────────────────────────────────────────────

export interface Resolution {
  node: string;
  game: string;
  round: number;
  epoch: number;
  outcome: string;
  applied: Record<string, string>;
  time: string;
}

const RESOLVED = /^round (\d+) of ([A-Z]{4}) resolved/;

/** Every round resolution logged by any of `nodes` (the debug line of the registry). */
export function resolutions(nodes: NodeProcess[], code?: string): Resolution[] {
  const out: Resolution[] = [];
  for (const n of nodes) {
    for (const l of n.lines) {
      const m = RESOLVED.exec(l.msg);
      if (!m || (code && m[2] !== code)) continue;
      out.push({
        node: String(l.node),
        game: m[2]!,
        round: Number(m[1]),
        epoch: Number(l.epoch),
        outcome: String(l.outcome),
        applied: (l.applied ?? {}) as Record<string, string>,
        time: String(l.time),
      });
    }
  }
  return out;
}

/** A resolution whose write was not discarded (fenced writes never reach the store). */
export const effective = (r: Resolution): boolean => r.outcome === 'ok' || r.outcome === 'unconfirmed';

export interface Sample {
  via: string;
  at: number;
  key: string;
  owner: string;
  epoch: number;
  seq: number;
  gameId: string;
  round: number;
  deadline: number | null;
  status: string;
  hp: Record<string, number>;
}

export function toSample(via: string, rec: AdminRecord): Sample {
  return {
    via,
    at: Date.now(),
    key: rec.key,
    owner: rec.owner,
    epoch: rec.epoch,
    seq: rec.seq,
    gameId: rec.state.id,
    round: rec.state.round,
    deadline: rec.state.deadline,
    status: rec.state.status,
    hp: Object.fromEntries(rec.state.players.map((p) => [p.id, p.hp])),
  };
}

/**
 * Polls every game's record through every node `nodes()` returns (skipping ones that do not
 * answer quickly: stopped or paused processes), for the version-order checks.
 */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly codes: () => string[],
    private readonly nodes: () => string[],
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.once(), this.everyMs);
  }

  async once(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all(
        this.nodes().flatMap((base) =>
          this.codes().map(async (code) => {
            try {
              const res = await fetch(`${base}/admin/games/${code}.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, signal: AbortSignal.timeout(800) });
              if (res.status !== 200) return;
              this.samples.push(toSample(base, (await res.json()) as AdminRecord));
            } catch {
              /* node down or paused */
            }
          }),
        ),
      );
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

const byVersion = (a: { epoch: number; owner: string; seq: number }, b: { epoch: number; owner: string; seq: number }): number =>
  a.epoch - b.epoch || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0) || a.seq - b.seq;

export interface InvariantInput {
  /** Game codes to check. */
  codes: string[];
  bots: Bot[];
  /** Every node process that ran during the test (dead ones too: their logs count). */
  nodes: NodeProcess[];
  samples: Sample[];
  /** The newest record of each game, read after the bots stopped. */
  finals: Map<string, AdminRecord>;
  /**
   * Per game, the first round whose resolution is logged (rounds before it were resolved by a
   * release without the resolution log line, e.g. an older one in a version-skew test; their
   * resolutions and acks are not checked). Default 1.
   */
  fromRound?: Map<string, number>;
}

export interface InvariantReport {
  violations: string[];
  /** Per game: rounds resolved, acks checked, resolutions by node. */
  summary: Record<string, { rounds: number; acks: number; byNode: Record<string, number>; finalRound: number; status: string }>;
}

export function checkInvariants(input: InvariantInput): InvariantReport {
  const violations: string[] = [];
  const summary: InvariantReport['summary'] = {};
  const all = resolutions(input.nodes);
  for (const code of input.codes) {
    const final = input.finals.get(code);
    const res = all.filter((r) => r.game === code && effective(r));
    const byRound = new Map<number, Resolution[]>();
    for (const r of res) byRound.set(r.round, [...(byRound.get(r.round) ?? []), r]);

    // Never two owners resolving a round; no round resolved twice.
    for (const [round, rs] of byRound) {
      if (rs.length > 1) {
        violations.push(`${code}: round ${round} resolved ${rs.length} times: ${rs.map((r) => `${r.node} (epoch ${r.epoch}, ${r.outcome}, ${r.time})`).join('; ')}`);
      }
    }
    // No round skipped: 1..max, and the final record continues from the last resolution.
    const rounds = [...byRound.keys()].sort((a, b) => a - b);
    const max = rounds.at(-1) ?? 0;
    const from = input.fromRound?.get(code) ?? 1;
    for (let r = from; r <= max; r++) if (!byRound.has(r)) violations.push(`${code}: round ${r} was never resolved (resolved: ${rounds.join(',')})`);
    if (final) {
      const expected = final.state.status === 'finished' ? final.state.round : final.state.round - 1;
      if (expected !== max) violations.push(`${code}: final record is at round ${final.state.round} (${final.state.status}) but the last resolution logged is round ${max}`);
    } else {
      violations.push(`${code}: no final record`);
    }

    // No acknowledged action lost; none applied twice.
    const bots = input.bots.filter((b) => b.code === code);
    let acks = 0;
    const appliedIn = new Map<string, number>();
    for (const r of res) for (const id of Object.values(r.applied)) appliedIn.set(id, (appliedIn.get(id) ?? 0) + 1);
    for (const [id, n] of appliedIn) if (n > 1) violations.push(`${code}: action ${id} applied in ${n} resolutions`);
    for (const b of bots) {
      const fresh = new Map<string, number>();
      for (const a of b.acks) if (!a.duplicate) fresh.set(a.actionId, (fresh.get(a.actionId) ?? 0) + 1);
      for (const [id, n] of fresh) if (n > 1) violations.push(`${code}: ${b.name}'s action ${id} acknowledged as new ${n} times`);
      const seen = new Set<string>();
      for (const a of b.acks) {
        if (seen.has(a.actionId) || a.round < from) continue;
        seen.add(a.actionId);
        acks++;
        const rs = byRound.get(a.round)?.[0];
        if (rs) {
          if (rs.applied[b.playerId] !== a.actionId) {
            violations.push(`${code}: ${b.name}'s action ${a.actionId} for round ${a.round} was acknowledged (via ${a.node}) but round ${a.round} (resolved by ${rs.node}, epoch ${rs.epoch}) applied ${rs.applied[b.playerId] ?? 'nothing'} for that player`);
          }
        } else if (!final || final.state.round !== a.round || final.state.submitted[b.playerId]?.id !== a.actionId) {
          violations.push(`${code}: ${b.name}'s action ${a.actionId} for round ${a.round} was acknowledged but round ${a.round} has no resolution and the final record (round ${final?.state.round}) does not hold it`);
        }
      }
      for (const g of b.regressions) violations.push(`${code}: ${b.name} saw round ${g.to} after round ${g.from} (via ${g.node})`);
    }

    // No game reset: in version order, same game, round never decreases, hp never increases.
    const samples = input.samples.filter((s) => s.key === code).sort(byVersion);
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      const at = `${a.owner}/${a.epoch}/${a.seq} → ${b.owner}/${b.epoch}/${b.seq}`;
      if (a.gameId !== b.gameId) violations.push(`${code}: game id changed ${a.gameId} → ${b.gameId} (${at})`);
      if (b.round < a.round) violations.push(`${code}: round went back ${a.round} → ${b.round} (${at})`);
      if (byVersion(a, b) === 0 && (a.round !== b.round || JSON.stringify(a.hp) !== JSON.stringify(b.hp))) violations.push(`${code}: two different records under one version ${at}`);
      for (const [pid, hp] of Object.entries(b.hp)) {
        if (hp > (a.hp[pid] ?? Infinity)) violations.push(`${code}: hp of ${pid} went up ${a.hp[pid]} → ${hp} (${at})`);
      }
      if (a.status === 'finished' && b.status !== 'finished') violations.push(`${code}: finished game playing again (${at})`);
    }

    const byNode: Record<string, number> = {};
    for (const r of res) byNode[r.node] = (byNode[r.node] ?? 0) + 1;
    summary[code] = { rounds: max, acks, byNode, finalRound: final?.state.round ?? -1, status: final?.state.status ?? 'missing' };
  }
  return { violations, summary };
}

/** Log lines of `nodes` whose message matches `re`, as "node: msg" (for assertions and reports). */
export function logLines(nodes: NodeProcess[], re: RegExp): { node: string; line: LogLine }[] {
  const out: { node: string; line: LogLine }[] = [];
  for (const n of nodes) for (const l of n.lines) if (re.test(l.msg)) out.push({ node: String(l.node), line: l });
  return out;
}
