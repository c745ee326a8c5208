// The registry of games on this node: the games this node runs (GameSession each), how a
// player's command reaches the game's owner wherever it is, and game creation. Reads from the
// local replica are in reads.ts, moving games between nodes in transfer.ts, the ownership
// ledger in ledger.ts, peer request/reply in requests.ts.
//
// Longer than ~400 lines: command routing, creation, adoption and the peers' messages are each
// a few lines around the one map of running games; what stands alone has its own file.

import { afterInput, every, sleep, systemClock, type Clock } from '../clock.js';
import type { MeshChannel, NodeState } from '../cluster/types.js';
import type { GameResult } from '../db/results.js';
import { GAME_SCHEMA, createGame, type GameState } from '../game/index.js';
import { canRead } from '../game/upgrade.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { compareVersion } from '../replication/record.js';
import type { GameRecord } from './game-record.js';
import type { Replica } from '../replication/replica.js';
import type { ReplicaSync } from '../replication/sync.js';
import { isMoving, refusal, type Command, type CommandResult } from './commands.js';
import { GameSession, type AdoptReason, type SessionEnv } from './game-session.js';
import { Ledger, type Failing, type LeaseStore, type SnapshotStore } from './ledger.js';
import { receivedRecord, sessionsMessage, type SessionsMessage } from './protocol.js';
import { GameReads } from './reads.js';
import { Answers, PeerRequests } from './requests.js';
import { Transfers, type HandoffReport } from './transfer.js';

export interface SessionsDeps {
  nodeId: string;
  /** host:port peers reach this node at (kept in its lease, so starting nodes find it). */
  address?: () => string;
  /** This node's release version (placement prefers the newest release). */
  version: string;
  replica: Replica<GameState>;
  sync: ReplicaSync<GameState>;
  channel: MeshChannel;
  results: { record(r: GameResult): Promise<boolean> };
  snapshots: SnapshotStore;
  leases: LeaseStore;
  logger: Logger;
  metrics: Metrics;
  /** Time and timers (the simulator passes virtual ones). */
  clock?: Clock;
  random: { code(): string; seed(): number; id(): string };
  roundMs: number;
  selfState(): NodeState;
  /** False while this node may have been paused and has not yet heard from its peers again. */
  clockHealthy(): boolean;
  /** How long an owner must be missing before its games are taken over (after joining). */
  orphanGraceMs: number;
  /** A node lease not renewed for this long has run out (default: orphanGraceMs). */
  leaseMs?: number;
  /** How long a finished game stays visible (winner screen) before it is dropped. */
  finishedRetentionMs?: number;
  /** Open games nobody starts are dropped after this long. */
  openGameTtlMs?: number;
  /** How long a forwarded command waits for the owner. */
  forwardTimeoutMs?: number;
  /** How long execute() keeps retrying while a game moves between owners. */
  commandDeadlineMs?: number;
  /** How long a round adopted after an outage waits for players who were away. */
  holdMs?: number;
}

export type CreateResult = { ok: true; code: string } | { ok: false; message: string };

/** How long a peer that is down and runs no game this node holds is remembered as down. */
const FORGET_DOWN_PEER_MS = 30_000;

export class GameSessions {
  private readonly sessions = new Map<string, GameSession>();
  /** When each peer last came up, as this node saw it. */
  private readonly peerUpAt = new Map<string, number>();
  /** When each peer that is down now was declared down. */
  private readonly peerDownAt = new Map<string, number>();
  /** Per peer that is down: whether it renewed its lease since (asked at most once a renewal). */
  private readonly aliveSince = new Map<string, { at: number; alive: Promise<boolean> }>();
  private readonly beyondCutListeners = new Set<(codes: string[]) => void>();
  /** Sessions that ended with a write nobody else held, while the replica still has it. */
  private readonly unconfirmedEnds = new Map<
    string,
    { record: GameRecord; confirmed: false; shown: GameRecord | null }
  >();
  private readonly reads: GameReads;
  private readonly clock: Clock;
  /**
   * Runs a function once the waiting I/O is read: after the event loop's poll on real time; on
   * virtual clocks (the simulator) as a timer of no delay.
   */
  private readonly afterInput: (fn: () => void) => void;
  private readonly requests: PeerRequests;
  /** What this node answered its peers' requests (a request sent twice runs once). */
  private readonly answers: Answers<SessionsMessage>;
  private readonly ledger: Ledger;
  private readonly transfers: Transfers;
  private readonly env: SessionEnv;
  private readonly logged = new Set<string>();
  private stopSweep: (() => void) | null = null;
  private stopLease: (() => void) | null = null;
  private readonly opts: { forwardTimeoutMs: number; commandDeadlineMs: number };

