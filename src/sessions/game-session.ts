// One game this node runs, as an object that owns its life here: the latest record it wrote,
// a queue that runs its commands and clock ticks one at a time, the timer of its round, and
// the rule for when a write may be acknowledged. It ends for good when the game is handed
// off, fenced by a newer owner, dropped, or its adoption fails; it reports that by an event.
//
// A write is acknowledged only once the database holds it: (1) the ledger saved it (the
// database refused nothing newer), or (2) this node's database did not answer and a live peer
// saved it for us (the write went with `persist`; the same conditional save). Every successor
// continues from the database's newest version, so an acknowledged action is never one it
// cannot see, whatever froze, died or was cut off. Rounds resolve only on top of a write the
// database holds, so a game waits (its actions kept and sent again) while nobody can save it.
//
// A little over ~400 lines: every step of a game's life here acts on the one record through
// the one queue; split, the pieces would hand that record back and forth.

import type { Clock, TimerHandle } from '../clock.js';
import {
  GAME_SCHEMA,
  holdRound,
  isHoldOver,
  isRoundDue,
  everyoneChose,
  joinGame,
  leaveGame,
  applySocial,
  markPresent,
  releaseHold,
  resolveRound,
  startGame,
  submitAction,
  type GameState,
  type RuleResult,
} from '../game/index.js';
import { upgradeState } from '../game/upgrade.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { GameRecord } from './game-record.js';
import type { WriteOutcome } from '../replication/pending-writes.js';
import { refusal, type Command, type CommandResult } from './commands.js';
import type { ClaimResult, Ledger } from './ledger.js';

export interface SessionEnv {
  nodeId: string;
  clock: Clock;
  sync: { write(record: GameRecord, persist?: boolean): Promise<WriteOutcome> };
  ledger: Ledger;
  logger: Logger;
  metrics: Metrics;
  /**
   * False while this node must not move a game on: it may have been paused and has not yet
   * heard from its peers again, or it is alone and its lease may have run out (a successor may
   * have taken the game over). The session adds its own condition: the last write is saved.
   */
  mayResolve(): boolean;
  /** Stores a finished game's result (idempotent). */
  recordResult(state: GameState): void;
  /** How long a finished game stays visible (winner screen) before it is dropped. */
  finishedRetentionMs: number;
  /** Open games nobody starts are dropped after this long. */
  openGameTtlMs: number;
  /** How long an adopted round waits for players who were away because of the outage. */
  holdMs: number;
  /** True the first time it is asked about `key` (repeated conditions are logged once). */
  logOnce(key: string): boolean;
  /** What pages on this node may show of the game changed (see GameSession.shown). */
  shownChanged(key: string): void;
  /**
   * Runs `fn` once the input that is waiting has been read: on real time, after the event
   * loop's next poll for I/O (a timer fires before it). A round that falls due resolves after
   * the actions that reached this node before it.
   */
  afterInput(fn: () => void): void;
}

/** How soon an unconfirmed record is sent again. */
const CONFIRM_RETRY_MS = 500;

export type CommitOutcome = 'ok' | 'fenced' | 'unconfirmed' | 'rejected';
export type SessionEnd = 'fenced' | 'dropped' | 'handed-off' | 'abandoned' | 'stopped';
export type AdoptReason = 'handoff' | 'takeover' | 'cold-start';

/** A handoff's adoption not claimed yet: the version it continued from, and its first record. */
interface Unclaimed {
  base: GameRecord;
  adoption: GameRecord;
}

export class GameSession {
  status: 'running' | 'handing-off' | 'stopped' = 'running';
  /** True once the latest write may be acknowledged (see the header). */
  confirmed = false;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: TimerHandle | undefined;
  /** Sends an unconfirmed record again until a peer or the database holds it. */
  #confirmTimer: TimerHandle | undefined;
  readonly #onEnd: ((why: SessionEnd) => void)[] = [];
  /** The last record the database held; null before the first. */
  #confirmedRecord: GameRecord | null = null;
  /**
   * A handoff adopted while the database did not answer: the version it continued from (`base`,
   * from which the first save that reaches the database claims it by compare-and-set) and its
   * own first record (`adoption`, which that claim may have written with its answer lost).
   */
  #unclaimed: Unclaimed | null = null;
  /** The last confirmation was a peer's save (this node's own database did not answer). */
  #savedByPeer = false;
  /** Adopting, its claim not answered yet: this node does not run the game yet. */
  #claiming = false;
  /** The peers this node asked to take the game over (a drain), the one still asked included. */
  readonly handingTo = new Set<string>();

