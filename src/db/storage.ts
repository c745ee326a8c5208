// One storage interface, two engines: accounts, express-session sessions, results and game
// snapshots over SQLite (one file, the embedded default) or PostgreSQL (DATABASE_URL, for a
// cluster across hosts), through one set of Kysely queries. Also knows whether the database
// answers: it waits for it at start, watches it afterwards, and says so once per change.
// (A little over ~400 lines: the watch needs the same pool and dialect as the queries.)

import {
  Kysely,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type LogEvent,
  type QueryCompiler,
  type TransactionSettings,
} from 'kysely';
import { Accounts } from './accounts.js';
import { describeError, describeOutage, outageClass, type OutageClass } from './errors.js';
import type { DbLogger } from './logger.js';
import { migrate, MIGRATIONS_DIR } from './migrate.js';
import { createPool, postgresDialect, redactUrl } from './postgres.js';
import { Results, type FinalStateRetention } from './results.js';
import type { Database, Engine } from './schema.js';
import { DatabaseSessionStore, type SessionStoreOptions } from './session-store.js';
import { NodeLeases } from './leases.js';
import { RateCounters } from './rate-limits.js';
import { Snapshots } from './snapshots.js';
import { WalCheckpointer, type CheckpointRun } from './checkpointer.js';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  ImmediateSqliteDialect,
  isInMemory,
  openDatabase,
  type Synchronous,
} from './sqlite.js';

export type StorageTarget =
  { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };

export type DatabaseState = 'connecting' | 'up' | 'down';

export interface DatabaseHealth {
  engine: Engine;
  /** The file, or the URL without its password. */
  target: string;
  state: DatabaseState;
  /** When the state last changed (ms since the epoch). */
  since: number;
  /** What the last failure was, while not up. */
  outage: OutageClass | null;
  lastError: string | null;
}

export interface StorageOptions {
  logger: DbLogger;
  now?: () => number;
  sessions?: Omit<SessionStoreOptions, 'logger' | 'now'>;
  migrationsDir?: string;
  /** How long finished games keep their final board; forever without it. */
  finalStates?: FinalStateRetention;
  /** PostgreSQL: most connections this node opens (default 10). */
  poolMax?: number;
  /** PostgreSQL: how long to wait for a connection before counting the database as unreachable. */
  connectTimeoutMs?: number;
  /** SQLite: how long a write waits for another process's lock (default 5 s). */
  busyTimeoutMs?: number;
  /** SQLite: whether each commit waits for the disk ('full') or only checkpoints ('normal'). */
  synchronous?: Synchronous;
  /** SQLite: how often the checkpoint thread copies the log into the file (default 1 s). */
  checkpointMs?: number;
  /** SQLite: each checkpoint the thread ran. */
  onCheckpoint?: (run: CheckpointRun) => void;
  /**
   * How often the database is checked while up, and the longest pause between retries while down.
   */
  checkMs?: number;
  /** Longest wait in close() for queries in flight and for the pool to end (default 3 s). */
  closeTimeoutMs?: number;
  /**
   * PostgreSQL: longest wait for one query's answer before it fails as an outage (default 3 s;
   * not while migrating). A frozen server or a cut link never answers at all.
   */
  queryTimeoutMs?: number;
}

export interface Storage {
  readonly engine: Engine;
  readonly accounts: Accounts;
  readonly sessions: DatabaseSessionStore;
  readonly results: Results;
  readonly snapshots: Snapshots;
  /** Node leases (who may claim whose games). */
  readonly leases: NodeLeases;
  /** Rate-limit counters every node shares. */
  readonly rateLimits: RateCounters;
  /**
   * Applies pending migrations once; throws the driver's error when the database cannot be reached.
   */
  migrate(): Promise<string[]>;
  /**
   * Waits until the database answers and is migrated, retrying with backoff while it cannot be
   * reached, then watches it. Rejects on a migration problem, or with an AbortError on `signal`.
   */
  open(opts?: { signal?: AbortSignal }): Promise<string[]>;
  health(): DatabaseHealth;
  onHealthChange(listener: (health: DatabaseHealth) => void): void;
  /**
   * Waits for queries in flight (a snapshot written during a drain), then closes the file or the
   * pool; gives up waiting after `closeTimeoutMs`, so a database that stopped answering cannot
   * hold the process past its shutdown budget.
   */
  close(): Promise<void>;
}

