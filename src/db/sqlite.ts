// The SQLite engine: opens the file that every node of a cluster on this host may share (WAL
// so readers never block the writer, a busy timeout so concurrent writers wait instead of
// failing) and gives Kysely a dialect whose transactions take the write lock at BEGIN.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
} from 'kysely';
import type { DbLogger } from './logger.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** How long a statement waits for another process's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

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
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
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
    db.pragma('synchronous = NORMAL');
  } catch (err) {
    db.close();
    throw err;
  }
  logger.debug({ path }, `database ${path} opened`);
  return db;
}

/**
 * Every transaction here reads and then writes (a version check before a save, a result
 * before its players, the migrations applied so far before the next one). BEGIN IMMEDIATE
 * takes the write lock first, so a second process waits at BEGIN (busy timeout) and then
 * reads what the first one wrote, instead of failing with SQLITE_BUSY when it tries to
 * upgrade a read lock.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
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

/**
 * The file as Kysely's SQLite driver sees it, with each statement prepared once: the driver
 * prepares every query it runs, which took about 9 % of the time of a busy node (a save per
 * action); a query's SQL text is the same every time, only its parameters change.
 */
function preparedOnce(db: Db): SqliteDialectDatabase {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  return {
    close: () => void db.close(),
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

type SqliteDialectDatabase = ConstructorParameters<typeof SqliteDialect>[0]['database'] & object;

export class ImmediateSqliteDialect extends SqliteDialect {
  private readonly database: SqliteDialectDatabase;

  constructor(db: Db) {
    const database = preparedOnce(db);
    super({ database });
    this.database = database;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.database });
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
