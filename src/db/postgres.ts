// The PostgreSQL engine: a pg connection pool for DATABASE_URL and Kysely's dialect over it.
// Nothing connects until the first query, so a node can start while the database is down.

import { PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DbLogger } from './logger.js';

export interface PostgresOptions {
  /** Most connections this node opens. */
  poolMax?: number;
  /** How long to wait for a connection (new or from the pool) before failing. */
  connectTimeoutMs?: number;
  logger: DbLogger;
  /** A pooled connection broke, idle or in use (the server restarted or the network dropped it). */
  onIdleError?: (err: Error) => void;
  /**
   * How long the server lets one of our transactions sit idle (its node sends nothing) before it
   * ends the session and rolls it back (default 10 s).
   */
  idleInTransactionMs?: number;
}

/**
 * A node frozen (SIGSTOP, a paused VM) between a transaction's statements holds that
 * transaction's row locks, and the migration lock while migrating, until it runs again: every
 * other node that needs them waits as long. Our transactions never wait for anything but the
 * database between their statements, so the server may end one idle for this long.
 */
export const IDLE_IN_TRANSACTION_MS = 10_000;

/**
 * How long one query may take before it fails as `timeout`, read at each query (0: no limit,
 * while migrating: a node may wait for another's migration lock).
 */
export type QueryTimeout = () => number;

const TIMED_OUT = Symbol('minotaur.timedOut');
const GUARDED = Symbol('minotaur.guarded');
const IN_USE = Symbol('minotaur.inUse');
type GuardedClient = pg.PoolClient & {
  [TIMED_OUT]?: boolean;
  [GUARDED]?: boolean;
  [IN_USE]?: boolean;
};

/**
 * bigint columns (times in ms, ids, counts) as JavaScript numbers: every value stored here is
 * far below 2^53, and the rest of the code compares and adds them as numbers.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser(oid, format) {
    if (oid === pg.types.builtins.INT8 && format !== 'binary')
      return (value: string) => Number(value);
    // pg-types declares every parser as returning any:
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    return pg.types.getTypeParser(oid, format);
  },
};

/** Query parameters of a connection string that carry a secret (libpq's, as pg reads them). */
const SECRET_PARAMS = ['password', 'sslpassword'];

/**
 * The URL without its password (in `user:password@` or as `?password=`), for logs and the
 * operator page.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const name of SECRET_PARAMS) if (u.searchParams.has(name)) u.searchParams.set(name, '***');
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export function createPool(url: string, options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // Notice a peer that vanished without closing (a host lost, a cut link) on idle connections.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'minotaur',
    idle_in_transaction_session_timeout: options.idleInTransactionMs ?? IDLE_IN_TRANSACTION_MS,
    types,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => {
    options.logger.debug({ err }, 'idle database connection closed');
    options.onIdleError?.(err);
  });
  // The pool listens only while a connection is idle. One checked out (between a query and its
  // release, or in a transaction) that the server drops (a restart terminates every backend)
  // emits 'error' with no listener, which would crash the process. Its queries fail on their
  // own; the pool discards the broken connection on release.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      if (!(client as GuardedClient)[IN_USE]) return; // idle: the pool's listener reports it
      options.logger.debug({ err }, 'database connection closed while in use');
      options.onIdleError?.(err);
    });
  });
  return pool;
}

/**
 * Kysely's dialect over the pool, with every query bounded in time. A server that is frozen or
 * behind a link that drops packets never answers, and pg would wait for ever (games wait on
 * their saves). A connection whose query timed out still has that query in flight, so it is
 * destroyed on release instead of going back to the pool.
 */
export function postgresDialect(
  pool: pg.Pool,
  queryTimeout: QueryTimeout = () => 0,
): PostgresDialect {
  const guarded = {
    async connect(): Promise<pg.PoolClient> {
      const client = (await pool.connect()) as GuardedClient;
      if (!client[GUARDED]) {
        client[GUARDED] = true;
        const query = client.query.bind(client) as (
          config: unknown,
          values?: unknown,
        ) => Promise<pg.QueryResult>;
        (client as { query: unknown }).query = (text: unknown, values?: unknown) => {
          const ms = queryTimeout();
          if (typeof text !== 'string' || ms <= 0) return query(text, values);
          return query({ text, values, query_timeout: ms }).catch((err: unknown) => {
            if (err instanceof Error && err.message === 'Query read timeout')
              client[TIMED_OUT] = true;
            throw err;
          });
        };
      }
      client[IN_USE] = true;
      const release = client.release.bind(client);
      client.release = (err?: Error | boolean) => {
        client[IN_USE] = false;
        release(client[TIMED_OUT] ? new Error('query timed out: connection discarded') : err);
      };
      return client;
    },
    end: () => pool.end(),
  };
  return new PostgresDialect({ pool: guarded });
}