export function openStorage(target: StorageTarget, options: StorageOptions): Storage {
  return new KyselyStorage(target, options);
}

/**
 * Counts connections in use, so close() can let queries already sent (a snapshot saved
 * during a drain) finish before the file or the pool goes away.
 */
class TrackedDialect implements Dialect {
  active = 0;
  private idle: (() => void)[] = [];

  /**
   * @param closedBy While it returns an error, queries fail with it at once (the database is
   *   known to be down: each would otherwise wait for its timeout).
   */
  constructor(
    private readonly inner: Dialect,
    private readonly closedBy: () => Error | null = () => null,
  ) {}

  createAdapter() {
    return this.inner.createAdapter();
  }
  createIntrospector(db: Parameters<Dialect['createIntrospector']>[0]) {
    return this.inner.createIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }
  createDriver(): Driver {
    const driver = this.inner.createDriver();
    const released = () => {
      this.active--;
      if (this.active === 0) for (const resolve of this.idle.splice(0)) resolve();
    };
    return {
      init: () => driver.init(),
      acquireConnection: async () => {
        const closed = this.closedBy();
        if (closed) throw closed;
        this.active++;
        try {
          return await driver.acquireConnection();
        } catch (err) {
          released();
          throw err;
        }
      },
      beginTransaction: (c: DatabaseConnection, s: TransactionSettings) =>
        driver.beginTransaction(c, s),
      commitTransaction: (c: DatabaseConnection) => driver.commitTransaction(c),
      rollbackTransaction: (c: DatabaseConnection) => driver.rollbackTransaction(c),
      ...(driver.savepoint ? { savepoint: driver.savepoint.bind(driver) } : {}),
      ...(driver.rollbackToSavepoint
        ? { rollbackToSavepoint: driver.rollbackToSavepoint.bind(driver) }
        : {}),
      ...(driver.releaseSavepoint
        ? { releaseSavepoint: driver.releaseSavepoint.bind(driver) }
        : {}),
      releaseConnection: async (c: DatabaseConnection) => {
        try {
          await driver.releaseConnection(c);
        } finally {
          released();
        }
      },
      destroy: () => driver.destroy(),
    };
  }

  async settled(): Promise<void> {
    // Let calls made just before close() reach the driver, then wait for the last one.
    await new Promise((r) => setImmediate(r));
    while (this.active > 0) {
      await new Promise<void>((resolve) => this.idle.push(resolve));
      await new Promise((r) => setImmediate(r));
    }
  }
}

class KyselyStorage implements Storage {
  readonly engine: Engine;
  readonly accounts: Accounts;
  readonly sessions: DatabaseSessionStore;
  readonly results: Results;
  readonly snapshots: Snapshots;
  readonly leases: NodeLeases;
  readonly rateLimits: RateCounters;
  private readonly db: Kysely<Database>;
  private readonly dialect: TrackedDialect;
  private readonly logger: DbLogger;
  private readonly now: () => number;
  private readonly checkMs: number;
  private readonly closeTimeoutMs: number;
  private readonly migrationsDir: string;
  private state: DatabaseHealth;
  private readonly listeners: ((h: DatabaseHealth) => void)[] = [];
  private watchTimer: NodeJS.Timeout | null = null;
  private watching = false;
  private checking = false;
  private closed = false;
  /** SQLite on a file: the thread that checkpoints its log. */
  private readonly checkpointer: WalCheckpointer | null = null;
  /**
   * While watching: when the database was first seen down, and the next pause before asking again.
   */
  private downSince = 0;
  private retryMs = 250;
  private readonly queryTimeoutMs: number;
  /**
   * Migrations in progress: no query timeout then (a node may wait for another's migration
   * lock).
   */
  private migrating = 0;
  /**
   * The health check's own query goes through while the database is down (it is how we learn
   * it is back).
   */
  private probing = false;