  constructor(
    public record: GameRecord,
    private readonly env: SessionEnv,
  ) {}

  get key(): string {
    return this.record.key;
  }

  get running(): boolean {
    return this.status === 'running';
  }

  /**
   * What pages on this node show of the game: the latest record once the database holds it, the
   * last such record until then. A write the database does not hold may yet be replaced by a
   * successor's: no player sees it first.
   */
  get shown(): GameRecord | null {
    return this.confirmed ? this.record : this.#confirmedRecord;
  }

  #confirm(record: GameRecord): void {
    this.confirmed = true;
    this.#confirmedRecord = record;
    this.env.shownChanged(this.key);
  }

  onEnd(listener: (why: SessionEnd) => void): void {
    this.#onEnd.push(listener);
  }

  /** Runs `task` after every task queued before it; a failing task does not block the queue. */
  exclusive<T>(task: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Stops running the game here, for good. */
  end(why: SessionEnd): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    this.#disarm();
    this.env.clock.clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
    for (const listener of this.#onEnd) listener(why);
    // Pages here show the replica's record again (but not a write of ours nobody else holds:
    // the registry's listener above keeps that hidden).
    this.env.shownChanged(this.key);
  }

  /**
   * A newer owner exists (`owner`, when known): stop at once (nothing more is written or
   * acknowledged here).
   */
  fence(why: string, owner?: string): void {
    if (this.status === 'stopped') return;
    // Two nodes adopting the same game at once (a cold start): the other's claim came first, and
    // this node never ran the game.
    if (this.#claiming)
      this.env.logger.info(
        { game: this.key, epoch: this.record.epoch },
        `game ${this.key}: not adopted, ${why}`,
      );
    // Handed over on a drain: the peer's first write can reach this node before its answer.
    // That is the handoff succeeding, not a game taken from this node.
    else if (owner !== undefined && this.handingTo.has(owner))
      this.env.logger.info(
        { game: this.key, epoch: this.record.epoch, to: owner },
        `game ${this.key}: stopped running it, ${why} (handed over)`,
      );
    else
      this.env.logger.warn(
        { game: this.key, epoch: this.record.epoch },
        `game ${this.key}: stopped running it, ${why}`,
      );
    this.end('fenced');
  }

  // ── adoption ────────────────────────────────────────────────────────────────────────

  /**
   * The record this node would write to adopt `base`: the same game at epoch + 1. After a
   * takeover or a cold start a running round waits for the players who were away.
   */
  static adoption(
    nodeId: string,
    base: GameRecord & { state: object },
    reason: AdoptReason,
    now: number,
    holdMs: number,
  ): GameRecord {
    let state = upgradeState(base.state, base.schema);
    if (reason !== 'handoff' && state.status === 'playing') state = holdRound(state, now, holdMs);
    return {
      key: base.key,
      owner: nodeId,
      epoch: base.epoch + 1,
      seq: 0,
      schema: GAME_SCHEMA,
      state,
      at: now,
    };
  }

  /**
   * Makes this (new) session the owner: claims the game in the ledger from `base` — for a
   * takeover or cold start only once the former owner's lease ran out — then writes it.
   */
  takeOwnership(base: GameRecord, reason: AdoptReason): Promise<boolean> {
    // Commands that reach the game meanwhile wait until the adoption is settled.
    return this.exclusive(() => this.#takeOwnership(base, reason));
  }

  async #takeOwnership(base: GameRecord, reason: AdoptReason): Promise<boolean> {
    const { env } = this;
    const record = this.record;
    // Until the adoption is confirmed, pages show the record it continues.
    this.#confirmedRecord = base;
    this.#claiming = true;
    const claim = await env.ledger.claim(base, record, reason !== 'handoff');
    this.#claiming = false;
    if (claim !== 'claimed' && (claim !== 'unavailable' || reason !== 'handoff')) {
      const why = notAdopted(claim, base.owner);
      const kind = typeof claim === 'object' ? `unreachable ${claim.unreachable}` : claim;
      // Said once per game and reason: a sweep asks again every second while it lasts.
      env.logger[env.logOnce(`${this.key}:${reason}:${kind}:${base.owner}`) ? 'info' : 'debug'](
        { game: this.key, reason, claim },
        `game ${this.key}: not adopted (${reason}): ${why}`,
      );
      this.end('abandoned');
      return false;
    }
    // A handoff proceeds without the database (the former owner stopped and waits for us); the
    // first save that reaches it claims the game from `base`, and until then nothing is confirmed.
    if (claim === 'unavailable') this.#unclaimed = { base, adoption: record };
    env.logger.debug(
      {
        game: this.key,
        base: { epoch: base.epoch, owner: base.owner, seq: base.seq },
        epoch: record.epoch,
        reason,
        ...(claim === 'unavailable' && { unclaimed: true }),
      },
      `game ${this.key} claimed (epoch ${record.epoch})${claim === 'unavailable' ? ', once the database answers' : ''}`,
    );
    // Replicas hold only what a database holds: an adoption not claimed yet goes to the peers
    // with the save that claims it.
    const outcome = claim === 'claimed' ? await env.sync.write(record) : null;
    if (outcome?.kind === 'fenced' || outcome?.kind === 'rejected') {
      env.logger.info(
        { game: this.key, reason },
        `game ${this.key}: adoption abandoned (${outcome.kind})`,
      );
      this.end('abandoned');
      return false;
    }
    if (claim === 'claimed') this.#confirm(record);
    else this.#confirmSoon();
    const state = record.state as GameState;
    env.metrics.adoptions.inc({ reason });
    env.logger.info(
      {
        game: this.key,
        from: base.owner,
        base: { epoch: base.epoch, owner: base.owner, seq: base.seq },
        epoch: record.epoch,
        round: state.round,
        reason,
      },
      `game ${this.key} adopted from node ${base.owner} (epoch ${record.epoch}, round ${state.round})${reason === 'handoff' ? '' : ` [${reason}]`}`,
    );
    this.#arm();
    // The former owner may have stopped between finishing the game and recording it (recording is
    // idempotent; an adoption confirmed later records it then).
    if (state.status === 'finished' && this.confirmed) env.recordResult(state);
    // A round that fell due while nobody owned the game resolves now.
    if (state.status === 'playing') void this.tick();
    return true;
  }

  // ── commands and the clock ──────────────────────────────────────────────────────────

  run(command: Command): Promise<CommandResult> {
    return this.exclusive(async () => {
      if (!this.running) return refusal('not-owner', 'This server no longer runs the game.', true);
      const state = this.record.state;
      if (!state) return refusal('no-game', 'The game has ended.');
      const now = this.env.clock.now();
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
        case 'present':
          r = markPresent(state, command.playerId, now);
          break;
        case 'social':
          r = applySocial(state, command.playerId, command.op, now);
          break;
        case 'act': {
          // Acting shows the player is back.
          const present = markPresent(state, command.playerId, now);
          r = submitAction(present.ok ? present.state : state, command.playerId, command.action);
          break;
        }
      }
      if (!r.ok) return refusal(r.code, r.message);
      if (r.duplicate) {
        // Acknowledge a resend only once what it changed may be acknowledged.
        if (!this.confirmed) {
          const out = await this.commit(null);
          if (out !== 'ok') return writeFailure(out);
        }
        return { ok: true, duplicate: true };
      }
      let next = r.state;
      const before = next;
      // Everyone has acted: resolve now, in the same write, instead of waiting for the deadline.
      // (A round past its deadline is left to the clock's tick, which comes once the input that
      // arrived with this action has been read: the others' actions of the round count too.)
      if (command.kind === 'act' && everyoneChose(next) && this.#mayAdvance()) {
        this.#countRound(next, now);
        next = resolveRound(releaseHold(next, now), now);
      }
      const { epoch, seq } = this.record;
      const resolved = next !== before;
      // As the clock's resolution: traced before the write too, for a node killed after it.
      if (resolved) this.#logResolved(epoch, seq + 1, before, null);
      const out = await this.commit(next);
      if (resolved) this.#logResolved(epoch, seq + 1, before, out);

      if (out !== 'ok') return writeFailure(out);
      return { ok: true, duplicate: false };
    });
  }

  tick(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.running || !this.record.state) return;
      const state = this.record.state;
      const now = this.env.clock.now();
      const due = state.hold ? isHoldOver(state, now) : isRoundDue(state, now);
      if (!due) {
        this.#arm();
        return;
      }
      if (!this.#mayAdvance()) {
        // Paused, or the last write is not saved yet (nobody can save it: the database is away):
        // hold the clock until the round can be confirmed (or a successor, which then resolves it
        // once, fences us). Actions sent meanwhile are kept, and count when it resolves.
        // Our own database does not answer: ask the peers to save the current write (a player
        // acting would ask too); once one has, the round resolves through them.
        if (this.confirmed && this.#unclaimed === null && this.env.mayResolve())
          await this.commit(null);
        this.#armAt(now + 100, () => void this.tick());
        return;
      }
      if (state.hold) {
        await this.commit(releaseHold(state, now));
        return;
      }
      this.#countRound(state, now);
      const { epoch, seq } = this.record;
      this.#logResolved(epoch, seq + 1, state, null);
      const out = await this.commit(resolveRound(state, now));
      this.#logResolved(epoch, seq + 1, state, out);
      // The commit may have stopped the game (a refused save fences it): read the status again.
      if (out === 'unconfirmed' && this.status === 'running') {
        this.env.logger.warn(
          { game: this.key, round: state.round },
          `round ${state.round} of ${this.key} resolved but not yet confirmed`,
        );
      }
    });
  }

  /** A round resolved; how late, if after its deadline (however it came to be resolved). */
  #countRound(state: GameState, now: number): void {
    this.env.metrics.rounds.inc();
    if (state.deadline !== null && now >= state.deadline)
      this.env.metrics.roundLateSeconds.observe((now - state.deadline) / 1000);
  }

  /**
   * Whether the clock may move the game on (resolve a round, end a hold): the node's own
   * conditions (see SessionEnv.mayResolve), and the last write is saved and the next one can
   * be (this node's database answers, or a peer saved the last one for it). A round resolved
   * that nobody can save would be shown late, with the next round's time already run down.
   */
  #mayAdvance(): boolean {
    return (
      this.env.mayResolve() &&
      this.confirmed &&
      this.#unclaimed === null &&
      (this.env.ledger.available || this.#savedByPeer)
    );
  }

  /** Replaces a finished or abandoned game by a tombstone once nobody needs to see it. */
  drop(why: 'finished' | 'abandoned'): Promise<void> {
    return this.exclusive(async () => {
      if (!this.running || !this.record.state) return;
      const state = this.record.state;
      if (why === 'abandoned' && state.status !== 'open') return;
      // Still the owner after the retention period: record the result if its final write
      // was never confirmed at the time (idempotent otherwise).
      if (state.status === 'finished') this.env.recordResult(state);
      else await this.env.ledger.remove(this.key, state.id);
      const prev = this.record;
      const tomb: GameRecord = {
        ...prev,
        seq: prev.seq + 1,
        state: null,
        at: this.env.clock.now(),
      };
      this.record = tomb;
      this.end('dropped');
      const out = await this.env.sync.write(tomb);
      // A finished game's saved row goes once no node can hold a copy the tombstone misses (a
      // node out of reach whose copy lagged would otherwise find no row and play that copy on
      // from its older round); else it stays, and the ledger prunes it later (see Transfers).
      if (
        state.status === 'finished' &&
        (out.kind === 'acked' || out.kind === 'alone') &&
        (await this.env.ledger.everyHolderReachable())
      )
        await this.env.ledger.remove(this.key, state.id);
      this.env.logger.info({ game: this.key }, `game ${this.key} dropped (${why})`);
    });
  }

  /** Holds the game for a handoff: no more ticks; commands wait in the queue behind it. */
  pauseForHandoff(): void {
    this.status = 'handing-off';
    this.#disarm();
  }

  /**
   * A stopping owner that found no peer to take the game leaves its latest write in the
   * database (kept, and written when it answers, if it is away). An adoption not claimed yet can
   * only be written by its compare-and-set: tried once; if the database is away it is not
   * written, and the next node continues from the version it came from (its writes were never
   * confirmed).
   */
  async leaveInDatabase(): Promise<void> {
    if (this.#unclaimed === null) await this.env.ledger.save(this.record);
    else await this.claimIfUnclaimed();
  }

  /**
   * Before the game is handed on or left behind: an adoption not claimed yet is claimed now (its
   * compare-and-set, then the peers learn it). False when it could not be (the database away, or
   * a newer version there): it must not be handed on, since the next owner would claim from a
   * version the database never held.
   */
  async claimIfUnclaimed(): Promise<boolean> {
    if (this.#unclaimed === null) return true;
    if ((await this.#claimAdoption(this.record)) !== 'saved') return false;
    await this.env.sync.write(this.record);
    return true;
  }

  /** The first write of a game created here. */
  publish(): Promise<CommitOutcome> {
    return this.exclusive(() => this.commit(null));
  }

  /**
   * Writes `state` as the game's next record (null: writes the current record again, to
   * confirm it or to publish a new game) and waits until it may be acknowledged.
   */
  async commit(state: GameState | null): Promise<CommitOutcome> {
    const { env } = this;
    const prev = this.record;
    const rewrite = state === null;
    const record: GameRecord = rewrite
      ? prev
      : {
          key: prev.key,
          owner: env.nodeId,
          epoch: prev.epoch,
          seq: prev.seq + 1,
          schema: GAME_SCHEMA,
          state,
          at: env.clock.now(),
        };
    this.record = record;
    this.confirmed = false;
    this.#arm();
    // Saved before anyone sees it: a write the ledger refuses is never shown to a player.
    const saved = this.#unclaimed
      ? await this.#claimAdoption(record)
      : await env.ledger.save(record);
    if (saved === 'newer') {
      this.fence('a newer version of it is saved');
      return 'fenced';
    }
    // Applied to the local replica and sent to the peers now. Saved: it stands whatever the
    // peers answer (a successor adopts only from the database's newest, by compare-and-set), so
    // it is confirmed at once, not after the slowest peer's ack; a peer that answers with a newer
    // owner's version still fences us, later. Not saved: the peers save it for us (`persist`),
    // except an adoption not yet claimed, which only a compare-and-set may write: that waits.
    if (saved === 'unavailable' && this.#unclaimed !== null) {
      this.#confirmSoon();
      return 'unconfirmed';
    }
    const writing = env.sync.write(record, saved === 'unavailable');
    if (saved === 'saved') {
      this.#savedByPeer = false;
      void writing.then((late) => {
        if (late.kind === 'fenced' && this.record === record) this.#fencedBy(late.current);
        else if (late.kind === 'rejected')
          env.logger.error(
            { game: this.key, reason: late.reason },
            `write of ${this.key} saved but not replicated: ${late.reason}`,
          );
      });
      return this.#confirmed(record, prev, rewrite);
    }
    const outcome = await writing;
    if (outcome.kind === 'fenced') {
      this.#fencedBy(outcome.current);
      return 'fenced';
    }
    // Stopped while the peers answered (a newer owner's record reached us meanwhile): a peer
    // that vouches for this write now has not heard of that owner yet, and drops the write when
    // it does. Not acknowledged: the player's page sends the action again, to the new owner.
    if (this.status === 'stopped' && outcome.kind === 'acked') return 'fenced';
    if (outcome.kind === 'rejected') {
      // Never happens with valid states; if it does, keep running the last state that was stored.
      env.logger.error(
        { game: this.key, reason: outcome.reason },
        `write of ${this.key} rejected: ${outcome.reason}`,
      );
      if (this.record === record && !rewrite) {
        this.record = prev;
        this.#arm();
      }
      return 'rejected';
    }
    if (outcome.kind !== 'acked' || outcome.saved !== true) {
      this.#confirmSoon();
      return 'unconfirmed';
    }
    this.#savedByPeer = true;
    return this.#confirmed(record, prev, rewrite);
  }

  /** The first save of a handoff's adoption made without the database: its compare-and-set. */
  async #claimAdoption(record: GameRecord): Promise<'saved' | 'newer' | 'unavailable'> {
    const { base, adoption } = this.#unclaimed as Unclaimed;
    const { ledger } = this.env;
    const claim = await ledger.claim(base, record, false);
    if (claim === 'unavailable') return 'unavailable';
    if (claim === 'claimed') {
      this.#unclaimed = null;
      return 'saved';
    }
    // The claim made at the adoption may have been written after all, its answer lost (the
    // connection dropped after the statement ran): then the database holds that very record,
    // the game is ours, and this write is saved over it like any other.
    const ours = await ledger.holds(adoption);
    if (ours !== true) return ours === 'unavailable' ? 'unavailable' : 'newer';
    this.#unclaimed = null;
    return ledger.save(record);
  }

  /** A peer holds a newer owner's version of the game. */
  #fencedBy(current: { epoch: number; owner: string }): void {
    this.fence(`a newer owner holds epoch ${current.epoch} (${current.owner})`);
  }

  /** A write the database holds: it may be shown and acknowledged. */
  #confirmed(record: GameRecord, prev: GameRecord, rewrite: boolean): CommitOutcome {
    const { env } = this;
    // A result goes into the database only once the final state may be acknowledged: a
    // fenced former owner must never record a game its successor is still playing. A final
    // state confirmed late (sent again) is recorded then; recording is idempotent.
    const final = record.state;
    if (final?.status === 'finished' && (rewrite || prev.state?.status !== 'finished'))
      env.recordResult(final);
    if (this.record === record) {
      // A write sent again and now held: what it resolved stands (the rehearsal's checks read it).
      if (rewrite)
        env.logger.debug(
          { game: this.key, epoch: record.epoch, seq: record.seq },
          `record ${record.seq} of ${this.key} confirmed (epoch ${record.epoch})`,
        );
      this.#confirm(record);
    }
    return 'ok';
  }

  /** The timer of the current state: its round deadline, its hold, or its clean-up. */
  #arm(): void {
    const state = this.record.state;
    if (!state) return this.#disarm();
    const { env } = this;
    if (state.status === 'playing') {
      const now = env.clock.now();
      // Everyone acted but the round is not resolved (it could not be confirmed then): soon.
      const due = !state.hold && everyoneChose(state) ? now + 100 : null;
      const at = due ?? (state.hold ? state.hold.until : state.deadline);
      // A busy node reads its sockets after its timers: an action that arrived before the
      // deadline may still wait unread when the deadline's timer fires, and would be refused as
      // late. The round resolves once the waiting input is read.
      if (at !== null) this.#armAt(at, () => env.afterInput(() => void this.tick()));
    } else if (state.status === 'finished') {
      // Shown for a while after its end (writes since, table talk, do not put that off); a
      // game everybody left before it started has nothing to show, and goes at once.
      const ended = state.finishedAt ?? env.clock.now();
      const at = state.players.length === 0 ? env.clock.now() : ended + env.finishedRetentionMs;
      this.#armAt(at, () => void this.drop('finished'));
    } else {
      this.#armAt(state.createdAt + env.openGameTtlMs, () => void this.drop('abandoned'));
    }
  }

  /**
   * A record the database does not hold yet (neither this node nor a peer could save it) is
   * saved again shortly, and again, until it is (then it is confirmed: e.g. a final state's
   * result is recorded) or a newer owner fences this one. Nothing else would ask: a finished
   * game writes nothing more.
   */
  #confirmSoon(): void {
    if (this.#confirmTimer !== undefined || this.status !== 'running') return;
    this.#confirmTimer = this.env.clock.setTimeout(() => {
      this.#confirmTimer = undefined;
      void this.exclusive(async () => {
        if (this.status === 'running' && !this.confirmed) await this.commit(null);
      });
    }, CONFIRM_RETRY_MS);
  }

  #armAt(at: number, onDue: () => void): void {
    this.#disarm();
    if (this.status !== 'running') return;
    this.#timer = this.env.clock.setTimeout(function roundDue() {
      onDue();
    }, at - this.env.clock.now());
  }

  #disarm(): void {
    this.env.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Debug trace of every round resolution (tests check that no round resolves twice): once as it
   * is saved (`outcome` null) and once with the outcome. A node killed in between leaves only the
   * first, which the tests then count if no other node resolved that round.
   */
  #logResolved(epoch: number, seq: number, state: GameState, outcome: string | null): void {
    // A debug line (the rehearsal reads it): not even built at a busier level.
    if (!this.env.logger.isLevelEnabled('debug')) return;
    const applied = Object.fromEntries(
      Object.entries(state.submitted).map(([id, a]) => [id, a.id]),
    );
    this.env.logger.debug(
      {
        game: this.key,
        round: state.round,
        epoch,
        seq,
        ...(outcome !== null && { outcome }),
        applied,
      },
      outcome === null
        ? `round ${state.round} of ${this.key} resolving (epoch ${epoch})`
        : `round ${state.round} of ${this.key} resolved (epoch ${epoch})`,
    );
  }
}

/** Why a claim did not adopt the game, for the log. */
function notAdopted(claim: Exclude<ClaimResult, 'claimed'>, owner: string): string {
  if (typeof claim === 'object')
    return `node ${claim.unreachable} holds a lease but cannot be reached (it may hold acknowledged writes of the game)`;
  if (claim === 'owner-alive') return `node ${owner} still holds its lease`;
  if (claim === 'newer') return 'a newer version is saved';
  return 'the database is unavailable';
}

function writeFailure(out: Exclude<CommitOutcome, 'ok'>): CommandResult {
  if (out === 'fenced') return refusal('not-owner', 'The game moved to another server.', true);
  if (out === 'unconfirmed')
    return refusal(
      'unavailable',
      'Your action could not be saved safely yet; it will be sent again.',
      true,
    );
  return refusal('unavailable', 'The game could not be saved. Try again.', true);
}
