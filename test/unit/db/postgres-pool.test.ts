// The PostgreSQL pool when the server drops connections: a restart terminates every backend,
// including those a node holds at that moment (between a query and its release, or in a
// transaction). The node must log it and go on, never crash.

import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, postgresDialect } from '../../../src/db/postgres.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { recordingLogger, waitFor } from '../cluster/recording-logger.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function terminate(server: PostgresServer, pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  try {
    await admin.query('select pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL pool', () => {
  it('survives the server terminating a connection that is checked out, and discards it', async () => {
    const server = await startPostgres();
    cleanups.push(() => server.stop());
    const logger = recordingLogger();
    const broke: Error[] = [];
    const pool = createPool(await server.createDatabase(), {
      logger,
      onIdleError: (err) => broke.push(err),
    });
    const db = new Kysely<unknown>({ dialect: postgresDialect(pool) });
    cleanups.push(() => db.destroy());

    const failed = await db.connection().execute(async (conn) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
      // The connection is ours, no query running on it: what a restart of the server finds.
      await terminate(server, rows[0]!.pid);
      await waitFor(
        () => logger.at('debug').includes('database connection closed while in use'),
        10_000,
        'the broken connection to be reported',
      );
      return sql`select 1`.execute(conn).then(
        () => null,
        (err: unknown) => err as Error,
      );
    });
    expect(failed).toBeInstanceOf(Error);
    expect(broke.length).toBeGreaterThanOrEqual(1);
    // The broken connection did not go back to the pool: the next query gets a working one.
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    expect(rows).toEqual([{ one: 1 }]);
  });

  it("ends a transaction left idle by a frozen node, so the others' writes go on", async () => {
    const server = await startPostgres();
    cleanups.push(() => server.stop());
    const url = await server.createDatabase();
    const pool = createPool(url, { logger: recordingLogger(), idleInTransactionMs: 500 });
    cleanups.push(() => pool.end());
    const frozen = await pool.connect();
    cleanups.push(() => frozen.release(true));
    const { rows } = await frozen.query<{ idle_in_transaction_session_timeout: string }>(
      'show idle_in_transaction_session_timeout',
    );
    expect(rows[0]!.idle_in_transaction_session_timeout).toBe('500ms');
    await frozen.query('create table held (id int primary key)');
    // A transaction that took a row lock, then nothing more: its node stopped.
    await frozen.query('begin');
    await frozen.query('insert into held values (1)');

    const other = new pg.Client({ connectionString: url });
    await other.connect();
    cleanups.push(() => other.end());
    const started = Date.now();
    // Waits for the frozen transaction's row; goes on once the server has ended it.
    const out = await other.query('insert into held values (1) on conflict do nothing');
    const waited = Date.now() - started;
    expect(out.rowCount).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(5000);
  });
});
