// The registry of running games on this node: which games it owns (and runs the clock of),
// how player commands reach the owner wherever it is, how games move between nodes
// (handoff on drain, takeover after a crash, cold start from snapshots), and fencing when a
// newer owner appears. Rules come from game/, storage from replication/, peers from cluster/.

import type { MeshChannel, NodeState } from '../cluster/types.js';
import type { GameResult } from '../db/results.js';
import type { Snapshot, StoredSnapshot } from '../db/snapshots.js';
import {
  GAME_SCHEMA,
  createGame,
  isRoundDue,
  joinGame,
  leaveGame,
  resolveRound,
  startGame,
  submitAction,
  applySocial,
  type GameState,
  type RuleResult,
} from '../game/index.js';
import { checkGameState } from '../game/schema.js';
import { canRead, checkStoredState, readableSchemas, upgradeState } from '../game/upgrade.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { GameRecord } from '../replication/record.js';
import { compareVersion } from '../replication/record.js';
import type { Replica } from '../replication/replica.js';
import type { ReplicaSync, WriteOutcome } from '../replication/sync.js';
import { refusal, type Command, type CommandResult } from './commands.js';
import { OwnedGame } from './owned-game.js';
import { rankFor, type Candidate } from './placement.js';
import { sessionsMessage, type SessionsMessage } from './protocol.js';

export interface SessionsDeps {
  nodeId: string;
  /** This node's release version (placement prefers the newest release). */
  version: string;
  replica: Replica;
  sync: ReplicaSync;
  channel: MeshChannel;
  results: { record(r: GameResult): boolean };
  snapshots: { save(s: Snapshot): boolean; all(): StoredSnapshot[]; remove(code: string, gameId: string): boolean };
  logger: Logger;
  metrics: Metrics;
  now(): number;
  random: { code(): string; seed(): number; id(): string };
  roundMs: number;
  selfState(): NodeState;
  /** False while this node may have been paused and has not yet heard from its peers again. */
  clockHealthy(): boolean;
  /** How long an owner must be missing before its games are taken over (after joining). */
  orphanGraceMs: number;
  /** How long a finished game stays visible (winner screen) before it is dropped. */
  finishedRetentionMs?: number;
  /** Open games nobody starts are dropped after this long. */
  openGameTtlMs?: number;
  /** How long a forwarded command waits for the owner. */
  forwardTimeoutMs?: number;
  /** How long execute() keeps retrying while a game moves between owners. */
  commandDeadlineMs?: number;
}

export type CreateResult = { ok: true; code: string } | { ok: false; message: string };

type Pending = { peer: string; resolve: (msg: SessionsMessage | null) => void; timer: NodeJS.Timeout };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The game in a record, lifted to the current schema; undefined for tombstones and schemas this release cannot read. */
function readState(rec: GameRecord): GameState | undefined {
  if (!rec.state || !canRead(rec.schema)) return undefined;
  return rec.schema === GAME_SCHEMA ? rec.state : upgradeState(rec.state, rec.schema);
}

export class GameSessions {
  private readonly owned = new Map<string, OwnedGame>();
  private readonly listeners = new Set<(code: string) => void>();
  private readonly pending = new Map<string, Pending>();
  /** When this node first noticed each missing owner. */
  private readonly missingSince = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private readonly warnedUnreadable = new Set<string>();
  private nextId = 0;
  private readonly d: Required<SessionsDeps>;

  constructor(deps: SessionsDeps) {
    this.d = {
      finishedRetentionMs: 5 * 60_000,
      openGameTtlMs: 60 * 60_000,
      forwardTimeoutMs: 4000,
      commandDeadlineMs: 8000,
      ...deps,
    };
    deps.sync.onChange((key, current) => this.onReplicaChange(key, current));
    deps.channel.onMessage((from, body) => this.onMessage(from, body));
    deps.channel.onPeerDown((m) => {
      this.missingSince.set(m.id, this.d.now() - this.d.orphanGraceMs);
      // Requests to a peer that is gone will never be answered: give up on them now.
      for (const [id, p] of this.pending) {
        if (p.peer !== m.id) continue;
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.resolve(null);
      }
      this.sweep();
    });
    deps.channel.onPeerState(() => this.sweep());
  }

  // ── reads (local replica) ─────────────────────────────────────────────────────────────

  game(code: string): GameState | undefined {
    const rec = this.d.replica.get(code);
    return rec ? readState(rec) : undefined;
  }