  constructor(private readonly d: SessionsDeps) {
    this.clock = d.clock ?? systemClock;
    this.afterInput = afterInput(this.clock);
    this.opts = {
      forwardTimeoutMs: d.forwardTimeoutMs ?? 4000,
      commandDeadlineMs: d.commandDeadlineMs ?? 8000,
    };
    this.requests = new PeerRequests(d.channel, this.clock);
    this.answers = new Answers(this.clock);
    this.ledger = new Ledger({
      nodeId: d.nodeId,
      snapshots: d.snapshots,
      leases: d.leases,
      clock: this.clock,
      logger: d.logger,
      leaseMs: d.leaseMs ?? d.orphanGraceMs,
      reachable: (id) => this.isLivePeer(id),
      // A group is written once the turn's I/O is read: every action that arrived with it joins.
      defer: this.afterInput,
    });
    this.env = {
      nodeId: d.nodeId,
      clock: this.clock,
      sync: d.sync,
      ledger: this.ledger,
      logger: d.logger,
      metrics: d.metrics,
      // Alone, only while our lease is surely alive (no one may have taken a game over).
      mayResolve: () =>
        d.clockHealthy() &&
        (d.channel.peers().length > 0 || (this.ledger.available && this.ledger.leaseFresh())),
      recordResult: (state) => this.recordResult(state),
      finishedRetentionMs: d.finishedRetentionMs ?? 5 * 60_000,
      openGameTtlMs: d.openGameTtlMs ?? 60 * 60_000,
      holdMs: d.holdMs ?? 10_000,
      shownChanged: (key) => this.reads.changed(key),
      afterInput: this.afterInput,
      logOnce: (key) => {
        if (this.logged.has(key)) return false;
        if (this.logged.size > 10_000) this.logged.clear();
        this.logged.add(key);
        return true;
      },
    };
    this.transfers = new Transfers({
      nodeId: d.nodeId,
      version: d.version,
      clock: this.clock,
      replica: d.replica,
      sync: d.sync,
      channel: d.channel,
      requests: this.requests,
      ledger: this.ledger,
      logger: d.logger,
      metrics: d.metrics,
      selfState: () => d.selfState(),
      orphanGraceMs: d.orphanGraceMs,
      running: (key) => this.sessions.get(key),
      owned: () => [...this.sessions.values()],
      adopt: (base, reason) => this.adopt(base, reason),
      settleFinished: (state) => this.storeResult(state),
    });
    // Fencing first, then the pages: both hear the replica's changes, in this order.
    d.sync.onChange((key, current) => this.onReplicaChange(key, current));
    // A write whose owner could not save it is saved here before this node acknowledges it:
    // the owner confirms it only once a database holds it.
    d.sync.persistWith((rec) => this.ledger.persistCopy(rec));
    this.reads = new GameReads({
      own: (code) => {
        const session = this.sessions.get(code);
        if (session && session.status !== 'stopped') return session;
        // A session that ended before its last write was confirmed: that write stays unseen
        // until a newer record replaces it in the replica.
        const ended = this.unconfirmedEnds.get(code);
        const held = ended && d.replica.getAny(code);
        if (ended && (!held || compareVersion(held, ended.record) !== 0)) {
          this.unconfirmedEnds.delete(code);
          return undefined;
        }
        return ended;
      },
      replica: d.replica,
      sync: d.sync,
      ledger: this.ledger,
      // A live owner streams its writes to us: our copy is its latest, unless it predates the
      // owner's (re)connection (a partition that healed, or a new process with the same node id
      // that runs nothing yet): then it may lag what its players saw until a newer write comes.
      hears: (rec) =>
        rec.owner === d.nodeId
          ? this.sessions.get(rec.key)?.running === true
          : this.isLivePeer(rec.owner) && rec.at >= (this.peerUpAt.get(rec.owner) ?? 0),
      clock: this.clock,
      logger: d.logger,
    });
    d.channel.onMessage((from, body) => this.onMessage(from, body));
    d.channel.onPeerUp((m) => {
      this.peerUpAt.set(m.id, this.clock.now());
      this.peerDownAt.delete(m.id);
      this.aliveSince.delete(m.id);
    });
    d.channel.onPeerDown((m) => {
      this.peerDownAt.set(m.id, this.clock.now());
      this.aliveSince.delete(m.id);
      this.transfers.peerDown(m.id);
      this.requests.peerDown(m.id);
      this.transfers.sweep();
    });
    d.channel.onPeerState(() => this.transfers.sweep());
    d.channel.onPeerRelink((m) => this.requests.resend(m.id));
  }