  constructor(target: StorageTarget, options: StorageOptions) {
    this.engine = target.engine;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.checkMs = options.checkMs ?? 5000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 3000;
    this.migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 3000;
    let inner: Dialect;
    let shown: string;
    if (target.engine === 'sqlite') {
      const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
      const file = openDatabase(target.path, options.logger, {
        busyTimeoutMs,
        ...(options.synchronous ? { synchronous: options.synchronous } : {}),
      });
      if (!isInMemory(target.path))
        this.checkpointer = new WalCheckpointer(file, target.path, options.logger, {
          ...(options.checkpointMs !== undefined ? { intervalMs: options.checkpointMs } : {}),
          ...(options.onCheckpoint ? { onRun: options.onCheckpoint } : {}),
        });
      inner = new ImmediateSqliteDialect(file, busyTimeoutMs);
      shown = target.path;
    } else {
      const pool = createPool(target.url, {
        logger: options.logger,
        ...(options.poolMax !== undefined ? { poolMax: options.poolMax } : {}),
        ...(options.connectTimeoutMs !== undefined
          ? { connectTimeoutMs: options.connectTimeoutMs }
          : {}),
        onIdleError: () => this.checkSoon(),
      });
      inner = postgresDialect(pool, () => (this.migrating > 0 ? 0 : this.queryTimeoutMs));
      shown = redactUrl(target.url);
    }
    this.dialect = new TrackedDialect(inner, () =>
      this.state.state === 'down' && !this.probing
        ? new DatabaseDownError(this.state.outage ?? 'lost')
        : null,
    );
    this.db = new Kysely<Database>({ dialect: this.dialect, log: (event) => this.onQuery(event) });
    this.state = {
      engine: this.engine,
      target: shown,
      state: 'connecting',
      since: this.now(),
      outage: null,
      lastError: null,
    };
    this.accounts = new Accounts(this.db, this.now);
    this.results = new Results(this.db, this.now, {
      ...(options.finalStates ? { retention: options.finalStates } : {}),
      logger: options.logger,
    });
    this.snapshots = new Snapshots(this.db, { now: this.now, logger: options.logger });
    // Leases are aged by one clock for every node: the server's on PostgreSQL (nodes on several
    // hosts), this host's on SQLite (a file on one host).
    this.leases = new NodeLeases(this.db, target.engine === 'postgres' ? 'database' : this.now);
    this.rateLimits = new RateCounters(this.db);
    this.sessions = new DatabaseSessionStore(this.db, {
      ...options.sessions,
      now: this.now,
      logger: options.logger,
    });
  }

  async migrate(): Promise<string[]> {
    this.migrating++;
    try {
      return await migrate(this.db, this.engine, this.logger, this.migrationsDir);
    } finally {
      this.migrating--;
    }
  }

  async open(opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const started = this.now();
    let attempts = 0;
    let lastClass: OutageClass | null = null;
    for (let delay = 250; ; delay = Math.min(delay * 2, this.checkMs)) {
      opts.signal?.throwIfAborted();
      if (this.closed) throw new Error('storage closed while waiting for the database');
      attempts++;
      try {
        const applied = await this.migrate();
        if (attempts > 1) {
          const s = ((this.now() - started) / 1000).toFixed(1);
          this.logger.info(
            { attempts, seconds: Number(s) },
            `database ${this.state.target} reachable after ${attempts} attempts (${s} s)`,
          );
        }
        this.setState('up', null);
        this.watch();
        return applied;
      } catch (err) {
        const kind = outageClass(err);
        if (!kind) throw err;
        this.setState('connecting', kind, err);
        // One line per kind of failure, not one per attempt: a database that stays down for
        // minutes must not flood the log, and a change (refused → authentication) must show.
        if (kind !== lastClass) {
          this.logger.warn(
            { outage: kind, attempts, err: describeError(err) },
            `database ${this.state.target} unreachable: ${describeOutage(kind)}; retrying until it answers (health check answers 503 meanwhile)`,
          );
          lastClass = kind;
        }
      }
      await abortableSleep(delay, opts.signal);
    }
  }