  unreadable(code: string): boolean {
    const rec = this.d.replica.get(code);
    return !!rec?.state && !canRead(rec.schema);
  }

  private states(): GameState[] {
    const out: GameState[] = [];
    for (const rec of this.d.replica.live()) {
      const state = readState(rec);
      if (state) out.push(state);
    }
    return out;
  }

  openGames(): GameState[] {
    return this.states().filter((g) => g.status === 'open');
  }

  gamesOf(playerId: string): GameState[] {
    return this.states().filter((g) => g.players.some((p) => p.id === playerId));
  }

  subscribe(listener: (code: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  ownedCodes(): string[] {
    return [...this.owned.values()].filter((o) => o.running).map((o) => o.key);
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────

  /** Starts the periodic orphan sweep (takeover safety net). */
  start(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const o of this.owned.values()) o.stop();
    this.owned.clear();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
    }
  }

  // ── commands ──────────────────────────────────────────────────────────────────────────

  /** Runs a player's command on the game's owner, wherever it is; retries while the game moves. */
  async execute(code: string, command: Command): Promise<CommandResult> {
    const deadline = this.d.now() + this.d.commandDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      const rec = this.d.replica.get(code);
      if (!rec?.state) return refusal('no-game', `There is no game ${code}.`);
      const mine = this.owned.get(code);
      let result: CommandResult | null = null;
      if (mine?.running) {
        result = await this.runCommand(mine, command);
      } else if (rec.owner !== this.d.nodeId && this.isLivePeer(rec.owner)) {
        this.d.metrics.forwarded.inc();
        result = await this.forward(rec.owner, code, command);
      }
      if (result && !(result.ok === false && (result.code === 'not-owner' || result.code === 'owner-unreachable'))) return result;
      if (this.d.now() >= deadline) {
        return refusal('unavailable', 'The game is moving to another server. Your action is kept and will be sent again.', true);
      }
      await sleep(Math.min(50 * (attempt + 1), 400));
    }
  }

  private runCommand(game: OwnedGame, command: Command): Promise<CommandResult> {
    return game.exclusive(async () => {
      if (!game.running) return refusal('not-owner', 'This server no longer runs the game.', true);
      const state = game.record.state;
      if (!state) return refusal('no-game', 'The game has ended.');
      const now = this.d.now();
      let r: RuleResult;
      switch (command.kind) {
        case 'join':
          r = joinGame(state, command.player, now);
          break;
        case 'leave':
          r = leaveGame(state, command.playerId, now);
          break;
        case 'start':
          r = startGame(state, command.playerId, now);
          break;
        case 'act':
          r = submitAction(state, command.playerId, command.action);
          break;
        case 'social':
          r = applySocial(state, command.playerId, command.op);
          break;
      }
      if (!r.ok) return refusal(r.code, r.message);
      if (r.duplicate) {
        // Acknowledge a resend only once what it changed is safely on another node.
        if (!game.confirmed) {
          const out = await this.commit(game, game.record.state as GameState, true);
          if (out !== 'ok') return this.writeFailure(out);
        }
        return { ok: true, duplicate: true };
      }
      let next = r.state;
      const before = next;
      // Everyone has acted: resolve now, in the same write, instead of waiting for the deadline.
      if (command.kind === 'act' && isRoundDue(next, now) && this.d.clockHealthy()) {
        next = resolveRound(next, now);
        this.d.metrics.rounds.inc();
      }
      const epoch = game.record.epoch;
      const out = await this.commit(game, next);
      if (next !== before) this.logResolved(game.key, epoch, before, out);
      if (out !== 'ok') return this.writeFailure(out);
      return { ok: true, duplicate: false };
    });
  }

  private writeFailure(out: 'fenced' | 'unconfirmed' | 'rejected'): CommandResult {
    if (out === 'fenced') return refusal('not-owner', 'The game moved to another server.', true);
    if (out === 'unconfirmed') return refusal('unavailable', 'Your action could not be saved on a second server yet; it will be sent again.', true);
    return refusal('unavailable', 'The game could not be saved. Try again.', true);
  }

