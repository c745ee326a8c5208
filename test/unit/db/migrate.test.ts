// Migrations on both engines: applied once and in order, refused when the database was migrated
// by a release with other migrations, rolled back whole when one fails, and safe when several
// processes start on one fresh database at the same instant.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, MigrationError, readMigrations } from '../../../src/db/migrate.js';
import { LOCK_SLICE_MS, openDatabase } from '../../../src/db/sqlite.js';
import type { Storage, StorageTarget } from '../../../src/db/storage.js';
import { ENGINES, engineFixture, silentLogger } from './helpers.js';
import { startNodes } from './storage-nodes.js';

const APP_TABLES = ['accounts', 'result_players', 'results', 'sessions', 'snapshots'];
/** Every migration this release ships, in order. */
const RELEASED = readMigrations(MIGRATIONS_DIR).map((m) => m.name);

/** The migrator's own table, which these tests read directly. */
interface MigratorTables {
  kysely_migration: { name: string; timestamp: string };
}

function kysely(storage: Storage): Kysely<MigratorTables> {
  return (storage as unknown as { db: Kysely<MigratorTables> }).db;
}

async function tables(storage: Storage): Promise<string[]> {
  const all = await kysely(storage).introspection.getTables({ withInternalKyselyTables: true });
  return all.map((t) => t.name).sort();
}

async function applied(storage: Storage): Promise<string[]> {
  return (
    await kysely(storage).selectFrom('kysely_migration').select('name').orderBy('name').execute()
  ).map((r) => r.name);
}

async function migrationError(work: Promise<unknown>): Promise<MigrationError> {
  try {
    await work;
  } catch (err) {
    expect(err).toBeInstanceOf(MigrationError);
    return err as MigrationError;
  }
  throw new Error('expected a MigrationError');
}

/** Migration files written by a test: plain ES modules that use only the db they are given. */
const createTable = (name: string, column = 'x') =>
  `export async function up(db) { await db.schema.createTable('${name}').addColumn('${column}', 'integer').execute(); }\n`;

describe.each(ENGINES)('migrations on %s', (engine) => {
  const fx = engineFixture(engine);
  let target: StorageTarget;
  let dir: string;
  const open = (migrationsDir = dir) => fx.open(target, { migrationsDir });

  beforeAll(() => fx.setup());
  afterAll(() => fx.teardown());
  beforeEach(async () => {
    target = await fx.fresh();
    // The first released migration (later ones come and go; the migrator's behaviour is the
    // subject here), re-exported from a folder the test can add files to.
    dir = mkdtempSync(join(tmpdir(), 'minotaur-migrations-'));
    for (const m of readMigrations(MIGRATIONS_DIR).filter((x) => x.name === '001_init')) {
      writeFileSync(
        join(dir, `${m.name}.mjs`),
        `export { up } from ${JSON.stringify(pathToFileURL(m.path).href)};\n`,
      );
    }
  });
  afterEach(async () => {
    await fx.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies every migration on a fresh database, records it, and is a no-op when run again', async () => {
    const s = await open();
    expect(await s.migrate()).toEqual(['001_init']);
    expect(await tables(s)).toEqual(
      expect.arrayContaining([...APP_TABLES, 'kysely_migration', 'kysely_migration_lock']),
    );
    expect(await applied(s)).toEqual(['001_init']);
    expect(await s.migrate()).toEqual([]);
    expect(await (await open()).migrate()).toEqual([]);
  });

  it('applies only the new migrations, in order', async () => {
    const s = await open();
    await s.migrate();
    writeFileSync(
      join(dir, '003_c.mjs'),
      `export async function up(db) { await db.schema.createTable('c').addColumn('x', 'integer', (c) => c.references('b.x')).execute(); }\n`,
    );
    writeFileSync(
      join(dir, '002_b.mjs'),
      `export async function up(db) { await db.schema.createTable('b').addColumn('x', 'integer', (c) => c.primaryKey()).execute(); }\n`,
    );
    expect(await s.migrate()).toEqual(['002_b', '003_c']);
    expect(await applied(s)).toEqual(['001_init', '002_b', '003_c']);
  });

  it('tells a migration which engine it runs on', async () => {
    writeFileSync(
      join(dir, '002_engine.mjs'),
      `export async function up(db, engine) { await db.schema.createTable('engine_' + engine).addColumn('x', 'integer').execute(); }\n`,
    );
    const s = await open();
    await s.migrate();
    expect(await tables(s)).toContain(`engine_${engine}`);
  });

  it('runs on a database migrated by a newer release (a rollback), and refuses one with an unknown migration among its own', async () => {
    writeFileSync(join(dir, '002_b.mjs'), createTable('b'));
    writeFileSync(join(dir, '003_c.mjs'), createTable('c'));
    await (await open()).migrate();
    // This release ends at 002_b: 003_c is a newer release's, additive; nothing to apply.
    rmSync(join(dir, '003_c.mjs'));
    expect(await (await open()).migrate()).toEqual([]);
    // A release that knows 003_c but not 002_b cannot be part of this database's history.
    writeFileSync(join(dir, '003_c.mjs'), createTable('c'));
    rmSync(join(dir, '002_b.mjs'));
    const err = await migrationError((await open()).migrate());
    expect(err.code).toBe('MIGRATION_MISSING');
    expect(err.message).toBe(
      'migration 002_b was applied to this database but this release does not have it; run a release that has it',
    );
  });

  it('refuses a new migration numbered before one already applied', async () => {
    writeFileSync(join(dir, '003_c.mjs'), createTable('c'));
    await (await open()).migrate();
    writeFileSync(join(dir, '002_b.mjs'), createTable('b'));
    const err = await migrationError((await open()).migrate());
    expect(err.code).toBe('MIGRATION_ORDER');
    expect(err.message).toContain('002_b');
    expect(err.message).toContain('003_c');
  });

  it('rolls back every migration of a run when one fails, and names it', async () => {
    const s = await open();
    await s.migrate();
    writeFileSync(join(dir, '002_good.mjs'), createTable('good'));
    writeFileSync(
      join(dir, '003_bad.mjs'),
      `export async function up(db) { await db.schema.createTable('half').addColumn('x', 'integer').execute(); await db.schema.createTable('half').addColumn('x', 'integer').execute(); }\n`,
    );
    const err = await migrationError(s.migrate());
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.message).toMatch(/^migration 003_bad failed: /);
    expect(await tables(s)).not.toContain('half');
    expect(await tables(s)).not.toContain('good');
    expect(await applied(s)).toEqual(['001_init']);
  });

  it('rejects badly named files and reused numbers', async () => {
    writeFileSync(join(dir, '2_b.mjs'), createTable('b'));
    expect((await migrationError((await open()).migrate())).code).toBe('MIGRATION_BAD_NAME');
    rmSync(join(dir, '2_b.mjs'));
    writeFileSync(join(dir, '001_other.mjs'), createTable('other'));
    const err = await migrationError((await open()).migrate());
    expect(err.code).toBe('MIGRATION_DUPLICATE_NUMBER');
    expect(err.message).toBe(
      'migrations 001_init and 001_other share the number 001; renumber the newer one',
    );
  });

  it('lets six processes open one fresh database and migrate it at the same instant; each migration runs once', async () => {
    // Regression (SQLite): switching a fresh file to WAL failed with SQLITE_BUSY when several
    // processes opened it in the same instant (three nodes starting together).
    const nodes = await startNodes(6);
    try {
      const at = Date.now() + 500;
      const opened = await Promise.all(nodes.map((n) => n.call('open', [target], at)));
      for (const o of opened) expect(o.ok, JSON.stringify(o)).toBe(true);
      const at2 = Date.now() + 300;
      const runs = await Promise.all(nodes.map((n) => n.call<string[]>('migrate', [], at2)));
      for (const run of runs) expect(run.ok, JSON.stringify(run)).toBe(true);
      // These processes run the released migrations.
      expect(runs.flatMap((r) => (r.ok ? r.value : []))).toEqual(RELEASED);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
    expect(await applied(await fx.open(target))).toEqual(RELEASED);
  });
});

