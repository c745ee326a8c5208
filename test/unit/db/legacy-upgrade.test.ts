// Upgrading in place: a SQLite file made and filled by the last release with the SQL-file
// migrator (its own compiled code, built from git) is opened by this release. Nothing is lost,
// 001_init is not applied again, and the old release can still open the upgraded file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { SessionData } from 'express-session';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { LEGACY_MIGRATIONS, MigrationError } from '../../../src/db/migrate.js';
import { openStorage, type Storage } from '../../../src/db/storage.js';
import { buildLastSqlMigratorRelease, historyMissing } from '../../support/old-release.js';
import { silentLogger } from './helpers.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

/* eslint-disable @typescript-eslint/no-explicit-any */
interface OldRelease {
  dir: string;
  openDatabase(path: string, logger: unknown): Database.Database;
  migrate(db: Database.Database, dir: string, logger: unknown): string[];
  Accounts: any;
  Results: any;
  Snapshots: any;
  SqliteSessionStore: any;
}

async function loadOld(dir: string): Promise<OldRelease> {
  const mod = (file: string) => import(pathToFileURL(join(dir, 'dist', 'db', file)).href);
  const [database, migrate, accounts, results, snapshots, sessions] = await Promise.all(
    [
      'database.js',
      'migrate.js',
      'accounts.js',
      'results.js',
      'snapshots.js',
      'session-store.js',
    ].map(mod),
  );
  return {
    dir,
    openDatabase: database.openDatabase,
    migrate: migrate.migrate,
    Accounts: accounts.Accounts,
    Results: results.Results,
    Snapshots: snapshots.Snapshots,
    SqliteSessionStore: sessions.SqliteSessionStore,
  };
}

const cookie = (extra: Record<string, unknown>) =>
  ({
    cookie: { originalMaxAge: HOUR, expires: new Date(T0 + HOUR) },
    ...extra,
  }) as unknown as SessionData;
const callback = <T>(run: (cb: (err: unknown, v?: T) => void) => void) =>
  new Promise<T | undefined>((res, rej) => run((e, v) => (e ? rej(e) : res(v))));

const missing = historyMissing();
let old: OldRelease | undefined;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'minotaur-legacy-'));
  // Throws (the tests fail) when the history is there but the old release is not, or does not
  // build or load.
  if (missing === null) old = await loadOld(buildLastSqlMigratorRelease().dir);
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * The old release; skips the test, saying why, only when the checkout has no history to build
 * it from.
 */
function oldRelease(ctx: TestContext): OldRelease {
  if (missing !== null) ctx.skip(`no SQL-migrator release to build: ${missing}`);
  if (!old) throw new Error('the last SQL-migrator release was not built');
  return old;
}

/** A file made by the old release, with one of everything in it. */
function fillWithOldRelease(path: string): { ariadne: string; theseus: string } {
  const o = old!;
  const db = o.openDatabase(path, silentLogger);
  try {
    expect(o.migrate(db, join(o.dir, 'migrations'), silentLogger)).toEqual(['001_init.sql']);
    const accounts = new o.Accounts(db, () => T0);
    const ariadne = accounts.create('Ariadne', 'scrypt$a').account.id as string;
    const theseus = accounts.create('theseus', 'scrypt$t').account.id as string;
    accounts.setAdmin(ariadne, true);
    new o.Results(db).record({
      gameId: 'g1',
      code: 'KEPS',
      finishedAt: T0,
      rounds: 9,
      winnerId: ariadne,
      players: [
        { accountId: ariadne, won: true, eliminatedRound: null },
        { accountId: theseus, won: false, eliminatedRound: 4 },
      ],
    });
    new o.Snapshots(db, { now: () => T0 }).save({
      code: 'ZORB',
      gameId: 'game-2',
      owner: 'a1',
      epoch: 3,
      seq: 17,
      schema: 1,
      state: { id: 'game-2', code: 'ZORB', round: 5 },
    });
    const sessions = new o.SqliteSessionStore(db, { now: () => T0, pruneIntervalMs: 0 });
    sessions.set('live-sid', cookie({ userId: ariadne }));
    sessions.set('ended-sid', cookie({ userId: theseus }));
    sessions.destroy('ended-sid');
    return { ariadne, theseus };
  } finally {
    db.close();
  }
}

async function openNew(path: string): Promise<Storage> {
  return openStorage(
    { engine: 'sqlite', path },
    { logger: silentLogger, now: () => T0, sessions: { pruneIntervalMs: 0 } },
  );
}