  health(): DatabaseHealth {
    return { ...this.state };
  }

  onHealthChange(listener: (health: DatabaseHealth) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watching = false;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.sessions.stop();
    this.results.stop();
    const deadline = Date.now() + this.closeTimeoutMs;
    const inTime = async (work: Promise<void>, what: string) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      });
      const finished = work.then(
        () => true,
        (err: unknown) => {
          this.logger.debug(
            { err },
            `database ${this.state.target}: error while waiting for ${what}`,
          );
          return true;
        },
      );
      const done = await Promise.race([finished, late]);
      clearTimeout(timer);
      if (!done)
        this.logger.warn(
          { active: this.dialect.active },
          `database ${this.state.target}: gave up waiting for ${what} after ${this.closeTimeoutMs} ms`,
        );
    };
    await inTime(this.dialect.settled(), 'queries in flight');
    // The thread closes its connection first: the node's, closed last, copies what is left.
    if (this.checkpointer) await inTime(this.checkpointer.stop(), 'the checkpoint thread');
    await inTime(this.db.destroy(), 'the connections to close');
  }

  private setState(state: DatabaseState, outage: OutageClass | null, err?: unknown): void {
    const changed = state !== this.state.state || outage !== this.state.outage;
    this.state = {
      ...this.state,
      state,
      since: state !== this.state.state ? this.now() : this.state.since,
      outage,
      lastError: err ? describeError(err) : state === 'up' ? null : this.state.lastError,
    };
    if (changed) for (const l of this.listeners) l(this.health());
  }

  /** SQLite is a file: once open it stays there. PostgreSQL is pinged while this node runs. */
  private watch(): void {
    if (this.engine !== 'postgres' || this.watching || this.closed) return;
    this.watching = true;
    this.schedule(this.checkMs);
  }

  private schedule(ms: number): void {
    if (!this.watching) return;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(() => void this.check(), ms);
    this.watchTimer.unref();
  }

  private checkSoon(): void {
    if (this.watching && !this.checking) this.schedule(0);
  }

  private async check(): Promise<void> {
    if (this.checking || !this.watching) return;
    this.checking = true;
    try {
      await this.ping();
      if (this.state.state === 'down') {
        const s = ((this.now() - this.downSince) / 1000).toFixed(1);
        this.logger.info(
          { seconds: Number(s) },
          `database ${this.state.target} answers again after ${s} s`,
        );
      }
      this.setState('up', null);
      this.retryMs = 250;
      this.schedule(this.checkMs);
    } catch (err) {
      const kind = outageClass(err) ?? 'lost';
      if (this.state.state !== 'down' || this.state.outage !== kind) {
        if (this.state.state !== 'down') this.downSince = this.now();
        this.logger.warn(
          { outage: kind, err: (err as Error).message },
          `database ${this.state.target} down: ${describeOutage(kind)}; games go on from memory, writes that fail are logged`,
        );
      }
      this.setState('down', kind, err);
      this.schedule(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, this.checkMs);
    } finally {
      this.checking = false;
    }
  }

  /** A trivial query, bounded in time: a database behind a dropped link never answers at all. */
  private async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('ping: no answer in time'), { code: 'ETIMEDOUT' })),
        Math.max(1000, this.checkMs),
      );
    });
    this.probing = true;
    try {
      // Queries made meanwhile go through too: harmless, they are few (one ping at a time).
      await Promise.race([this.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute(), timeout]);
    } finally {
      this.probing = false;
      clearTimeout(timer);
    }
  }

  private onQuery(event: LogEvent): void {
    // A query that failed for want of a database: check now rather than at the next tick.
    if (event.level === 'error' && outageClass(event.error)) this.checkSoon();
  }
}

/** A query refused without asking: the database is known to be down (see TrackedDialect). */
export class DatabaseDownError extends Error {
  readonly code = 'DATABASE_DOWN';
  constructor(readonly outage: OutageClass) {
    super(`database down (${outage}): not asked until it answers again`);
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      const reason: unknown = signal?.reason;
      reject(reason instanceof Error ? reason : new Error('aborted'));
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