  /**
   * Writes the next state of an owned game as a new record and waits until a peer holds it.
   * `rewrite` sends the current record again (to confirm an earlier unconfirmed write).
   */
  private async commit(game: OwnedGame, state: GameState, rewrite = false): Promise<'ok' | 'fenced' | 'unconfirmed' | 'rejected'> {
    const prev = game.record;
    const record: GameRecord = rewrite
      ? prev
      : { key: prev.key, owner: this.d.nodeId, epoch: prev.epoch, seq: prev.seq + 1, schema: GAME_SCHEMA, state, at: this.d.now() };
    game.record = record;
    game.confirmed = false;
    if (!rewrite) this.afterWrite(game);
    const outcome: WriteOutcome = await this.d.sync.write(record);
    if (outcome.kind === 'fenced') {
      this.fence(game, `a newer owner holds epoch ${outcome.current.epoch} (${outcome.current.owner})`);
      return 'fenced';
    }
    if (outcome.kind === 'rejected') {
      // Never happens with valid states; if it does, keep running the last state that was stored.
      this.d.logger.error({ game: game.key, reason: outcome.reason }, `write of ${game.key} rejected: ${outcome.reason}`);
      if (game.record === record && !rewrite) {
        game.record = prev;
        this.afterWrite(game);
      }
      return 'rejected';
    }
    // A result goes into SQLite only once the final state is held by another node (or there
    // is none): a fenced former owner must never record a game its successor is still playing.
    if (outcome.kind === 'acked' && state.status === 'finished' && prev.state?.status !== 'finished') this.recordResult(state);
    if (outcome.kind === 'timed-out') return 'unconfirmed';
    if (game.record === record) game.confirmed = true;
    return 'ok';
  }

  /** Local effects of a new owned state: its snapshot, and the timer of its clock or clean-up. */
  private afterWrite(game: OwnedGame): void {
    const state = game.record.state;
    if (!state) return;
    this.snapshot(game.record);
    if (state.status === 'playing' && state.deadline !== null) {
      game.arm(state.deadline, this.d.now(), () => void this.tick(game));
    } else if (state.status === 'finished') {
      game.arm(this.d.now() + this.d.finishedRetentionMs, this.d.now(), () => void this.drop(game, 'finished'));
    } else if (state.status === 'open') {
      game.arm(state.createdAt + this.d.openGameTtlMs, this.d.now(), () => void this.drop(game, 'abandoned'));
    }
  }

  private tick(game: OwnedGame): Promise<void> {
    return game.exclusive(async () => {
      if (!game.running || !game.record.state) return;
      const state = game.record.state;
      const now = this.d.now();
      if (!isRoundDue(state, now)) {
        if (state.deadline !== null) game.arm(state.deadline, now, () => void this.tick(game));
        return;
      }
      if (!this.d.clockHealthy()) {
        // We may have been paused: hold the clock until peers confirm we still own the game.
        game.arm(now + 100, now, () => void this.tick(game));
        return;
      }
      this.d.metrics.rounds.inc();
      const epoch = game.record.epoch;
      const out = await this.commit(game, resolveRound(state, now));
      this.logResolved(game.key, epoch, state, out);
      if (out === 'unconfirmed' && game.running) {
        this.d.logger.warn({ game: game.key, round: state.round }, `round ${state.round} of ${game.key} resolved but not yet confirmed by a peer`);
      }
    });
  }

  /** Debug trace of every round resolution (tests check that no round resolves twice). */
  private logResolved(key: string, epoch: number, state: GameState, outcome: string): void {
    const applied = Object.fromEntries(Object.entries(state.submitted).map(([id, a]) => [id, a.id]));
    this.d.logger.debug({ game: key, round: state.round, epoch, outcome, applied }, `round ${state.round} of ${key} resolved (epoch ${epoch})`);
  }

  private recordResult(state: GameState): void {
    try {
      const recorded = this.d.results.record({
        gameId: state.id,
        code: state.code,
        finishedAt: state.finishedAt ?? this.d.now(),
        rounds: state.round,
        winnerId: state.winner,
        players: state.players.map((p) => ({ accountId: p.id, won: p.id === state.winner, eliminatedRound: p.eliminatedRound, dealt: p.dealt })),
        final: { schema: GAME_SCHEMA, state },
      });
      if (recorded) {
        const winner = state.players.find((p) => p.id === state.winner)?.name ?? 'nobody';
        this.d.logger.info({ game: state.code, rounds: state.round, winner }, `game ${state.code} finished after ${state.round} rounds; winner ${winner}`);
      }
    } catch (err) {
      this.d.logger.error({ err, game: state.code }, `could not record the result of ${state.code}`);
    }
  }

