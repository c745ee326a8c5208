// express-rate-limit's store over the counters in the database every node shares
// (db/rate-limits.ts), so a limit holds across the cluster: failed logins, sign-ups and new
// games count the same whichever node the balancer picks. While the database does not answer,
// hits are counted in this node's memory instead (the limit then holds per node), and one
// warning says so per outage.

import {
  MemoryStore,
  type ClientRateLimitInfo,
  type IncrementResponse,
  type Options,
  type Store,
} from 'express-rate-limit';
import type { RateCounters } from '../db/rate-limits.js';
import type { Logger } from '../log.js';

/** The shared counters: the database's (RateCounters), or a stand-in with the same methods. */
export type SharedCounters = Pick<RateCounters, 'hit' | 'undo' | 'get' | 'reset' | 'prune'>;

/** How often a node deletes the windows that ended (any node may; each does, now and then). */
const PRUNE_EVERY_MS = 10 * 60 * 1000;

export interface SharedRateStoreDeps {
  counters: SharedCounters;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
  now: () => number;
}

export class SharedRateStore implements Store {
  readonly localKeys = false;
  #windowMs = 60_000;
  readonly #fallback = new MemoryStore();
  #degraded = false;
  #nextPrune = 0;

  /**
   * @param prefix Keeps this limit's keys apart from the others' in the shared table.
   * @param windowMs The window, for a store used without the middleware (which passes its own).
   */
  constructor(
    readonly prefix: string,
    private readonly deps: SharedRateStoreDeps,
    windowMs?: number,
  ) {
    if (windowMs !== undefined) this.init({ windowMs } as Options);
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
    this.#fallback.init(options);
  }

  async increment(key: string): Promise<IncrementResponse> {
    const now = this.deps.now();
    try {
      const hit = await this.deps.counters.hit(this.prefix + key, this.#windowMs, now);
      this.#answered(now);
      return { totalHits: hit.hits, resetTime: new Date(hit.resetAt) };
    } catch (err) {
      this.#failed(err);
      return this.#fallback.increment(key);
    }
  }

  async decrement(key: string): Promise<void> {
    const now = this.deps.now();
    try {
      await this.deps.counters.undo(this.prefix + key, now);
      this.#answered(now);
    } catch (err) {
      this.#failed(err);
      await this.#fallback.decrement(key);
    }
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const now = this.deps.now();
    try {
      const hit = await this.deps.counters.get(this.prefix + key, now);
      this.#answered(now);
      return hit && { totalHits: hit.hits, resetTime: new Date(hit.resetAt) };
    } catch (err) {
      this.#failed(err);
      return this.#fallback.get(key);
    }
  }

  async resetKey(key: string): Promise<void> {
    try {
      await this.deps.counters.reset(this.prefix + key);
    } catch (err) {
      this.#failed(err);
    }
    await this.#fallback.resetKey(key);
  }

  shutdown(): void {
    this.#fallback.shutdown();
  }

  #answered(now: number): void {
    if (this.#degraded) {
      this.#degraded = false;
      this.deps.logger.info(
        { limit: this.prefix },
        'rate limit counted in the shared database again',
      );
    }
    if (now < this.#nextPrune) return;
    this.#nextPrune = now + PRUNE_EVERY_MS;
    this.deps.counters.prune(now).then(
      (n) => n > 0 && this.deps.logger.debug({ limit: this.prefix, n }, 'pruned ended windows'),
      () => undefined,
    );
  }

  #failed(err: unknown): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.deps.logger.warn(
      { limit: this.prefix, err: err instanceof Error ? err.message : String(err) },
      'rate limit counted on this node only: the database did not answer',
    );
  }
}
