// What a node last read from the database, kept briefly so that reads players depend on (their
// session, their account, their record, the leaderboard) still answer while the database
// cannot be reached: running games go on, and so do the pages around them. Used only when a
// read fails for want of the database; a value older than `maxAgeMs` is never served.

import { outageClass } from './errors.js';

export interface LastKnownOptions {
  /** Most keys kept (least recently read dropped first). */
  max?: number;
  /** Oldest read still served during an outage. */
  maxAgeMs?: number;
  now?: () => number;
}

export class LastKnown<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();
  readonly #max: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: LastKnownOptions = {}) {
    this.#max = options.max ?? 10_000;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Runs the read; keeps what it returned; while the database is away, answers the last value
   * (if `usable` says it still is).
   */
  async read(
    key: string,
    run: () => Promise<V>,
    usable: (kept: V) => boolean = () => true,
  ): Promise<V> {
    try {
      const value = await run();
      this.remember(key, value);
      return value;
    } catch (err) {
      const kept = this.#entries.get(key);
      if (
        !kept ||
        !outageClass(err) ||
        this.#now() - kept.at > this.#maxAgeMs ||
        !usable(kept.value)
      )
        throw err;
      return kept.value;
    }
  }

  remember(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: this.#now() });
    if (this.#entries.size > this.#max)
      this.#entries.delete(this.#entries.keys().next().value as string);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** The keys whose kept value `where` picks, of those still young enough to be served. */
  keys(where: (value: V) => boolean = () => true): string[] {
    const keys: string[] = [];
    const oldest = this.#now() - this.#maxAgeMs;
    for (const [key, kept] of this.#entries) {
      // Never served again: dropped here rather than asked about.
      if (kept.at < oldest) this.#entries.delete(key);
      else if (where(kept.value)) keys.push(key);
    }
    return keys;
  }

  get size(): number {
    return this.#entries.size;
  }
}