  private snapshot(record: GameRecord): void {
    if (!record.state) return;
    try {
      this.d.snapshots.save({ code: record.key, gameId: record.state.id, owner: record.owner, epoch: record.epoch, seq: record.seq, schema: record.schema, state: record.state });
    } catch (err) {
      this.d.logger.error({ err, game: record.key }, `could not snapshot ${record.key}`);
    }
  }

  /** Replaces a finished or abandoned game by a tombstone once nobody needs to see it. */
  private drop(game: OwnedGame, why: string): Promise<void> {
    return game.exclusive(async () => {
      if (!game.running || !game.record.state) return;
      const state = game.record.state;
      if (why === 'abandoned' && state.status !== 'open') return;
      // Still the owner after the retention period: record the result if its final write
      // was never confirmed at the time (idempotent otherwise).
      if (state.status === 'finished') this.recordResult(state);
      try {
        this.d.snapshots.remove(game.key, state.id);
      } catch (err) {
        this.d.logger.warn({ err, game: game.key }, 'could not remove a snapshot');
      }
      const prev = game.record;
      const tomb: GameRecord = { ...prev, seq: prev.seq + 1, state: null, at: this.d.now() };
      game.record = tomb;
      this.release(game);
      await this.d.sync.write(tomb);
      this.d.logger.info({ game: game.key }, `game ${game.key} dropped (${why})`);
    });
  }

  // ── creation ──────────────────────────────────────────────────────────────────────────

  async create(creator: { id: string; name: string }): Promise<CreateResult> {
    if (this.d.selfState() !== 'ready') {
      // A draining or joining node places no new game on itself: ask a ready peer.
      const peer = this.d.channel.peers().find((p) => p.state === 'ready');
      if (!peer) return { ok: false, message: 'No server can take a new game right now. Try again in a moment.' };
      const reply = await this.request(peer.id, { type: 'create', id: this.newId(), creator });
      if (reply?.type === 'created' && reply.ok && reply.code) return { ok: true, code: reply.code };
      return { ok: false, message: reply?.type === 'created' && reply.message ? reply.message : 'Could not create a game right now. Try again.' };
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const code = this.d.random.code();
      const existing = this.d.replica.getAny(code);
      if (existing) continue;
      const now = this.d.now();
      const state = createGame({ id: this.d.random.id(), code, seed: this.d.random.seed(), creator, now, roundMs: this.d.roundMs });
      // A new game's first epoch is its creation second, so it outranks any tombstone of an
      // earlier game with the same code that some replica may still hold.
      const record: GameRecord = { key: code, owner: this.d.nodeId, epoch: Math.floor(now / 1000), seq: 0, schema: GAME_SCHEMA, state, at: now };
      const game = new OwnedGame(record);
      this.owned.set(code, game);
      const outcome = await this.d.sync.write(record);
      const held = this.d.replica.get(code);
      if (outcome.kind === 'fenced' || outcome.kind === 'rejected' || held?.state?.id !== state.id) {
        this.release(game);
        continue; // another node took this code in the same instant
      }
      game.confirmed = outcome.kind === 'acked';
      this.afterWrite(game);
      this.d.logger.info({ game: code, by: creator.name }, `game ${code} created by ${creator.name}`);
      return { ok: true, code };
    }
    return { ok: false, message: 'Could not find a free game code. Try again.' };
  }

  // ── ownership changes ─────────────────────────────────────────────────────────────────

  private onReplicaChange(key: string, current: GameRecord | undefined): void {
    const mine = this.owned.get(key);
    if (mine?.running && current && compareVersion(current, mine.record) > 0 && current.owner !== this.d.nodeId) {
      this.fence(mine, `node ${current.owner} adopted it (epoch ${current.epoch})`);
    } else if (mine?.running && !current && this.d.replica.getAny(key) && compareVersion(this.d.replica.getAny(key)!, mine.record) > 0) {
      this.fence(mine, 'it was dropped elsewhere');
    }
    for (const l of this.listeners) {
      try {
        l(key);
      } catch (err) {
        this.d.logger.error({ err }, 'a game listener failed');
      }
    }
  }

  /** Stops running a game here (handed off, fenced, dropped or abandoned). */
  private release(game: OwnedGame): void {
    game.stop();
    if (this.owned.get(game.key) === game) this.owned.delete(game.key);
  }

