// express-session store in the shared database: a session written by one node is read by
// every other node and survives restarts; a destroyed session stays ended on every node.

import session, { type SessionData } from 'express-session';
import type { Kysely } from 'kysely';
import { outageClass } from './errors.js';
import { LastKnown } from './last-known.js';
import type { DbLogger } from './logger.js';
import type { Database } from './schema.js';

export interface SessionStoreOptions {
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). Default 1 day. */
  ttlMs?: number;
  /** How often expired rows are deleted; 0 disables the timer. Default 10 minutes. */
  pruneIntervalMs?: number;
  /**
   * Delay of the first prune after start (nodes are often replaced before the interval). Default 5
   * s.
   */
  firstPruneMs?: number;
  /** Minimum time a destroyed session's tombstone is kept. Default 10 minutes. */
  tombstoneMs?: number;
  now?: () => number;
  logger?: DbLogger;
}

const DEFAULTS = {
  ttlMs: 24 * 60 * 60 * 1000,
  pruneIntervalMs: 10 * 60 * 1000,
  tombstoneMs: 10 * 60 * 1000,
};

type Callback = (err?: unknown) => void;

interface SessionRow {
  sid: string;
  sess: string;
}

/** The account a session is logged in to, as its `user_id` column keeps it: '' for none. */
function accountOf(sess: SessionData): string {
  const userId = (sess as { userId?: unknown }).userId;
  return typeof userId === 'string' ? userId : '';
}

/** Callbacks, never thrown errors: express-session expects a store to call back with an error. */
function settle<T>(
  work: Promise<T>,
  callback: ((err: unknown, value?: T) => void) | undefined,
  onUnhandled: (err: unknown) => void,
): void {
  work.then(
    (value) => callback?.(null, value),
    (err: unknown) => (callback ? callback(err) : onUnhandled(err)),
  );
}

