// Results of finished games on their way to the database. A result that cannot be written
// because the database is away is kept (one per game id) and written when it answers again:
// at once when the storage sees it back, and on a timer meanwhile. Writing is idempotent per
// game id, so a result recorded again by another node (or later by this one) counts once.

import { sleep, systemClock, type Clock, type TimerHandle } from '../clock.js';
import { outageClass } from './errors.js';
import type { DbLogger } from './logger.js';
import type { GameResult } from './results.js';

export interface ResultWriter {
  record(result: GameResult): Promise<boolean>;
}

export interface ResultOutboxOptions {
  logger: DbLogger;
  /** Pause between attempts while results wait (default 2 s). */
  retryMs?: number;
  /** Timers (default: Node's). */
  clock?: Clock;
}

interface Waiting {
  result: GameResult;
  settle: (recorded: boolean) => void;
  fail: (err: unknown) => void;
}

export class ResultOutbox implements ResultWriter {
  readonly #writer: ResultWriter;
  readonly #logger: DbLogger;
  readonly #retryMs: number;
  readonly #waiting = new Map<string, Waiting>();
  readonly #clock: Clock;
  #timer: TimerHandle | null = null;
  #flushing: Promise<void> | null = null;
  #stopped = false;

  constructor(writer: ResultWriter, options: ResultOutboxOptions) {
    this.#writer = writer;
    this.#logger = options.logger;
    this.#retryMs = options.retryMs ?? 2000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Results waiting for the database. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Records a result: resolves true once this node wrote it, false when it was already
   * recorded. While the database is away the promise waits; a result that can never be
   * written (it names no account) rejects at once.
   */
  record(result: GameResult): Promise<boolean> {
    const already = this.#waiting.get(result.gameId);
    if (already) return new Promise((resolve, reject) => this.#chain(already, resolve, reject));
    return this.#writer.record(result).catch((err: unknown) => {
      if (!outageClass(err) || this.#stopped) throw err;
      return new Promise<boolean>((resolve, reject) => {
        const held = this.#waiting.get(result.gameId);
        if (held) return this.#chain(held, resolve, reject);
        this.#waiting.set(result.gameId, { result, settle: resolve, fail: reject });
        this.#logger.warn(
          { game: result.code, waiting: this.#waiting.size },
          `result of ${result.code} kept until the database answers (${this.#waiting.size} waiting)`,
        );
        this.#schedule();
      });
    });
  }

  /** The database answers again: write what waits now rather than at the next tick. */
  retryNow(): void {
    if (this.#waiting.size > 0 && !this.#stopped) void this.flush();
  }

  /** Writes every waiting result it can; stops at the first outage. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushAll().finally(() => {
      this.#flushing = null;
      this.#schedule();
    });
    return this.#flushing;
  }

  /**
   * Before the process exits: keeps writing what waits, every `pauseMs`, until nothing waits or
   * `deadline` passes. Returns how many results still wait.
   */
  async settle(deadline: number, pauseMs = 250): Promise<number> {
    while (this.#waiting.size > 0 && !this.#stopped && this.#clock.now() < deadline) {
      await this.flush();
      if (this.#waiting.size === 0) break;
      await sleep(this.#clock, Math.min(pauseMs, Math.max(0, deadline - this.#clock.now())));
    }
    return this.#waiting.size;
  }

  /**
   * No more retries; whatever still waits is reported (its game's next owner records it again
   * when it drops the game).
   */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#waiting.size > 0) {
      const codes = [...this.#waiting.values()].map((w) => w.result.code);
      this.#logger.warn(
        { games: codes },
        `stopping with ${codes.length} results not yet recorded (${codes.join(', ')}); the nodes that hold these games record them when they drop them`,
      );
    }
  }

  async #flushAll(): Promise<void> {
    for (const [gameId, w] of [...this.#waiting]) {
      try {
        const recorded = await this.#writer.record(w.result);
        this.#waiting.delete(gameId);
        this.#logger.info(
          { game: w.result.code, waiting: this.#waiting.size },
          `result of ${w.result.code} recorded after the database came back`,
        );
        w.settle(recorded);
      } catch (err) {
        if (outageClass(err)) return;
        this.#waiting.delete(gameId);
        w.fail(err);
      }
    }
  }

  #schedule(): void {
    if (this.#stopped || this.#timer || this.#waiting.size === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, this.#retryMs);
  }

  /** A second report of a game already waiting settles with the first (counted once). */
  #chain(held: Waiting, resolve: (v: boolean) => void, reject: (e: unknown) => void): void {
    const { settle, fail } = held;
    held.settle = (v) => {
      settle(v);
      resolve(false);
    };
    held.fail = (e) => {
      fail(e);
      reject(e);
    };
  }
}
