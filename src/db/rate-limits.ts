// Counters for rate limits that every node of a cluster shares: a fixed window per key (a
// client address and an account name for failed logins, an address for sign-ups, an account
// for new games). Counted in the database the nodes share, so a limit means the same whichever
// node a balancer sends each request to; counted per node, three nodes would let three times
// as many guesses through. Each hit is one statement, atomic on both engines.

import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface RateHit {
  /** Hits in the current window, this one included. */
  hits: number;
  /** When the window ends (ms since the epoch). */
  resetAt: number;
}

export class RateCounters {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Counts a hit on `key`: in its running window, or in a new one of `windowMs` from `now` when
   * none runs.
   */
  async hit(key: string, windowMs: number, now: number): Promise<RateHit> {
    const at = Math.round(now);
    const row = await this.db
      .insertInto('rate_limits')
      .values({ key, hits: 1, reset_at: at + Math.round(windowMs) })
      // Every SET expression reads the row as it was: a window that has ended starts over.
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          hits: sql<number>`case when rate_limits.reset_at <= ${at} then 1 else rate_limits.hits + 1 end`,
          reset_at: sql<number>`case when rate_limits.reset_at <= ${at} then excluded.reset_at else rate_limits.reset_at end`,
        }),
      )
      .returning(['hits', 'reset_at'])
      .executeTakeFirstOrThrow();
    return { hits: row.hits, resetAt: row.reset_at };
  }

  /** Takes one hit back from `key`'s running window (a login that succeeded after all). */
  async undo(key: string, now: number): Promise<void> {
    await this.db
      .updateTable('rate_limits')
      .set({ hits: sql<number>`hits - 1` })
      .where('key', '=', key)
      .where('hits', '>', 0)
      .where('reset_at', '>', Math.round(now))
      .execute();
  }

  /** The running window of `key`, if any. */
  async get(key: string, now: number): Promise<RateHit | undefined> {
    const row = await this.db
      .selectFrom('rate_limits')
      .select(['hits', 'reset_at'])
      .where('key', '=', key)
      .where('reset_at', '>', Math.round(now))
      .executeTakeFirst();
    return row ? { hits: row.hits, resetAt: row.reset_at } : undefined;
  }

  /** Forgets `key` (its window starts over at the next hit). */
  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('key', '=', key).execute();
  }

  /** Deletes the windows that ended before `now`; returns how many. */
  async prune(now: number): Promise<number> {
    const r = await this.db
      .deleteFrom('rate_limits')
      .where('reset_at', '<=', Math.round(now))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
