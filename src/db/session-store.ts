// express-session store on the shared SQLite file: a session written by one node is read by
// every other node and survives restarts; a destroyed session stays ended on every node.

import session, { type SessionData } from 'express-session';
import type { Db } from './database.js';
import type { DbLogger } from './logger.js';

export interface SessionStoreOptions {
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). Default 1 day. */
  ttlMs?: number;
  /** How often expired rows are deleted; 0 disables the timer. Default 10 minutes. */
  pruneIntervalMs?: number;
  /** Delay of the first prune after start (nodes are often replaced before the interval). Default 5 s. */
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

export class SqliteSessionStore extends session.Store {
  private readonly ttlMs: number;
  private readonly tombstoneMs: number;
  private readonly now: () => number;
  private readonly logger: DbLogger | undefined;
  private pruneTimer: NodeJS.Timeout | null = null;
  private firstPruneTimer: NodeJS.Timeout | null = null;

  private readonly selectLive;
  private readonly upsert;
  private readonly endSession;
  private readonly extend;
  private readonly deleteAll;
  private readonly countLive;
  private readonly selectAllLive;
  private readonly deleteExpired;

  constructor(db: Db, options: SessionStoreOptions = {}) {
    super();
    this.ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
    this.tombstoneMs = options.tombstoneMs ?? DEFAULTS.tombstoneMs;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;

    const live = 'ended_at IS NULL AND expires > ?';
    this.selectLive = db.prepare(`SELECT sid, sess FROM sessions WHERE sid = ? AND ${live}`);
    // An ended session is never brought back: a late save from a request that loaded it
    // before the logout (possibly on another node) hits the tombstone and changes nothing.
    this.upsert = db.prepare(
      `INSERT INTO sessions (sid, sess, expires) VALUES (?, ?, ?)
       ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expires = excluded.expires
       WHERE sessions.ended_at IS NULL`,
    );
    this.endSession = db.prepare(
      `INSERT INTO sessions (sid, sess, expires, ended_at) VALUES (?, '{}', ?, ?)
       ON CONFLICT (sid) DO UPDATE SET sess = '{}', ended_at = excluded.ended_at,
         expires = max(sessions.expires, excluded.expires)`,
    );
    // Only the expiry: rewriting the data here could undo a newer save from another node.
    this.extend = db.prepare('UPDATE sessions SET expires = ? WHERE sid = ? AND ended_at IS NULL');
    this.deleteAll = db.prepare('DELETE FROM sessions');
    this.countLive = db.prepare(`SELECT count(*) AS n FROM sessions WHERE ${live}`);
    this.selectAllLive = db.prepare(`SELECT sid, sess FROM sessions WHERE ${live}`);
    this.deleteExpired = db.prepare('DELETE FROM sessions WHERE expires <= ?');

    const pruneIntervalMs = options.pruneIntervalMs ?? DEFAULTS.pruneIntervalMs;
    if (pruneIntervalMs > 0) {
      this.pruneTimer = setInterval(() => this.pruneOnTimer(), pruneIntervalMs);
      this.pruneTimer.unref();
      this.firstPruneTimer = setTimeout(() => this.pruneOnTimer(), Math.min(options.firstPruneMs ?? 5000, pruneIntervalMs));
      this.firstPruneTimer.unref();
    }
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    let result: SessionData | null;
    try {
      const row = this.selectLive.get(sid, this.now()) as SessionRow | undefined;
      result = row ? this.parse(row) : null;
    } catch (err) {
      callback(err);
      return;
    }
    callback(null, result);
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    this.run(callback, () => {
      this.upsert.run(sid, JSON.stringify(sess), this.expiresOf(sess));
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.run(callback, () => {
      const now = this.now();
      this.endSession.run(sid, now + this.tombstoneMs, now);
    });
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    this.run(callback, () => {
      this.extend.run(this.expiresOf(sess), sid);
    });
  }

  override clear(callback?: Callback): void {
    this.run(callback, () => {
      this.deleteAll.run();
    });
  }

  override length(callback: (err: unknown, length?: number) => void): void {
    let n: number;
    try {
      n = (this.countLive.get(this.now()) as { n: number }).n;
    } catch (err) {
      callback(err);
      return;
    }
    callback(null, n);
  }

  override all(callback: (err: unknown, obj?: { [sid: string]: SessionData } | null) => void): void {
    const sessions: { [sid: string]: SessionData } = {};
    try {
      for (const row of this.selectAllLive.all(this.now()) as SessionRow[]) {
        const sess = this.parse(row);
        if (sess) sessions[row.sid] = sess;
      }
    } catch (err) {
      callback(err);
      return;
    }
    callback(null, sessions);
  }

  /** Deletes expired sessions and tombstones; returns how many rows went. */
  prune(): number {
    return this.deleteExpired.run(this.now()).changes;
  }

  /** Stops the prune timer (the store itself needs no closing). */
  stop(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.firstPruneTimer) clearTimeout(this.firstPruneTimer);
    this.pruneTimer = null;
    this.firstPruneTimer = null;
  }

  private pruneOnTimer(): void {
    try {
      const n = this.prune();
      if (n > 0) this.logger?.debug({ pruned: n }, `pruned ${n} expired sessions`);
    } catch (err) {
      // A busy database is retried at the next tick; a prune is never urgent.
      this.logger?.warn({ err }, 'session prune failed');
    }
  }

  private expiresOf(sess: SessionData): number {
    const expires = sess.cookie?.expires;
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

  private run(callback: Callback | undefined, work: () => void): void {
    try {
      work();
    } catch (err) {
      if (callback) callback(err);
      else this.logger?.error({ err }, 'session store write failed');
      return;
    }
    callback?.();
  }
}
