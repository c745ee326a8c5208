// Brings the schema up to date with Kysely's migrator from the numbered files in migrations/,
// once per database, even when several nodes start at the same moment: PostgreSQL applies them
// under an advisory lock, SQLite under its write lock (BEGIN IMMEDIATE). Adopts SQLite files
// made by earlier releases, whose own migrator recorded 001_init.sql in schema_migrations.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { describeError, outageClass } from './errors.js';
import type { DbLogger } from './logger.js';
import type { Engine } from './schema.js';

export type MigrationErrorCode =
  | 'MIGRATION_MISSING'
  | 'MIGRATION_ORDER'
  | 'MIGRATION_EDITED'
  | 'MIGRATION_BAD_NAME'
  | 'MIGRATION_DUPLICATE_NUMBER'
  | 'MIGRATION_FAILED';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a file in migrations/ exports. `engine` says which SQL dialect the schema builder
 * speaks. A migration sees no table types: it runs against whatever schema came before it.
 */
export interface MigrationModule {
  up(db: Kysely<unknown>, engine: Engine): Promise<void>;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Kysely's own bookkeeping tables (the defaults, named here because legacy adoption writes one).
 */
const MIGRATION_TABLE = 'kysely_migration';
const MIGRATION_LOCK_TABLE = 'kysely_migration_lock';

/**
 * Migrations applied by the SQL-file migrator of earlier releases (table schema_migrations,
 * sha256 of the file with LF line endings), and the name each has here.
 */
export const LEGACY_MIGRATIONS: Readonly<Record<string, { checksum: string; name: string }>> = {
  '001_init.sql': {
    checksum: 'fe1dda8059510aeb92eda7bdce623b0fd767280324adfcc48703e92fb1368f15',
    name: '001_init',
  },
  // Released with the SQL-file migrator just before the move to these migrations, where the
  // same change is 003 (after 002_node_leases, which that release did not have).
  '002_finished_games.sql': {
    checksum: 'cadd9c5c0a61d8b6e124457126effc7a502b16f750367152ff4a687ee553bdd0',
    name: '003_finished_games',
  },
};

const FILE_PATTERN = /^(\d{3})_[a-z0-9][a-z0-9_]*\.(ts|js|mjs)$/;

export interface MigrationFile {
  name: string;
  path: string;
}

/** The migration files of `dir`, in order; refuses badly named files and reused numbers. */
export function readMigrations(dir: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!/\.(ts|js|mjs)$/.test(file) || file.endsWith('.d.ts')) continue;
    if (!FILE_PATTERN.test(file)) {
      throw new MigrationError(
        'MIGRATION_BAD_NAME',
        `migration file ${file} is not named NNN_name.ts (three digits, lower-case name)`,
      );
    }
    const name = file.replace(/\.(ts|js|mjs)$/, '');
    // A source file next to its compiled twin is one migration.
    if (files.at(-1)?.name === name) continue;
    files.push({ name, path: join(dir, file) });
  }
  for (const [i, cur] of files.entries()) {
    const prev = files[i - 1];
    if (prev && prev.name.slice(0, 3) === cur.name.slice(0, 3)) {
      throw new MigrationError(
        'MIGRATION_DUPLICATE_NUMBER',
        `migrations ${prev.name} and ${cur.name} share the number ${cur.name.slice(0, 3)}; renumber the newer one`,
      );
    }
  }
  return files;
}

class DirectoryProvider implements MigrationProvider {
  constructor(
    private readonly files: MigrationFile[],
    private readonly engine: Engine,
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const file of this.files) {
      const mod = (await import(pathToFileURL(file.path).href)) as Partial<MigrationModule>;
      const up = mod.up;
      if (typeof up !== 'function')
        throw new MigrationError(
          'MIGRATION_BAD_NAME',
          `migration ${file.name} exports no up(db, engine) function`,
        );
      out[file.name] = { up: (db) => up(db, this.engine) };
    }
    return out;
  }
}

async function tableExists<DB>(db: Kysely<DB>, engine: Engine, table: string): Promise<boolean> {
  const found =
    engine === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${table}`.execute(
          db,
        )
      : await sql<{
          n: number;
        }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema() and table_name = ${table}`.execute(
          db,
        );
  return (found.rows[0]?.n ?? 0) > 0;
}

/**
 * A SQLite file from a release before this migrator: record its applied SQL migrations under
 * their names here, so they are not applied twice. schema_migrations stays as it was, so that
 * release could still open the file.
 */