  private fence(game: OwnedGame, why: string): void {
    if (!game.running && game.status !== 'handing-off') return;
    this.release(game);
    this.d.logger.warn({ game: game.key, epoch: game.record.epoch }, `game ${game.key}: stopped running it, ${why}`);
  }

  /**
   * Makes this node the owner of `key` with a higher epoch, continuing from `base` (the
   * replica's record, a handed-off record, or a snapshot).
   */
  private async adopt(base: GameRecord, reason: 'handoff' | 'takeover' | 'cold-start'): Promise<GameRecord | null> {
    const key = base.key;
    if (this.owned.get(key)?.running) return this.owned.get(key)!.record;
    if (!base.state) return null;
    if (!canRead(base.schema)) {
      this.d.logger.warn({ game: key, schema: base.schema }, `game ${key}: not adopting, its schema ${base.schema} is newer than this release reads (${readableSchemas().join(', ')})`);
      return null;
    }
    const now = this.d.now();
    let state = upgradeState(base.state, base.schema);
    if (reason === 'cold-start' && state.status === 'playing' && state.deadline !== null && state.deadline < now + 1000) {
      // After downtime, give players a fresh round rather than a burst of missed ones.
      state = { ...state, deadline: now + state.roundMs };
    }
    const record: GameRecord = { key, owner: this.d.nodeId, epoch: base.epoch + 1, seq: 0, schema: GAME_SCHEMA, state, at: now };
    const game = new OwnedGame(record);
    this.owned.set(key, game);
    const outcome = await this.d.sync.write(record);
    if (outcome.kind === 'fenced' || outcome.kind === 'rejected') {
      this.release(game);
      this.d.logger.info({ game: key, reason }, `game ${key}: adoption abandoned (${outcome.kind})`);
      return null;
    }
    game.confirmed = outcome.kind === 'acked';
    this.d.metrics.adoptions.inc({ reason });
    this.d.logger.info(
      { game: key, from: base.owner, epoch: record.epoch, round: state.round, reason },
      `game ${key} adopted from node ${base.owner} (epoch ${record.epoch}, round ${state.round})${reason === 'handoff' ? '' : ` [${reason}]`}`,
    );
    this.afterWrite(game);
    // The former owner may have stopped between finishing the game and recording it (recording is idempotent).
    if (state.status === 'finished') this.recordResult(state);
    // A round that fell due while nobody owned the game resolves now.
    if (state.status === 'playing') void this.tick(game);
    return record;
  }

  private candidates(): Candidate[] {
    const self: Candidate = { id: this.d.nodeId, state: this.d.selfState(), schemas: readableSchemas(), version: this.d.version };
    return [self, ...this.d.channel.peers().map((p) => ({ id: p.id, state: p.state, schemas: p.schemas, version: p.version }))];
  }

  private isLivePeer(id: string): boolean {
    return this.d.channel.peers().some((p) => p.id === id);
  }

  /**
   * Finds games whose owner is gone and adopts the ones placement gives to this node. Every
   * node runs the same pure placement over the same membership, so exactly one adopts.
   */
  sweep(): void {
    if (this.d.selfState() !== 'ready' || this.sweeping) return;
    const now = this.d.now();
    const live = new Set(this.d.channel.peers().map((p) => p.id));
    const seenMissing = new Set<string>();
    const candidates = this.candidates();
    const mine: string[] = [];
    for (const rec of this.d.replica.live()) {
      if (rec.owner === this.d.nodeId) {
        // Ours by the replica but not running here: an earlier run of this node id owned it.
        if (!this.owned.get(rec.key)?.running && this.isOrphanForMe(rec, now, candidates, seenMissing)) mine.push(rec.key);
        continue;
      }
      if (live.has(rec.owner)) continue;
      if (this.isOrphanForMe(rec, now, candidates, seenMissing)) mine.push(rec.key);
    }
    for (const id of [...this.missingSince.keys()]) if (live.has(id)) this.missingSince.delete(id);
    if (mine.length === 0) return;
    this.sweeping = true;
    void this.takeOver(mine).finally(() => {
      this.sweeping = false;
    });
  }

  /**
   * Adopts orphaned games. First asks every surviving peer for what it holds: the last write
   * of the dead owner may have reached only one of them, and an acknowledged action must not
   * be lost because the adopter happened to miss it.
   */
  private async takeOver(keys: string[]): Promise<void> {
    if (this.d.channel.peers().length > 0) await this.d.sync.catchUp(1500);
    for (const key of keys) {
      const rec = this.d.replica.get(key);
      if (!rec?.state || this.owned.get(key)?.running) continue;
      if (rec.owner !== this.d.nodeId && this.isLivePeer(rec.owner)) continue;
      await this.adopt(rec, 'takeover');
    }
  }