  // ── reads: the local replica (reads.ts) ───────────────────────────────────────────────

  readonly game = (code: string): GameState | undefined => this.reads.game(code);
  readonly shownRecord = (code: string): GameRecord | undefined => this.reads.record(code);
  readonly runsHere = (code: string): boolean => this.sessions.get(code)?.running === true;
  /** True while the latest write of a game running here is held by no peer or database yet. */
  readonly unconfirmed = (code: string): boolean => {
    const session = this.sessions.get(code);
    return session !== undefined && session.status !== 'stopped' && !session.confirmed;
  };
  readonly unreadable = (code: string): boolean => this.reads.unreadable(code);
  readonly awaitGame: GameReads['awaitGame'] = (code, timeoutMs) =>
    this.reads.awaitGame(code, timeoutMs);
  readonly pending: GameReads['pending'] = (code) => this.reads.pending(code);
  readonly caughtUp: GameReads['caughtUp'] = (code, seen, gameId, timeoutMs) =>
    this.reads.caughtUp(code, seen, gameId, timeoutMs);
  readonly lobbyGames = (): GameState[] => this.reads.lobbyGames();
  readonly gamesOf = (playerId: string): GameState[] => this.reads.gamesOf(playerId);
  readonly subscribe: GameReads['subscribe'] = (listener) => this.reads.subscribe(listener);
  readonly watch: GameReads['watch'] = (code, listener) => this.reads.watch(code, listener);

  ownedCodes(): string[] {
    return [...this.sessions.values()].filter((s) => s.running).map((s) => s.key);
  }

  /** Database state, for health, metrics and the operator pages. */
  storage(): {
    available: boolean;
    unsaved: number;
    failing: Failing | null;
    /** This node's clock minus the database's (ms), from the last lease renewal. */
    clockOffsetMs: number | null;
  } {
    return {
      available: this.ledger.available,
      unsaved: this.ledger.unsaved,
      failing: this.ledger.failing,
      clockOffsetMs: this.ledger.clockOffsetMs,
    };
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────

  /**
   * Renews this node's lease from now on (before it resumes anything, so peers starting with it see
   * it).
   */
  async startLease(): Promise<void> {
    if (this.stopLease) return;
    const renew = (): Promise<void> =>
      this.ledger.renew(this.d.address?.() ?? this.d.nodeId, this.d.selfState());
    this.stopLease = every(this.clock, this.ledger.renewEveryMs, () => void renew());
    await renew();
  }

  /** Starts the periodic orphan sweep (takeover safety net, games only the ledger knows). */
  start(): void {
    if (this.stopSweep) return;
    let ticks = 0;
    this.stopSweep = every(this.clock, 1000, () => {
      this.transfers.sweep();
      void this.sweepBeyondCut();
      if (++ticks % 5 === 0 && this.d.selfState() === 'ready')
        void this.transfers.resumeFromLedger();
    });
  }

  stop(): void {
    this.stopSweep?.();
    this.stopSweep = null;
    this.stopLease?.();
    this.stopLease = null;
    for (const s of [...this.sessions.values()]) s.end('stopped');
    this.sessions.clear();
    this.unconfirmedEnds.clear();
    this.requests.stop();
  }

  /**
   * A stopping node's last saves: games it kept while the database was away are written when it
   * answers, until `deadline`; returns how many are still unsaved.
   */
  saveUnsaved(deadline: number): Promise<number> {
    return this.ledger.saveUnsaved(deadline);
  }

  /** A clean stop gives the lease up, so whatever is left can be resumed at once. */
  async releaseLease(): Promise<void> {
    this.stopLease?.();
    this.stopLease = null;
    await this.ledger.flush();
    await this.ledger.release();
  }

  sweep(): void {
    this.transfers.sweep();
  }

  /** Cold start: resumes games the ledger holds that no live node runs. */
  resumeFromSnapshots(): Promise<number> {
    return this.transfers.resumeFromLedger();
  }

  /** Drain: hands every owned game to a ready peer, within `budgetMs`. */
  handOffAll(budgetMs = 6000): Promise<HandoffReport> {
    return this.transfers.handOffAll(this.clock.now() + budgetMs);
  }

  // ── commands ──────────────────────────────────────────────────────────────────────────

  /** Runs a player's command on the game's owner, wherever it is; retries while the game moves. */
  async execute(code: string, command: Command): Promise<CommandResult> {
    const deadline = this.clock.now() + this.opts.commandDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      const rec = this.d.replica.get(code);
      if (!rec?.state) {
        // Created a moment ago elsewhere: wait for it rather than say there is no such game.
        if (attempt > 0 || !(await this.awaitGame(code)))
          return refusal('no-game', `There is no game ${code}.`);
        continue;
      }
      const mine = this.sessions.get(code);
      let result: CommandResult | null = null;
      if (mine?.running) {
        try {
          result = await mine.run(command);
        } catch (err) {
          // As a forwarded command that fails (answer, below): refused, and the page tries again.
          this.d.logger.error({ err, game: code }, 'a command failed');
          return refusal('internal', 'The command failed on this server.', true);
        }
      } else if (rec.owner !== this.d.nodeId && this.isLivePeer(rec.owner)) {
        this.d.metrics.forwarded.inc();
        result = await this.forward(rec.owner, code, command);
      }
      if (result && !isMoving(result)) return result;
      if (this.clock.now() >= deadline) {
        return refusal(
          'unavailable',
          'The game is moving to another server. Your action is kept and will be sent again.',
          true,
        );
      }
      await sleep(this.clock, Math.min(50 * (attempt + 1), 400));
    }
  }