async function adoptLegacy<DB>(db: Kysely<DB>, logger: DbLogger): Promise<Set<string>> {
  if (!(await tableExists(db, 'sqlite', 'schema_migrations'))) return new Set();
  return db.transaction().execute(async (trx) => {
    const rows = (
      await sql<{
        name: string;
        checksum: string;
        applied_at: number;
      }>`select name, checksum, applied_at from schema_migrations order by version`.execute(trx)
    ).rows;
    const adopt: { name: string; appliedAt: number; legacy: string }[] = [];
    for (const row of rows) {
      const known = LEGACY_MIGRATIONS[row.name];
      if (!known) {
        throw new MigrationError(
          'MIGRATION_MISSING',
          `migration ${row.name} was applied to this database by another release but this release does not know it; run the release that applied it`,
        );
      }
      if (known.checksum !== row.checksum) {
        throw new MigrationError(
          'MIGRATION_EDITED',
          `migration ${row.name} was edited after it was applied to this database; restore the released file`,
        );
      }
      adopt.push({ name: known.name, appliedAt: row.applied_at, legacy: row.name });
    }
    await trx.schema
      .createTable(MIGRATION_TABLE)
      .ifNotExists()
      .addColumn('name', 'varchar(255)', (c) => c.notNull().primaryKey())
      .addColumn('timestamp', 'varchar(255)', (c) => c.notNull())
      .execute();
    for (const { name, appliedAt, legacy } of adopt) {
      const timestamp = new Date(appliedAt).toISOString();
      const adopted = await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp)
        values (${name}, ${timestamp}) on conflict do nothing`.execute(trx);
      if (Number(adopted.numAffectedRows ?? 0) > 0) {
        logger.info(
          { migration: name, legacy },
          `migration ${name} recorded as applied (${legacy}, from an earlier release)`,
        );
      }
    }
    return new Set(adopt.map((a) => a.name));
  });
}

/**
 * Checks what the database has applied against this release's files. Migrations are additive
 * (a release may only add tables, columns and indexes the release before it does not need), so
 * a database migrated by a newer release is fine for this one: that is a rollback, or an old
 * node still starting during a rolling update. Returns the newer migrations this release does
 * not know (then there is nothing for it to apply). Refuses a database whose history this
 * release cannot be part of: an unknown migration among its own, or a new one of its own that
 * sorts before one already applied.
 */
async function checkApplied<DB>(
  db: Kysely<DB>,
  engine: Engine,
  files: MigrationFile[],
  adopted: ReadonlySet<string>,
): Promise<string[]> {
  if (!(await tableExists(db, engine, MIGRATION_TABLE))) return [];
  const { rows } = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(db);
  const applied = rows.map((r) => r.name).sort();
  const names = new Set(files.map((f) => f.name));
  const ours = files.at(-1)?.name ?? '';
  const newer = applied.filter((name) => !names.has(name) && name > ours);
  for (const name of applied) {
    if (!names.has(name) && name <= ours) {
      throw new MigrationError(
        'MIGRATION_MISSING',
        `migration ${name} was applied to this database but this release does not have it; run a release that has it`,
      );
    }
  }
  // A migration adopted from the SQL-file era may sort after ones that era did not have.
  const last = applied.filter((name) => !adopted.has(name)).at(-1);
  const early = last ? files.find((f) => !applied.includes(f.name) && f.name < last) : undefined;
  if (early) {
    throw new MigrationError(
      'MIGRATION_ORDER',
      `migration ${early.name} is new but sorts before ${last}, which was already applied; renumber it after ${last}`,
    );
  }
  return newer;
}

/**
 * Applies every migration in `dir` this database has not seen, in order, all in one
 * transaction. Returns the names applied by this call. A database that cannot be reached
 * throws the driver's error (the caller retries); anything else is a MigrationError.
 */
export async function migrate<DB>(
  db: Kysely<DB>,
  engine: Engine,
  logger: DbLogger,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const files = readMigrations(dir);
  const adopted = engine === 'sqlite' ? await adoptLegacy(db, logger) : new Set<string>();
  const newer = await checkApplied(db, engine, files, adopted);
  if (newer.length > 0) {
    // Everything this release has is applied (checkApplied made sure); the rest is a newer
    // release's, additive, and this one runs without it.
    logger.warn(
      { newer },
      `the database has migrations from a newer release (${newer.join(', ')}); running without them (a rollback, or an old node during an update)`,
    );
    return [];
  }
  const migrator = new Migrator({
    db,
    provider: new DirectoryProvider(files, engine),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Only where the SQL-file era left a later migration applied before an earlier one.
    allowUnorderedMigrations: adopted.size > 0,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    if (error instanceof MigrationError || (error instanceof Error && outageClass(error))) {
      throw error;
    }
    const failed = results.find((r) => r.status === 'Error');
    const message = describeError(error);
    throw new MigrationError(
      'MIGRATION_FAILED',
      failed
        ? `migration ${failed.migrationName} failed: ${message}`
        : `migrations failed: ${message}`,
      { cause: error },
    );
  }
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const name of applied) logger.info({ migration: name }, `migration ${name} applied`);
  return applied;
}