export class DatabaseSessionStore extends session.Store {
  private readonly ttlMs: number;
  private readonly tombstoneMs: number;
  private readonly now: () => number;
  private readonly logger: DbLogger | undefined;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** Sessions this node read or wrote, answered while the database is away (see last-known.ts). */
  private readonly recent = new LastKnown<string | null>();
  private firstPruneTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    options: SessionStoreOptions = {},
  ) {
    super();
    this.ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
    this.tombstoneMs = options.tombstoneMs ?? DEFAULTS.tombstoneMs;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    const pruneIntervalMs = options.pruneIntervalMs ?? DEFAULTS.pruneIntervalMs;
    if (pruneIntervalMs > 0) {
      this.pruneTimer = setInterval(() => this.pruneOnTimer(), pruneIntervalMs);
      this.pruneTimer.unref();
      this.firstPruneTimer = setTimeout(
        () => this.pruneOnTimer(),
        Math.min(options.firstPruneMs ?? 5000, pruneIntervalMs),
      );
      this.firstPruneTimer.unref();
    }
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    settle(
      // Kept as JSON: express-session changes the object it is given.
      this.recent
        .read(
          sid,
          async () => {
            const sess = await this.read(sid);
            return sess ? JSON.stringify(sess) : null;
          },
          (json) => json === null || !this.expired(JSON.parse(json) as SessionData),
        )
        .then((json) => (json ? (JSON.parse(json) as SessionData) : null)),
      callback,
      () => {},
    );
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    // An ended session is never brought back: a late save from a request that loaded it
    // before the logout (possibly on another node) hits the tombstone and changes nothing.
    const work = this.db
      .insertInto('sessions')
      .values({
        sid,
        sess: JSON.stringify(sess),
        expires: this.expiresOf(sess),
        user_id: accountOf(sess),
      })
      .onConflict((oc) =>
        oc
          .column('sid')
          .doUpdateSet((eb) => ({
            sess: eb.ref('excluded.sess'),
            expires: eb.ref('excluded.expires'),
            user_id: eb.ref('excluded.user_id'),
          }))
          .where('sessions.ended_at', 'is', null),
      )
      .executeTakeFirst()
      .then((r) => {
        // Kept only when written: a save that hit a tombstone must not be served later.
        if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0)
          this.recent.remember(sid, JSON.stringify(sess));
        else this.recent.forget(sid);
      });
    settle(work, callback, (err) => this.writeFailed(err));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.recent.forget(sid);
    const now = this.now();
    const work = this.db
      .insertInto('sessions')
      .values({ sid, sess: '{}', expires: now + this.tombstoneMs, ended_at: now, user_id: '' })
      .onConflict((oc) =>
        oc.column('sid').doUpdateSet((eb) => ({
          sess: '{}',
          ended_at: eb.ref('excluded.ended_at'),
          // The later of the two: the tombstone outlives the session it ends.
          expires: eb
            .case()
            .when('sessions.expires', '>', eb.ref('excluded.expires'))
            .then(eb.ref('sessions.expires'))
            .else(eb.ref('excluded.expires'))
            .end(),
        })),
      )
      .execute();
    settle(work, callback, (err) => this.writeFailed(err));
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    // Only the expiry: rewriting the data here could undo a newer save from another node. And the
    // account, on a row saved before its column (a session's account never changes under one id:
    // logging in gives a new one).
    const work = this.db
      .updateTable('sessions')
      .set((eb) => ({
        expires: this.expiresOf(sess),
        user_id: eb.fn.coalesce('user_id', eb.val(accountOf(sess))),
      }))
      .where('sid', '=', sid)
      .where('ended_at', 'is', null)
      .execute();
    settle(work, callback ? () => callback() : undefined, (err) => this.writeFailed(err));
  }

  override clear(callback?: Callback): void {
    settle(this.db.deleteFrom('sessions').execute(), callback, (err) => this.writeFailed(err));
  }

  override length(callback: (err: unknown, length?: number) => void): void {
    const work = this.live()
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
      .then((r) => r.n);
    settle(work, callback, () => {});
  }

  override all(
    callback: (err: unknown, obj?: { [sid: string]: SessionData } | null) => void,
  ): void {
    const work = this.live()
      .select(['sid', 'sess'])
      .execute()
      .then((rows) => {
        const sessions: { [sid: string]: SessionData } = {};
        for (const row of rows) {
          const sess = this.parse(row);
          if (sess) sessions[row.sid] = sess;
        }
        return sessions;
      });
    settle(work, callback, () => {});
  }

  /**
   * Ends every live session of the account `userId` but `keepSid` (a password change logs the
   * account out everywhere else), on every node: each becomes a tombstone, so a save still in
   * flight from one of them changes nothing. Returns how many ended. Sessions are found by the
   * column `user_id` (by its index), and those saved before the column or by an older release
   * still running (`user_id` NULL) by the text of their data (written by JSON.stringify, so
   * `"userId":"12"` is exactly that member); each then checked parsed.
   */
  async endSessionsOf(userId: string, keepSid?: string): Promise<number> {
    if (!/^[1-9]\d{0,15}$/.test(userId)) return 0;
    // Two queries, so that each reads only its own part of the index.
    const rows: SessionRow[] = [
      ...(await this.live().select(['sid', 'sess']).where('user_id', '=', userId).execute()),
      ...(await this.live()
        .select(['sid', 'sess'])
        .where('user_id', 'is', null)
        .where('sess', 'like', `%"userId":${JSON.stringify(userId)}%`)
        .execute()),
    ];
    const ofAccount = (row: SessionRow): boolean =>
      (this.parse(row) as { userId?: unknown } | null)?.userId === userId;
    const sids = rows.filter((row) => row.sid !== keepSid && ofAccount(row)).map((row) => row.sid);
    if (sids.length === 0) return 0;
    for (const sid of sids) this.recent.forget(sid);
    const now = this.now();
    const r = await this.db
      .updateTable('sessions')
      .set((eb) => ({
        sess: '{}',
        ended_at: now,
        expires: eb
          .case()
          .when('expires', '>', now + this.tombstoneMs)
          .then(eb.ref('expires'))
          .else(now + this.tombstoneMs)
          .end(),
      }))
      .where('sid', 'in', sids)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Which of these sessions are live (neither ended nor expired), in one query per 500. What
   * this node kept of the others is dropped: the database has just said they are over.
   */
  async liveOf(sids: readonly string[]): Promise<Set<string>> {
    const live = new Set<string>();
    for (let i = 0; i < sids.length; i += 500) {
      const rows = await this.live()
        .select('sid')
        .where('sid', 'in', sids.slice(i, i + 500))
        .execute();
      for (const row of rows) live.add(row.sid);
    }
    for (const sid of sids) if (!live.has(sid)) this.recent.forget(sid);
    return live;
  }

  /**
   * Drops what this node kept of sessions that have ended elsewhere (of `userId` only, if
   * given), so that none of them is answered from memory while the database is away. Told
   * that an account's sessions ended, a node forgets those the database cannot vouch for; its
   * periodic check asks about every kept session and, without the database, forgets none (they
   * are what the outage needs). Returns how many were dropped.
   */
  async forgetEnded(userId?: string): Promise<number> {
    const mark = userId === undefined ? null : `"userId":${JSON.stringify(userId)}`;
    const ofAccount = (json: string | null): boolean =>
      mark === null ||
      (json !== null &&
        json.includes(mark) &&
        (JSON.parse(json) as { userId?: unknown }).userId === userId);
    const sids = this.recent.keys(ofAccount);
    if (sids.length === 0) return 0;
    try {
      return sids.length - (await this.liveOf(sids)).size;
    } catch (err) {
      if (userId === undefined) throw err;
      for (const sid of sids) this.recent.forget(sid);
      return sids.length;
    }
  }

  /** Deletes expired sessions and tombstones; returns how many rows went. */
  async prune(): Promise<number> {
    const r = await this.db
      .deleteFrom('sessions')
      .where('expires', '<=', this.now())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Stops the prune timer (the store itself needs no closing). */
  stop(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.firstPruneTimer) clearTimeout(this.firstPruneTimer);
    this.pruneTimer = null;
    this.firstPruneTimer = null;
  }

  private live() {
    return this.db
      .selectFrom('sessions')
      .where('ended_at', 'is', null)
      .where('expires', '>', this.now());
  }

  private async read(sid: string): Promise<SessionData | null> {
    const row = await this.live().select(['sid', 'sess']).where('sid', '=', sid).executeTakeFirst();
    return row ? this.parse(row) : null;
  }

  private pruneOnTimer(): void {
    this.prune().then(
      (n) => {
        if (n > 0) this.logger?.debug({ pruned: n }, `pruned ${n} expired sessions`);
      },
      // A busy or unreachable database is tried again at the next tick; a prune is never urgent.
      (err: unknown) => this.logger?.warn({ err }, 'session prune failed'),
    );
  }

  private writeFailed(err: unknown): void {
    // While the database is away every request would say so: the storage layer logs the outage
    // once.
    if (outageClass(err))
      this.logger?.debug(
        { err: (err as Error).message },
        'session store write failed: database unreachable',
      );
    else this.logger?.error({ err }, 'session store write failed');
  }

  /** A kept session whose cookie has expired since it was read. */
  private expired(sess: SessionData): boolean {
    const expires = storedExpiry(sess);
    return expires ? new Date(expires).getTime() <= this.now() : false;
  }

  private expiresOf(sess: SessionData): number {
    const expires = storedExpiry(sess);
    if (expires) {
      const ms = new Date(expires).getTime();
      if (Number.isFinite(ms)) return ms;
    }
    return this.now() + this.ttlMs;
  }

  private parse(row: SessionRow): SessionData | null {
    try {
      return JSON.parse(row.sess) as SessionData;
    } catch {
      // Unreadable data is treated as no session (the user logs in again), not as a 500 on
      // every request that carries this cookie.
      this.logger?.warn({ sid: row.sid.slice(0, 6) }, 'unreadable session data ignored');
      return null;
    }
  }
}

/**
 * express-session keeps the expiry on the cookie (its typings deprecate setting it, which is not
 * done here); a session stored by hand may lack the cookie.
 */
function storedExpiry(sess: SessionData): Date | string | null | false | undefined {
  const cookie = sess.cookie as { expires?: Date | string | null | false } | undefined;
  return cookie?.expires;
}
