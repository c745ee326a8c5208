// Brings the schema up to date from the numbered files in migrations/, once per database,
// even when several nodes start on the same file at the same moment.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './database.js';
import type { DbLogger } from './logger.js';

export type MigrationErrorCode =
  | 'MIGRATION_EDITED'
  | 'MIGRATION_MISSING'
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

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE_PATTERN = /^(\d{3})_[a-z0-9][a-z0-9_-]*\.sql$/;

/** sha256 of the file with line endings normalised, so a CRLF checkout is not "an edit". */
export function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export function readMigrations(dir: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(name);
    if (!match) {
      throw new MigrationError(
        'MIGRATION_BAD_NAME',
        `migration file ${name} is not named NNN_name.sql (three digits, lower-case name)`,
      );
    }
    const sql = readFileSync(join(dir, name), 'utf8');
    files.push({ version: Number(match[1]), name, sql, checksum: checksum(sql) });
  }
  for (let i = 1; i < files.length; i++) {
    const [prev, cur] = [files[i - 1]!, files[i]!];
    if (prev.version === cur.version) {
      throw new MigrationError(
        'MIGRATION_DUPLICATE_NUMBER',
        `migrations ${prev.name} and ${cur.name} share the number ${cur.name.slice(0, 3)}; renumber the newer one`,
      );
    }
  }
  return files;
}

interface AppliedRow {
  name: string;
  checksum: string;
}

function editedError(name: string): MigrationError {
  return new MigrationError(
    'MIGRATION_EDITED',
    `migration ${name} was edited after it was applied; restore it and add a new migration instead`,
  );
}

/**
 * Applies every migration in `dir` that this database has not seen, in order, each in its
 * own BEGIN IMMEDIATE transaction (so of two processes starting together exactly one applies
 * it and the other waits, then sees it done). Refuses to run when an applied file was edited
 * or removed. Returns the names applied by this call.
 */
export function migrate(db: Db, dir: string, logger: DbLogger): string[] {
  const files = readMigrations(dir);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL UNIQUE,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);

  const byName = new Map(files.map((f) => [f.name, f]));
  const applied = db.prepare('SELECT name, checksum FROM schema_migrations ORDER BY version').all() as AppliedRow[];
  for (const row of applied) {
    const file = byName.get(row.name);
    if (!file) {
      throw new MigrationError(
        'MIGRATION_MISSING',
        `migration ${row.name} was applied to this database but is missing from ${dir}; ` +
          'restore the file (this release may be older than the database)',
      );
    }
    if (file.checksum !== row.checksum) throw editedError(row.name);
  }

  const find = db.prepare('SELECT name, checksum FROM schema_migrations WHERE name = ?');
  const record = db.prepare(
    'INSERT INTO schema_migrations (name, version, checksum, applied_at) VALUES (?, ?, ?, ?)',
  );
  const done: string[] = [];
  for (const file of files) {
    const apply = db.transaction((): boolean => {
      // Re-read under the write lock: another process may have applied it meanwhile.
      const row = find.get(file.name) as AppliedRow | undefined;
      if (row) {
        if (row.checksum !== file.checksum) throw editedError(file.name);
        return false;
      }
      try {
        db.exec(file.sql);
      } catch (err) {
        throw new MigrationError(
          'MIGRATION_FAILED',
          `migration ${file.name} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      record.run(file.name, file.version, file.checksum, Date.now());
      return true;
    });
    if (apply.immediate()) {
      done.push(file.name);
      logger.info({ migration: file.name }, `migration ${file.name} applied`);
    }
  }
  return done;
}
