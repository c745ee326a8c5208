// The SQLite engine: opens the file that every node of a cluster on this host may share (WAL
// so readers never block the writer) and gives Kysely a dialect whose transactions take the
// write lock at BEGIN and whose statements wait for another process's lock between turns of
// the event loop, never inside one call.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import { isLockBusy } from './errors.js';
import type { DbLogger } from './logger.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** How long opening the file waits for another process's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /**
   * 'normal' (default): a commit is written to the log without waiting for the disk, which the
   * checkpoints do; 'full': every commit waits for the disk (an fsync on the event loop).
   */
  synchronous?: Synchronous;
}

export type Synchronous = 'normal' | 'full';

/** How long a statement waits for another process's write lock before it fails (SQLITE_BUSY). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * The longest a statement waits for a lock inside the synchronous driver call, that is with
 * the event loop stopped. A transaction of another node holds the lock well under a
 * millisecond, so this covers ordinary contention; a lock held longer (a node frozen in the
 * middle of a write, a backup, an open `sqlite3` shell) is waited for in pauses between
 * turns of the event loop (see FileConnection), so sockets, timers and heartbeats go
 * on. A driver-side wait of the whole 5 s froze every node of the host for 5 s per statement
 * while one process held the lock (peers declared each other down).
 */
export const LOCK_SLICE_MS = 5;
/** Pauses between attempts on a locked file: 5, 10, 20, 40, then 50 ms. */
const LOCK_PAUSE_MS = 5;
const LOCK_PAUSE_MAX_MS = 50;

/**
 * Switching a fresh file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
 * without its busy handler, when another process opening the same file holds a shared lock
 * (several nodes starting together on a new database). Retry with a short pause until the deadline.
 */
function withBusyRetry<T>(run: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      return run();
    } catch (err) {
      if (!isLockBusy(err) || Date.now() >= deadline) throw err;
      Atomics.wait(pause, 0, 0, Math.min(5 * attempt, 50));
    }
  }
}

/** A database that lives in this connection only (no file, no log to checkpoint). */
export function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}

export function openDatabase(path: string, logger: DbLogger, options: OpenOptions = {}): Db {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const inMemory = isInMemory(path);
  if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });

  // `timeout` sets busy_timeout before anything else runs, so even switching to WAL
  // (which needs a lock) waits for a sibling process that is doing the same.
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    const mode = withBusyRetry(
      () => db.pragma('journal_mode = WAL', { simple: true }),
      busyTimeoutMs,
    );
    if (!inMemory && String(mode).toLowerCase() !== 'wal') {
      logger.warn(
        { path, mode },
        `database ${path} could not switch to WAL (journal_mode=${String(mode)})`,
      );
    }
    db.pragma('foreign_keys = ON');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // From now on a statement blocks the event loop for a short slice at most; the longer
    // wait happens in FileConnection.
    db.pragma(`busy_timeout = ${Math.min(LOCK_SLICE_MS, Math.trunc(busyTimeoutMs))}`);
  } catch (err) {
    db.close();
    throw err;
  }
  logger.debug({ path }, `database ${path} opened`);
  return db;
}

/** Turns at the file's one connection, first come first served. */
class Turns {
  #busy = false;
  readonly #queue: (() => void)[] = [];

  take(): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  give(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#busy = false;
  }
}

/**
 * The node's one connection to the file. A statement that finds the file locked by another
 * process is tried again after a pause (5, 10, 20, 40, then every 50 ms, up to `waitMs`, then
 * it fails with SQLITE_BUSY), not inside the driver's busy handler with the event loop stopped.
 * A statement that failed with SQLITE_BUSY has not run, so running it again is safe. The pause
 * gives the connection up, so this node's reads (which WAL serves while another process writes)
 * and other statements go on meanwhile. A transaction's BEGIN IMMEDIATE waits this way (nothing
 * is held yet); once begun, the transaction holds the write lock and its statements do not wait.
 */
class FileConnection implements DatabaseConnection {
  constructor(
    private readonly db: PreparedDb,
    private readonly turns: Turns,
    private readonly waitMs: number,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Inside a transaction a statement is not tried again: SQLite may have rolled the whole
    // transaction back on SQLITE_BUSY, and the rest must not run on its own.
    if (this.db.inTransaction()) return this.#run<R>(query);
    const deadline = performance.now() + this.waitMs;
    for (let pause = LOCK_PAUSE_MS; ; pause = Math.min(pause * 2, LOCK_PAUSE_MAX_MS)) {
      try {
        return this.#run<R>(query);
      } catch (err) {
        const left = deadline - performance.now();
        if (!isLockBusy(err) || left <= 0) throw err;
        this.turns.give();
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        await this.turns.take();
      }
    }
  }

  #run<R>({ sql, parameters }: CompiledQuery): QueryResult<R> {
    const stmt = this.db.prepare(sql);
    if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  /** Not used: every query here reads a bounded result. */
  streamQuery(): never {
    throw new Error('streaming queries are not supported on SQLite here');
  }
}

/**
 * Every transaction here reads and then writes (a version check before a save, a result
 * before its players, the migrations applied so far before the next one). BEGIN IMMEDIATE
 * takes the write lock first, so a second process waits at BEGIN and then reads what the
 * first one wrote, instead of failing with SQLITE_BUSY when it tries to upgrade a read lock.
 */
class ImmediateSqliteDriver implements Driver {
  readonly #turns = new Turns();
  readonly #connection: FileConnection;

  constructor(
    private readonly db: PreparedDb,
    lockWaitMs: number,
  ) {
    this.#connection = new FileConnection(db, this.#turns, lockWaitMs);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#turns.take();
    return this.#connection;
  }

  async beginTransaction(): Promise<void> {
    await this.#connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(): Promise<void> {
    await this.#connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(): Promise<void> {
    await this.#connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  releaseConnection(): Promise<void> {
    this.#turns.give();
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

/**
 * SQLite runs DDL in transactions; Kysely's migrator then applies each run under one write lock.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** Most distinct statements kept prepared (the queries are a fixed set; this only bounds it). */
const STATEMENT_CACHE = 256;

interface PreparedDb {
  prepare(sql: string): ReturnType<Db['prepare']>;
  inTransaction(): boolean;
  close(): void;
}

/**
 * The file as the driver sees it, with each statement prepared once: preparing every query it
 * runs took about 9 % of the time of a busy node (a save per action); a query's SQL text is the
 * same every time, only its parameters change.
 */
function preparedOnce(db: Db): PreparedDb {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  return {
    close: () => void db.close(),
    inTransaction: () => db.inTransaction,
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

export class ImmediateSqliteDialect extends SqliteDialect {
  private readonly prepared: PreparedDb;

  /** `lockWaitMs`: how long a statement waits for another process's lock before it fails. */
  constructor(
    db: Db,
    private readonly lockWaitMs = DEFAULT_BUSY_TIMEOUT_MS,
  ) {
    // Kysely's dialect wants a database; its own driver, which would use it, is replaced.
    super({ database: db });
    this.prepared = preparedOnce(db);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.prepared, this.lockWaitMs);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
