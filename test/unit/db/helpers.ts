// Shared set-up for the storage tests: each engine as a fixture that hands out fresh, empty
// databases (a temp SQLite file, or a new database on a private PostgreSQL server), and opens
// migrated Storage handles on them that are all closed at the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  openStorage,
  type Storage,
  type StorageOptions,
  type StorageTarget,
} from '../../../src/db/storage.js';
import type { Engine } from '../../../src/db/schema.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';

export const silentLogger = pino({ level: 'silent' });
export const ENGINES: Engine[] = ['sqlite', 'postgres'];

export interface EngineFixture {
  engine: Engine;
  /** Starts what the engine needs (the PostgreSQL server). Call in beforeAll. */
  setup(): Promise<void>;
  /** A new empty database. */
  fresh(): Promise<StorageTarget>;
  /** A handle on `target` (a fresh database when omitted); closed by cleanup(). */
  open(target?: StorageTarget, options?: Partial<StorageOptions>): Promise<Storage>;
  /** Like open(), then migrated. */
  openMigrated(target?: StorageTarget, options?: Partial<StorageOptions>): Promise<Storage>;
  /** Closes every handle opened since the last call. Call in afterEach. */
  closeAll(): Promise<void>;
  /** Stops the server and removes temp files. Call in afterAll. */
  teardown(): Promise<void>;
  server(): PostgresServer | null;
}

export function engineFixture(engine: Engine): EngineFixture {
  let pg: PostgresServer | null = null;
  let dir: string | null = null;
  let files = 0;
  const handles: Storage[] = [];
  const fixture: EngineFixture = {
    engine,
    async setup() {
      if (engine === 'postgres') pg = await startPostgres();
      else dir = mkdtempSync(join(tmpdir(), 'minotaur-db-'));
    },
    async fresh() {
      if (engine === 'postgres') return { engine, url: await pg!.createDatabase() };
      return { engine, path: join(dir!, `db${++files}`, 'minotaur.db') };
    },
    async open(target, options = {}) {
      const storage = openStorage(target ?? (await fixture.fresh()), {
        logger: silentLogger,
        sessions: { pruneIntervalMs: 0 },
        ...options,
      });
      handles.push(storage);
      return storage;
    },
    async openMigrated(target, options) {
      const storage = await fixture.open(target, options);
      await storage.migrate();
      return storage;
    },
    async closeAll() {
      await Promise.all(handles.splice(0).map((h) => h.close()));
    },
    async teardown() {
      await fixture.closeAll();
      pg?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    server: () => pg,
  };
  return fixture;
}