describe('upgrading a SQLite file from the SQL-file migrator', () => {
  it('keeps every account, result, snapshot and session, and applies nothing twice', async (ctx) => {
    const old = oldRelease(ctx);
    const path = join(tmp, 'upgrade', 'minotaur.db');
    const ids = fillWithOldRelease(path);

    const storage = await openNew(path);
    try {
      expect(await storage.migrate()).not.toContain('001_init');
      expect(await storage.migrate()).toEqual([]);

      expect(await storage.accounts.findByUsername('ARIADNE')).toEqual({
        id: ids.ariadne,
        username: 'Ariadne',
        passwordHash: 'scrypt$a',
        isAdmin: true,
        createdAt: T0,
      });
      expect(await storage.accounts.findById(ids.theseus)).toMatchObject({
        username: 'theseus',
        isAdmin: false,
      });
      expect(await storage.accounts.create('Theseus', 'x')).toMatchObject({
        ok: false,
        code: 'taken',
      });
      const created = await storage.accounts.create('minos', 'scrypt$m');
      expect(created.ok && Number(created.account.id)).toBeGreaterThan(Number(ids.theseus));

      expect(await storage.results.recordFor(ids.ariadne)).toEqual({ played: 1, won: 1 });
      expect((await storage.results.leaderboardPage(1, 20)).rows).toMatchObject([
        { username: 'Ariadne', won: 1 },
        { username: 'theseus', won: 0 },
      ]);
      expect(await storage.results.recentFor(ids.theseus)).toEqual([
        {
          gameId: 'g1',
          code: 'KEPS',
          finishedAt: T0,
          rounds: 9,
          won: false,
          eliminatedRound: 4,
          dealt: 0,
          winnerUsername: 'Ariadne',
          opponents: ['Ariadne'],
        },
      ]);
      expect(
        await storage.results.record({
          gameId: 'g1',
          code: 'KEPS',
          finishedAt: T0,
          rounds: 9,
          winnerId: ids.ariadne,
          players: [],
        }),
      ).toBe(false);

      expect(await storage.snapshots.get('ZORB')).toEqual({
        code: 'ZORB',
        gameId: 'game-2',
        owner: 'a1',
        epoch: 3,
        seq: 17,
        schema: 1,
        state: { id: 'game-2', code: 'ZORB', round: 5 },
        updatedAt: T0,
      });
      expect(
        await storage.snapshots.save({
          code: 'ZORB',
          gameId: 'game-2',
          owner: 'a1',
          epoch: 3,
          seq: 16,
          schema: 1,
          state: {} as never,
        }),
      ).toBe(false);

      const live = await callback<SessionData | null>((cb) => storage.sessions.get('live-sid', cb));
      expect(live).toMatchObject({ userId: ids.ariadne });
      // The old release's logout stays a logout.
      await callback((cb) =>
        storage.sessions.set('ended-sid', cookie({ userId: ids.theseus }), cb),
      );
      expect(
        await callback<SessionData | null>((cb) => storage.sessions.get('ended-sid', cb)),
      ).toBeNull();
    } finally {
      await storage.close();
    }

    // The old release (a rollback, or an old node of a rolling update) still opens the file.
    const db = old.openDatabase(path, silentLogger);
    try {
      expect(old.migrate(db, join(old.dir, 'migrations'), silentLogger)).toEqual([]);
      expect(new old.Accounts(db).findByUsername('minos')).toMatchObject({ username: 'minos' });
    } finally {
      db.close();
    }
  });

  it('refuses a file whose 001_init.sql differed from the released one, or that another release migrated further', async (ctx) => {
    oldRelease(ctx);
    const edited = join(tmp, 'edited', 'minotaur.db');
    fillWithOldRelease(edited);
    const raw = new Database(edited);
    raw
      .prepare(
        `update schema_migrations set checksum = 'edited-elsewhere' where name = '001_init.sql'`,
      )
      .run();
    raw.close();
    const a = await openNew(edited);
    await expect(a.migrate()).rejects.toMatchObject({
      name: 'MigrationError',
      code: 'MIGRATION_EDITED',
      message: expect.stringContaining('001_init.sql'),
    });
    await a.close();

    const further = join(tmp, 'further', 'minotaur.db');
    fillWithOldRelease(further);
    const raw2 = new Database(further);
    raw2
      .prepare(
        `insert into schema_migrations (name, version, checksum, applied_at) values ('002_extra.sql', 2, 'x', 1)`,
      )
      .run();
    raw2.close();
    const b = await openNew(further);
    const err = await b.migrate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err).toMatchObject({
      code: 'MIGRATION_MISSING',
      message: expect.stringContaining('002_extra.sql'),
    });
    await b.close();
  });

  it('knows the checksum of the released 001_init.sql', (ctx) => {
    oldRelease(ctx);
    const db = new Database(join(tmp, 'upgrade', 'minotaur.db'), { readonly: true });
    try {
      const row = db
        .prepare(`select checksum from schema_migrations where name = '001_init.sql'`)
        .get() as { checksum: string };
      expect(row.checksum).toBe(LEGACY_MIGRATIONS['001_init.sql']!.checksum);
    } finally {
      db.close();
    }
  });
});
