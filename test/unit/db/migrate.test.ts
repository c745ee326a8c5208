import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../src/db/database.js';
import { migrate, MigrationError } from '../../../src/db/migrate.js';
import { MIGRATIONS_DIR, silentLogger, tempDb, type TempDb } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/migrate-child.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

function tables(db: Db): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map(
    (r) => r.name,
  );
}

function migrationError(fn: () => unknown): MigrationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MigrationError);
    return err as MigrationError;
  }
  throw new Error('expected a MigrationError');
}

describe('migrate', () => {
  let tmp: TempDb;
  let dir: string;
  let db: Db;

  beforeEach(() => {
    tmp = tempDb();
    dir = join(tmp.dir, 'migrations');
    mkdirSync(dir);
    // The migrator is tested on the first file alone, so the tests' own 002_… files never
    // collide with the project's later migrations.
    copyFileSync(join(MIGRATIONS_DIR, '001_init.sql'), join(dir, '001_init.sql'));
    db = openDatabase(tmp.path, silentLogger);
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  it('opens the file in WAL mode with foreign keys and a busy timeout', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
  });

  it('opens an in-memory database for tests', () => {
    const mem = openDatabase(':memory:', silentLogger);
    try {
      expect(migrate(mem, dir, silentLogger)).toEqual(['001_init.sql']);
      expect(mem.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      mem.close();
    }
  });

  it('applies every file on a fresh database and records name and checksum', () => {
    expect(migrate(db, dir, silentLogger)).toEqual(['001_init.sql']);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['accounts', 'sessions', 'results', 'result_players', 'snapshots', 'schema_migrations']),
    );
    const row = db.prepare('SELECT name, version, checksum FROM schema_migrations').get() as Record<string, unknown>;
    expect(row).toMatchObject({ name: '001_init.sql', version: 1 });
    expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is a no-op when run again', () => {
    migrate(db, dir, silentLogger);
    expect(migrate(db, dir, silentLogger)).toEqual([]);
  });

  it('applies only the new files, in order', () => {
    migrate(db, dir, silentLogger);
    writeFileSync(join(dir, '003_c.sql'), 'CREATE TABLE c (x INTEGER REFERENCES b (x));');
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (x INTEGER PRIMARY KEY);');
    expect(migrate(db, dir, silentLogger)).toEqual(['002_b.sql', '003_c.sql']);
  });

  it('refuses to start when an applied file was edited', () => {
    migrate(db, dir, silentLogger);
    appendFileSync(join(dir, '001_init.sql'), '\n-- tweak\n');
    const err = migrationError(() => migrate(db, dir, silentLogger));
    expect(err.code).toBe('MIGRATION_EDITED');
    expect(err.message).toBe(
      'migration 001_init.sql was edited after it was applied; restore it and add a new migration instead',
    );
  });

  it('does not take CRLF line endings for an edit', () => {
    migrate(db, dir, silentLogger);
    const file = join(dir, '001_init.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    expect(migrate(db, dir, silentLogger)).toEqual([]);
  });

  it('refuses to start when an applied file is missing', () => {
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (x INTEGER);');
    migrate(db, dir, silentLogger);
    rmSync(join(dir, '002_b.sql'));
    const err = migrationError(() => migrate(db, dir, silentLogger));
    expect(err.code).toBe('MIGRATION_MISSING');
    expect(err.message).toContain('002_b.sql');
  });

  it('rolls a failing migration back entirely and names it', () => {
    migrate(db, dir, silentLogger);
    writeFileSync(join(dir, '002_bad.sql'), 'CREATE TABLE half (x INTEGER);\nCREATE TABLE oops (;');
    const err = migrationError(() => migrate(db, dir, silentLogger));
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.message).toContain('002_bad.sql');
    expect(tables(db)).not.toContain('half');
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: 1 });
  });

  it('rejects badly named and duplicate-numbered files', () => {
    writeFileSync(join(dir, '2_b.sql'), 'SELECT 1;');
    expect(migrationError(() => migrate(db, dir, silentLogger)).code).toBe('MIGRATION_BAD_NAME');
    rmSync(join(dir, '2_b.sql'));
    writeFileSync(join(dir, '001_other.sql'), 'SELECT 1;');
    expect(migrationError(() => migrate(db, dir, silentLogger)).code).toBe('MIGRATION_DUPLICATE_NUMBER');
  });

  it('lets two handles on one file migrate one after the other', () => {
    const other = openDatabase(tmp.path, silentLogger);
    try {
      expect(migrate(db, dir, silentLogger)).toEqual(['001_init.sql']);
      expect(migrate(other, dir, silentLogger)).toEqual([]);
    } finally {
      other.close();
    }
  });

  it('lets several processes start on one fresh file at once; each file is applied exactly once', async () => {
    db.close();
    rmSync(join(tmp.dir, 'data'), { recursive: true, force: true });
    // Regression: switching a fresh file to WAL used to fail with SQLITE_BUSY when several
    // processes opened it in the same instant (three nodes starting together).
    const startAt = String(Date.now() + 2500);
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => runChild(join(tmp.dir, 'data', 'minotaur.db'), dir, startAt)),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const applied = runs.flatMap((r) => JSON.parse(r.stdout) as string[]);
    expect(applied).toEqual(['001_init.sql']);
    db = openDatabase(tmp.path, silentLogger);
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: 1 });
  });
});

function runChild(path: string, dir: string, startAt: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [CHILD, path, dir, startAt], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