  private async forward(owner: string, code: string, command: Command): Promise<CommandResult> {
    const reply = await this.requests.ask(
      owner,
      { type: 'command', id: this.requests.newId(), code, command },
      this.opts.forwardTimeoutMs,
    );
    if (reply?.type === 'result') return reply.result;
    return refusal('owner-unreachable', 'The server running this game did not answer.', true);
  }

  /**
   * Stores a finished game's result (idempotent per game); a failure is logged, and retried at the
   * drop.
   */
  private recordResult(state: GameState): void {
    // A game everybody left before it started has no result.
    if (state.players.length === 0) return;
    void this.storeResult(state).catch((err: unknown) =>
      this.d.logger.error(
        { err, game: state.code },
        `could not record the result of ${state.code}`,
      ),
    );
  }

  private async storeResult(state: GameState): Promise<void> {
    const result: GameResult = {
      gameId: state.id,
      code: state.code,
      finishedAt: state.finishedAt ?? this.clock.now(),
      rounds: state.round,
      winnerId: state.winner,
      players: state.players.map((p) => ({
        accountId: p.id,
        won: p.id === state.winner,
        eliminatedRound: p.eliminatedRound,
        dealt: p.dealt,
      })),
      final: { schema: GAME_SCHEMA, state },
    };
    const recorded = await this.d.results.record(result);
    if (!recorded) return;
    const winner = state.players.find((p) => p.id === state.winner)?.name ?? 'nobody';
    this.d.logger.info(
      { game: state.code, rounds: state.round, winner },
      `game ${state.code} finished after ${state.round} rounds; winner ${winner}`,
    );
  }

  // ── creation ──────────────────────────────────────────────────────────────────────────

  async create(creator: { id: string; name: string }): Promise<CreateResult> {
    if (this.d.selfState() !== 'ready') {
      // A draining or joining node places no new game on itself: ask a ready peer.
      const peer = this.d.channel.peers().find((p) => p.state === 'ready');
      if (!peer)
        return {
          ok: false,
          message: 'No server can take a new game right now. Try again in a moment.',
        };
      const reply = await this.requests.ask(
        peer.id,
        { type: 'create', id: this.requests.newId(), creator },
        this.opts.forwardTimeoutMs,
      );
      if (reply?.type === 'created' && reply.ok && reply.code)
        return { ok: true, code: reply.code };
      return {
        ok: false,
        message:
          reply?.type === 'created' && reply.message
            ? reply.message
            : 'Could not create a game right now. Try again.',
      };
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const code = this.d.random.code();
      if (this.d.replica.getAny(code) || this.sessions.has(code)) continue;
      const now = this.clock.now();
      const state = createGame({
        id: this.d.random.id(),
        code,
        seed: this.d.random.seed(),
        creator,
        now,
        roundMs: this.d.roundMs,
      });
      // A new game's first epoch is its creation second, so it outranks any tombstone of an
      // earlier game with the same code that some replica may still hold.
      const record: GameRecord = {
        key: code,
        owner: this.d.nodeId,
        epoch: Math.floor(now / 1000),
        seq: 0,
        schema: GAME_SCHEMA,
        state,
        at: now,
      };
      const session = this.install(new GameSession(record, this.env));
      const out = await session.publish();
      if (
        out === 'fenced' ||
        out === 'rejected' ||
        this.d.replica.get(code)?.state?.id !== state.id
      ) {
        session.end('abandoned');
        continue; // another node took this code in the same instant
      }
      this.d.logger.info(
        { game: code, by: creator.name },
        `game ${code} created by ${creator.name}`,
      );
      return { ok: true, code };
    }
    return { ok: false, message: 'Could not find a free game code. Try again.' };
  }

