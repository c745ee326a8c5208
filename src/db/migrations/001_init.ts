// Initial schema: accounts, express-session sessions, game results, cold-start snapshots.
// Never edit a migration once released; add the next number instead (see docs/storage.md).
// On SQLite this is the schema that releases before Kysely created from migrations/001_init.sql.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === 'postgres';
  // SQLite's INTEGER is 64-bit; PostgreSQL needs bigint for times in ms and for ids.
  const big = pg ? 'bigint' : 'integer';
  // SQLite's STRICT tables refuse values of the wrong type, as PostgreSQL always does.
  const strict = <T extends { modifyEnd(m: ReturnType<typeof sql>): T }>(t: T): T =>
    pg ? t : t.modifyEnd(sql`strict`);

  if (pg) {
    // Usernames are unique whatever their letter case, as with SQLite's NOCASE.
    await sql`CREATE COLLATION IF NOT EXISTS case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`.execute(
      db,
    );
  }

  await db.schema
    .createTable('accounts')
    .addColumn('id', big, (c) =>
      pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey(),
    )
    .addColumn(
      'username',
      pg ? sql`text collate case_insensitive` : sql`text collate nocase`,
      (c) => c.notNull().unique(),
    )
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'integer', (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`is_admin in (0, 1)`),
    )
    .addColumn('created_at', big, (c) => c.notNull())
    .$call(strict)
    .execute();

  // A destroyed session keeps its row as a tombstone (ended_at set) until it expires, so a
  // request still in flight on another node cannot bring it back by saving it.
  await db.schema
    .createTable('sessions')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('sess', 'text', (c) => c.notNull())
    .addColumn('expires', big, (c) => c.notNull())
    .addColumn('ended_at', big)
    .$call(strict)
    .execute();
  await db.schema.createIndex('sessions_expires').on('sessions').column('expires').execute();

  await db.schema
    .createTable('results')
    .addColumn('game_id', 'text', (c) => c.primaryKey())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('finished_at', big, (c) => c.notNull())
    .addColumn('rounds', 'integer', (c) => c.notNull())
    .addColumn('winner_account_id', big, (c) => c.references('accounts.id').onDelete('set null'))
    .$call(strict)
    .execute();
  await db.schema.createIndex('results_finished_at').on('results').column('finished_at').execute();

  await db.schema
    .createTable('result_players')
    .addColumn('game_id', 'text', (c) =>
      c.notNull().references('results.game_id').onDelete('cascade'),
    )
    .addColumn('account_id', big, (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('won', 'integer', (c) => c.notNull().check(sql`won in (0, 1)`))
    .addColumn('eliminated_round', 'integer')
    .addPrimaryKeyConstraint('result_players_pkey', ['game_id', 'account_id'])
    .$call(strict)
    .execute();
  await db.schema
    .createIndex('result_players_account')
    .on('result_players')
    .column('account_id')
    .execute();

  // Keyed by code like the replicated store; (epoch, owner, seq) orders writes the same way,
  // owner compared byte-wise as JavaScript compares strings, whatever the server's collation.
  await db.schema
    .createTable('snapshots')
    .addColumn('code', 'text', (c) => c.primaryKey())
    .addColumn('game_id', 'text', (c) => c.notNull())
    .addColumn('owner', pg ? sql`text collate "C"` : 'text', (c) => c.notNull())
    .addColumn('epoch', big, (c) => c.notNull())
    .addColumn('seq', big, (c) => c.notNull())
    .addColumn('schema', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .$call(strict)
    .execute();
}