describe('sqlite file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'minotaur-sqlite-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens the file in WAL mode with foreign keys and a short busy timeout', () => {
    const db = openDatabase(join(dir, 'data', 'm.db'), silentLogger);
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      // Longer waits for another process's lock happen between turns of the event loop
      // (test/unit/db/locked-file.test.ts).
      expect(db.pragma('busy_timeout', { simple: true })).toBe(LOCK_SLICE_MS);
      expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    } finally {
      db.close();
    }
  });

  it('makes every commit wait for the disk with synchronous full (SQLITE_SYNCHRONOUS=full)', () => {
    const db = openDatabase(join(dir, 'm.db'), silentLogger, { synchronous: 'full' });
    try {
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('migrates an in-memory database', async () => {
    const fx = engineFixture('sqlite');
    const s = await fx.open({ engine: 'sqlite', path: ':memory:' });
    try {
      expect(await s.migrate()).toEqual(RELEASED);
      expect(
        Number(
          (await sql<{ n: number | string }>`select count(*) as n from accounts`.execute(kysely(s)))
            .rows[0]!.n,
        ),
      ).toBe(0);
    } finally {
      await fx.closeAll();
    }
  });

  it('creates the same tables as releases before Kysely (STRICT, usernames unique in any case)', async () => {
    const fx = engineFixture('sqlite');
    const path = join(dir, 'm.db');
    await fx.openMigrated({ engine: 'sqlite', path });
    await fx.closeAll();
    const db = openDatabase(path, silentLogger);
    try {
      const ddl = db
        .prepare(
          `select name, sql from sqlite_master where type = 'table' and name in (${APP_TABLES.map(() => '?').join(',')})`,
        )
        .all(...APP_TABLES) as { name: string; sql: string }[];
      expect(ddl).toHaveLength(APP_TABLES.length);
      for (const t of ddl) expect(t.sql, t.name).toMatch(/\)\s*strict$/i);
      db.prepare(
        `insert into accounts (username, password_hash, created_at) values ('Ariadne', 'h', 1)`,
      ).run();
      expect(() =>
        db
          .prepare(
            `insert into accounts (username, password_hash, created_at) values ('ARIADNE', 'h', 1)`,
          )
          .run(),
      ).toThrow(/UNIQUE/);
      expect(() =>
        db
          .prepare(
            `insert into snapshots (code, game_id, owner, epoch, seq, schema, state, updated_at) values ('K', 'g', 'o', 'one', 1, 1, '{}', 1)`,
          )
          .run(),
      ).toThrow(/cannot store TEXT/);
    } finally {
      db.close();
    }
  });
});