  // ── ownership ─────────────────────────────────────────────────────────────────────────

  private install(session: GameSession): GameSession {
    this.sessions.get(session.key)?.end('stopped');
    this.sessions.set(session.key, session);
    session.onEnd(() => {
      if (this.sessions.get(session.key) !== session) return;
      this.sessions.delete(session.key);
      // Fenced, or stopped, with a write nobody else holds: the replica keeps that write (it
      // loses to any newer owner's), but pages must not show it (it may never stand).
      // (The session's own record may be one the database refused, never written here: what
      // is hidden is the replica's record if it is a write of this run nobody confirmed.)
      const held = this.d.replica.getAny(session.key);
      const shown = session.shown;
      if (
        !session.confirmed &&
        held?.owner === this.d.nodeId &&
        held.epoch === session.record.epoch &&
        (!shown || compareVersion(held, shown) > 0)
      )
        this.unconfirmedEnds.set(session.key, { record: held, confirmed: false, shown });
    });
    return session;
  }

  /** Makes this node the owner of `base`'s game with a higher epoch (claim, then write). */
  private async adopt(base: GameRecord, reason: AdoptReason): Promise<GameRecord | null> {
    const running = this.sessions.get(base.key);
    if (running?.running) return running.record;
    if (!base.state) return null;
    if (!canRead(base.schema)) {
      this.d.logger.warn(
        { game: base.key, schema: base.schema },
        `game ${base.key}: not adopting, its schema ${base.schema} is newer than this release reads`,
      );
      return null;
    }
    const record = GameSession.adoption(
      this.d.nodeId,
      { ...base, state: base.state },
      reason,
      this.clock.now(),
      this.env.holdMs,
    );
    const session = this.install(new GameSession(record, this.env));
    return (await session.takeOwnership(base, reason)) ? record : null;
  }

  /** A newer owner of a game this node runs appeared: stop running it (fencing). */
  private onReplicaChange(key: string, current: GameRecord | undefined): void {
    const mine = this.sessions.get(key);
    if (mine && mine.status !== 'stopped') {
      const any = this.d.replica.getAny(key);
      if (current && compareVersion(current, mine.record) > 0 && current.owner !== this.d.nodeId) {
        mine.fence(`node ${current.owner} adopted it (epoch ${current.epoch})`, current.owner);
      } else if (!current && any && compareVersion(any, mine.record) > 0) {
        mine.fence('it was dropped elsewhere');
      }
    }
  }

  // ── games run beyond a network cut ───────────────────────────────────────────────────────

  /**
   * True when the game runs on a node this one cannot reach although it is alive: the mesh
   * declared it down, yet it renewed its lease since, so it keeps its games (a partition, not a
   * loss). This node can neither show their moves nor pass their players' actions on; a node on
   * the owner's side of the cut can.
   */
  async ownerBeyondCut(code: string): Promise<boolean> {
    const owner = this.unreachableOwner(code);
    return owner !== null && (await this.aliveBeyondCut(owner));
  }

  /**
   * Called about once a second, while a cut lasts, with the games whose owner is alive beyond
   * it (see ownerBeyondCut).
   */
  onBeyondCut(listener: (codes: string[]) => void): () => void {
    this.beyondCutListeners.add(listener);
    return () => this.beyondCutListeners.delete(listener);
  }

  /** The owner of an unfinished game, when it is another node the mesh declared down. */
  private unreachableOwner(code: string): string | null {
    const rec = this.d.replica.get(code);
    if (!rec?.state || rec.state.status === 'finished' || rec.owner === this.d.nodeId) return null;
    if (this.runsHere(code)) return null;
    if (!this.peerDownAt.has(rec.owner) || this.isLivePeer(rec.owner)) return null;
    return rec.owner;
  }