  private isOrphanForMe(rec: GameRecord, now: number, candidates: Candidate[], seen: Set<string>): boolean {
    if (!seen.has(rec.owner)) {
      seen.add(rec.owner);
      if (!this.missingSince.has(rec.owner)) this.missingSince.set(rec.owner, now);
    }
    const since = this.missingSince.get(rec.owner) ?? now;
    if (rec.owner !== this.d.nodeId && now - since < this.d.orphanGraceMs) return false;
    const ranked = rankFor(rec.key, candidates, rec.schema);
    if (ranked.length === 0) {
      if (this.warnedUnreadable.has(rec.key)) return false;
      this.warnedUnreadable.add(rec.key);
      this.d.logger.warn({ game: rec.key, schema: rec.schema }, `game ${rec.key}: no ready node can read schema ${rec.schema}; leaving it`);
      return false;
    }
    return ranked[0] === this.d.nodeId;
  }

  /** Cold start: resumes games from SQLite snapshots that no replica knows a newer version of. */
  async resumeFromSnapshots(opts: { assumeReady?: boolean } = {}): Promise<number> {
    let resumed = 0;
    let rows: StoredSnapshot[];
    try {
      rows = this.d.snapshots.all();
    } catch (err) {
      this.d.logger.error({ err }, 'could not read snapshots');
      return 0;
    }
    // Nodes starting together (a whole cluster restarting) are all still joining: count them
    // in, so that they split the snapshots between them instead of all resuming every game.
    const candidates = this.candidates().map((c) =>
      opts.assumeReady && (c.id === this.d.nodeId || c.state === 'joining' || c.state === 'starting') ? { ...c, state: 'ready' } : c,
    );
    for (const snap of rows) {
      const problem = checkStoredState(snap.state, snap.schema, checkGameState);
      if (problem) {
        this.d.logger.warn({ game: snap.code, problem }, `snapshot of ${snap.code} not resumed: ${problem}`);
        continue;
      }
      const held = this.d.replica.getAny(snap.code);
      // A game whose owner is alive is running: its snapshot may even be a write ahead of our
      // replica (owners snapshot before they broadcast), but it is not ours to resume.
      if (this.isLivePeer(snap.owner) || (held && this.isLivePeer(held.owner))) continue;
      const version = { epoch: snap.epoch, owner: snap.owner, seq: snap.seq };
      if (held && compareVersion(held, version) >= 0) continue; // the replica is as new or newer
      if (snap.state.status === 'finished') continue;
      if (rankFor(snap.code, candidates, snap.schema)[0] !== this.d.nodeId) continue;
      const base: GameRecord = { key: snap.code, owner: snap.owner, epoch: snap.epoch, seq: snap.seq, schema: snap.schema, state: snap.state, at: snap.updatedAt };
      if (await this.adopt(base, 'cold-start')) resumed++;
    }
    if (resumed) this.d.logger.info({ resumed }, `resumed ${resumed} games from snapshots`);
    return resumed;
  }

