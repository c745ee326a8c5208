// Shared set-up for the db tests: a temp folder per test, a silent logger, a migrated handle.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openDatabase, type Db } from '../../../src/db/database.js';
import { migrate } from '../../../src/db/migrate.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));
export const silentLogger = pino({ level: 'silent' });

export interface TempDb {
  dir: string;
  path: string;
  open(): Db;
  cleanup(): void;
}

/** A temp folder holding one database file; every handle opened through it is migrated. */
export function tempDb(): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'minotaur-db-'));
  const path = join(dir, 'data', 'minotaur.db');
  const handles: Db[] = [];
  return {
    dir,
    path,
    open() {
      const db = openDatabase(path, silentLogger);
      migrate(db, MIGRATIONS_DIR, silentLogger);
      handles.push(db);
      return db;
    },
    cleanup() {
      for (const db of handles) if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