  private aliveBeyondCut(owner: string): Promise<boolean> {
    const now = this.clock.now();
    const asked = this.aliveSince.get(owner);
    if (asked && now - asked.at < this.ledger.renewEveryMs) return asked.alive;
    const downAt = this.peerDownAt.get(owner) ?? now;
    const alive = this.ledger.renewedSince(owner, downAt).then((r) => {
      if (r === true && this.env.logOnce(`beyond-cut:${owner}:${downAt}`)) {
        this.d.logger.warn(
          { peer: owner },
          `node ${owner} renews its lease but the mesh cannot reach it (a network cut): its games stay with it, and their pages are sent to nodes that reach it`,
        );
      }
      return r === true;
    });
    this.aliveSince.set(owner, { at: now, alive });
    return alive;
  }

  private async sweepBeyondCut(): Promise<void> {
    if (this.beyondCutListeners.size === 0 || this.peerDownAt.size === 0) return;
    const byOwner = new Map<string, string[]>();
    for (const rec of this.d.replica.live()) {
      const owner = this.unreachableOwner(rec.key);
      if (owner === null) continue;
      const codes = byOwner.get(owner);
      if (codes) codes.push(rec.key);
      else byOwner.set(owner, [rec.key]);
    }
    // A peer gone for good (replaced, drained) runs no game here: forgotten after a while.
    const now = this.clock.now();
    for (const [id, downAt] of this.peerDownAt)
      if (!byOwner.has(id) && now - downAt > FORGET_DOWN_PEER_MS) {
        this.peerDownAt.delete(id);
        this.aliveSince.delete(id);
      }
    for (const [owner, codes] of byOwner) {
      if (!(await this.aliveBeyondCut(owner))) continue;
      for (const listener of this.beyondCutListeners) listener(codes);
    }
  }

  private isLivePeer(id: string): boolean {
    return this.d.channel.peers().some((p) => p.id === id);
  }

  // ── mesh messages ─────────────────────────────────────────────────────────────────────

  private onMessage(from: string, body: unknown): void {
    const parsed = sessionsMessage.safeParse(body);
    if (!parsed.success) {
      this.d.logger.warn(
        { from, issue: parsed.error.issues[0]?.message },
        `dropped an invalid sessions message from ${from}`,
      );
      return;
    }
    const msg = parsed.data;
    const { channel } = this.d;
    switch (msg.type) {
      case 'result':
      case 'created':
      case 'handoff-result':
        this.requests.answer(from, msg);
        return;
      case 'command':
      case 'create':
      case 'handoff':
        // A request sent again (after a relink) gets the first one's answer; it never runs twice.
        void this.answers
          .once(from, msg.id, () => this.answer(msg))
          .then(
            (reply) => channel.send(from, reply),
            (err: unknown) =>
              this.d.logger.error({ err, from, request: msg.type }, `a ${msg.type} request failed`),
          );
        return;
    }
  }

  /**
   * The answer to a peer's request. A command that fails is answered with a refusal; a create or
   * handoff that throws rejects, and the caller logs it (the peer then waits for its timeout).
   */
  private async answer(
    msg: Extract<SessionsMessage, { type: 'command' | 'create' | 'handoff' }>,
  ): Promise<SessionsMessage> {
    switch (msg.type) {
      case 'command': {
        const mine = this.sessions.get(msg.code);
        let result: CommandResult;
        if (!mine?.running) {
          result = refusal('not-owner', 'This server does not run that game.', true);
        } else {
          try {
            result = await mine.run(msg.command);
          } catch (err) {
            this.d.logger.error({ err, game: msg.code }, 'a forwarded command failed');
            result = refusal('internal', 'The command failed on the owner.', true);
          }
        }
        return { type: 'result', id: msg.id, result };
      }
      case 'create': {
        const out = await this.create(msg.creator);
        return out.ok
          ? { type: 'created', id: msg.id, ok: true, code: out.code }
          : { type: 'created', id: msg.id, ok: false, message: out.message };
      }
      case 'handoff': {
        const out = await this.transfers.acceptHandoff(receivedRecord(msg.record));
        return out.ok
          ? { type: 'handoff-result', id: msg.id, ok: true, epoch: out.epoch }
          : { type: 'handoff-result', id: msg.id, ok: false, reason: out.reason };
      }
    }
  }
}