  /**
   * Drain: hands every owned game to a ready peer. The game's queue is held while it moves,
   * so no command is applied by the old owner after the successor's record was written.
   * Games no peer takes stay in their snapshots for the next node to resume.
   */
  async handOffAll(): Promise<{ handed: number; kept: number }> {
    const games = [...this.owned.values()].filter((g) => g.running);
    let handed = 0;
    let kept = 0;
    const queue = [...games];
    const worker = async () => {
      for (let g = queue.shift(); g; g = queue.shift()) {
        if (await this.handOff(g)) handed++;
        else kept++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    return { handed, kept };
  }

  private handOff(game: OwnedGame): Promise<boolean> {
    return game.exclusive(async () => {
      if (!game.running || !game.record.state) return true;
      game.status = 'handing-off';
      game.disarm();
      const started = this.d.now();
      const peers = this.d.channel.peers().map((p) => ({ id: p.id, state: p.state, schemas: p.schemas, version: p.version }));
      const targets = rankFor(game.key, peers, game.record.schema);
      for (const target of targets) {
        const reply = await this.request(target, { type: 'handoff', id: this.newId(), record: game.record as never }, 3000);
        if (reply?.type === 'handoff-result' && reply.ok) {
          this.release(game);
          this.d.metrics.handoffSeconds.observe((this.d.now() - started) / 1000);
          this.d.logger.info(
            { game: game.key, to: target, epoch: reply.epoch, round: game.record.state?.round },
            `game ${game.key} handed to node ${target} (epoch ${reply.epoch}, round ${game.record.state?.round})`,
          );
          return true;
        }
        this.d.logger.warn({ game: game.key, to: target, reason: reply?.type === 'handoff-result' ? reply.reason : 'no answer' }, `handoff of ${game.key} to ${target} failed`);
      }
      // Nobody took it: keep it in SQLite for the next node, and stop running it here.
      this.snapshot(game.record);
      this.release(game);
      this.d.logger.info({ game: game.key, round: game.record.state.round }, `game ${game.key} kept in its snapshot (no ready peer to hand it to)`);
      return false;
    });
  }

  // ── mesh messages ─────────────────────────────────────────────────────────────────────

  private newId(): string {
    return `${this.d.nodeId}-${++this.nextId}`;
  }

  private request(peer: string, msg: SessionsMessage, timeoutMs = this.d.forwardTimeoutMs): Promise<SessionsMessage | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(msg.id);
        resolve(null);
      }, timeoutMs);
      this.pending.set(msg.id, { peer, resolve, timer });
      if (!this.d.channel.send(peer, msg)) {
        clearTimeout(timer);
        this.pending.delete(msg.id);
        resolve(null);
      }
    });
  }

  private async forward(owner: string, code: string, command: Command): Promise<CommandResult> {
    const reply = await this.request(owner, { type: 'command', id: this.newId(), code, command });
    if (reply?.type === 'result') return reply.result;
    return refusal('owner-unreachable', 'The server running this game did not answer.', true);
  }

  private onMessage(from: string, body: unknown): void {
    const parsed = sessionsMessage.safeParse(body);
    if (!parsed.success) {
      this.d.logger.warn({ from, issue: parsed.error.issues[0]?.message }, `dropped an invalid sessions message from ${from}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'result':
      case 'created':
      case 'handoff-result': {
        const p = this.pending.get(msg.id);
        if (!p) return; // late answer to a request that timed out
        clearTimeout(p.timer);
        this.pending.delete(msg.id);
        p.resolve(msg);
        return;
      }
      case 'command': {
        const mine = this.owned.get(msg.code);
        const reply = (result: CommandResult) => this.d.channel.send(from, { type: 'result', id: msg.id, result });
        if (!mine?.running) {
          reply(refusal('not-owner', 'This server does not run that game.', true));
          return;
        }
        void this.runCommand(mine, msg.command).then(reply, (err) => {
          this.d.logger.error({ err, game: msg.code }, 'a forwarded command failed');
          reply(refusal('internal', 'The command failed on the owner.', true));
        });
        return;
      }
      case 'create': {
        void this.create(msg.creator).then((out) =>
          this.d.channel.send(from, out.ok ? { type: 'created', id: msg.id, ok: true, code: out.code } : { type: 'created', id: msg.id, ok: false, message: out.message }),
        );
        return;
      }
      case 'handoff': {
        void this.acceptHandoff(from, msg.id, msg.record as GameRecord);
        return;
      }
    }
  }

  private async acceptHandoff(from: string, id: string, record: GameRecord): Promise<void> {
    const answer = (ok: boolean, epoch?: number, reason?: string) =>
      this.d.channel.send(from, { type: 'handoff-result', id, ok, ...(epoch !== undefined ? { epoch } : {}), ...(reason ? { reason } : {}) });
    if (this.d.selfState() !== 'ready') return void answer(false, undefined, `node is ${this.d.selfState()}`);
    if (!canRead(record.schema)) return void answer(false, undefined, `schema ${record.schema} unreadable here`);
    const held = this.d.replica.getAny(record.key);
    if (held && compareVersion(held, record) > 0) {
      // We already hold something newer (e.g. we adopted it already): confirm if it is ours.
      if (held.owner === this.d.nodeId && this.owned.get(record.key)?.running) return void answer(true, held.epoch);
      return void answer(false, undefined, 'a newer version exists');
    }
    const adopted = await this.adopt(record, 'handoff');
    if (adopted) answer(true, adopted.epoch);
    else answer(false, undefined, 'adoption failed');
  }
}
