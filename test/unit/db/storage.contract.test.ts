// The storage contract: every method of every part (accounts, sessions, results, snapshots),
// the same tests run against SQLite and against a real PostgreSQL server. Several handles on
// one database stand for several nodes of a cluster.

import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session, { type SessionData } from 'express-session';
import fc from 'fast-check';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseSessionStore } from '../../../src/db/session-store.js';
import { usernameKey } from '../../../src/db/accounts.js';
import { LEADERBOARD_MS, ResultsError, type GameResult } from '../../../src/db/results.js';
import { SnapshotError, type Snapshot, type SnapshotVersion } from '../../../src/db/snapshots.js';
import type { Storage, StorageOptions, StorageTarget } from '../../../src/db/storage.js';
import type { GameState } from '../../../src/game/types.js';
import { compareVersion } from '../../../src/replication/record.js';
import { waitFor } from '../../support/node-process.js';
import { ENGINES, engineFixture } from './helpers.js';
import { startNodes, type StorageNode } from './storage-nodes.js';

import { MIGRATIONS_DIR, readMigrations } from '../../../src/db/migrate.js';

/** Every migration this release ships, in order. */
const RELEASED = readMigrations(MIGRATIONS_DIR).map((m) => m.name);

const HOUR = 60 * 60 * 1000;
const T0 = 1_700_000_000_000;

/** The snapshot layer treats state as opaque JSON; a marker is enough to tell versions apart. */
function snap(
  epoch: number,
  owner: string,
  seq: number,
  overrides: Partial<Snapshot> = {},
): Snapshot {
  return {
    code: 'KEPS',
    gameId: 'game-1',
    owner,
    epoch,
    seq,
    schema: 1,
    state: {
      id: 'game-1',
      code: 'KEPS',
      round: seq,
      marker: `${epoch}/${owner}/${seq}`,
    } as unknown as GameState,
    ...overrides,
  };
}

function sessionData(expires: number | null, extra: Record<string, unknown> = {}): SessionData {
  // Plain data, as a store holds it (express-session makes the Cookie when it reads it back).
  const stored: Record<string, unknown> = {
    cookie: {
      originalMaxAge: expires === null ? null : HOUR,
      expires: expires === null ? undefined : new Date(expires),
    },
    ...extra,
  };
  return stored as unknown as SessionData;
}

/** The store's callbacks as promises. */
function api(store: DatabaseSessionStore) {
  return {
    get: (sid: string) =>
      new Promise<SessionData | null | undefined>((res, rej) =>
        store.get(sid, (e, s) => (e ? rej(e) : res(s))),
      ),
    set: (sid: string, s: SessionData) =>
      new Promise<void>((res, rej) => store.set(sid, s, (e) => (e ? rej(e) : res()))),
    destroy: (sid: string) =>
      new Promise<void>((res, rej) => store.destroy(sid, (e) => (e ? rej(e) : res()))),
    touch: (sid: string, s: SessionData) =>
      new Promise<void>((res) => store.touch(sid, s, () => res())),
    clear: () => new Promise<void>((res, rej) => store.clear((e) => (e ? rej(e) : res()))),
    length: () =>
      new Promise<number | undefined>((res, rej) => store.length((e, n) => (e ? rej(e) : res(n)))),
    all: () =>
      new Promise<Record<string, SessionData>>((res, rej) =>
        store.all((e, all) => (e ? rej(e) : res(all ?? {}))),
      ),
  };
}

describe.each(ENGINES)('storage on %s', (engine) => {
  const fx = engineFixture(engine);
  let target: StorageTarget;
  let now: number;

  /** A migrated handle on the test's database: another node, as far as the database can tell. */
  const node = (options: Partial<StorageOptions> = {}) =>
    fx.openMigrated(target, { now: () => now, ...options });

  /**
   * A fresh database migrated as the release before `migration` left it (with a handle on it),
   * and the folder of those migrations, for the caller to remove.
   */
  async function releasedBefore(migration: string) {
    const dir = mkdtempSync(join(tmpdir(), 'minotaur-migrations-'));
    for (const m of readMigrations(MIGRATIONS_DIR).filter((x) => x.name < migration))
      writeFileSync(
        join(dir, `${m.name}.mjs`),
        `export { up } from ${JSON.stringify(pathToFileURL(m.path).href)};\n`,
      );
    const fresh = await fx.fresh();
    const before = await fx.open(fresh, { migrationsDir: dir });
    expect(await before.migrate()).not.toContain(migration);
    return { dir, fresh, before };
  }

  beforeAll(() => fx.setup());
  afterAll(() => fx.teardown());
  beforeEach(async () => {
    target = await fx.fresh();
    now = T0;
  });
  afterEach(() => fx.closeAll());

  describe('migrations', () => {
    it('creates every table on a fresh database and is a no-op the second time', async () => {
      const s = await fx.open(target);
      expect(await s.migrate()).toEqual(RELEASED);
      expect(await s.migrate()).toEqual([]);
      expect(await (await fx.open(target)).migrate()).toEqual([]);
    });
  });

  describe('accounts', () => {
    it('creates an account and finds it by username and by id', async () => {
      const { accounts } = await node();
      const created = await accounts.create('Ariadne', 'scrypt$hash');
      if (!created.ok) throw new Error(created.message);
      expect(created.account).toEqual({
        id: expect.stringMatching(/^\d+$/),
        username: 'Ariadne',
        passwordHash: 'scrypt$hash',
        isAdmin: false,
        createdAt: T0,
      });
      expect(await accounts.findByUsername('Ariadne')).toEqual(created.account);
      expect(await accounts.findById(created.account.id)).toEqual(created.account);
      expect(await accounts.findById(Number(created.account.id))).toEqual(created.account);
    });

    it('treats usernames case-insensitively: lookup and uniqueness', async () => {
      const { accounts } = await node();
      expect((await accounts.create('Theseus', 'h1')).ok).toBe(true);
      expect((await accounts.findByUsername('theseus'))?.username).toBe('Theseus');
      expect((await accounts.findByUsername('THESEUS'))?.username).toBe('Theseus');
      expect(await accounts.create('THESEUS', 'h2')).toEqual({
        ok: false,
        code: 'taken',
        message: 'The username THESEUS is already taken.',
      });
      expect(await accounts.findByUsername('theseu')).toBeNull();
    });

    it('returns null for unknown or malformed ids and names', async () => {
      const { accounts } = await node();
      expect(await accounts.findByUsername('nobody')).toBeNull();
      expect(await accounts.findById('42')).toBeNull();
      expect(await accounts.findById('abc')).toBeNull();
      expect(await accounts.findById('-1')).toBeNull();
      expect(await accounts.findById('99999999999999999999')).toBeNull();
    });

    it('sets and clears the admin flag', async () => {
      const { accounts } = await node();
      const created = await accounts.create('daedalus', 'h');
      if (!created.ok) throw new Error(created.message);
      expect(await accounts.setAdmin(created.account.id, true)).toBe(true);
      expect((await accounts.findById(created.account.id))?.isAdmin).toBe(true);
      expect(await accounts.setAdmin(created.account.id, false)).toBe(true);
      expect((await accounts.findById(created.account.id))?.isAdmin).toBe(false);
      expect(await accounts.setAdmin('999', true)).toBe(false);
      expect(await accounts.setAdmin('x', true)).toBe(false);
    });

    it('treats padded, full-width and compatibility forms of a name as that name', async () => {
      const { accounts } = await node();
      const created = await accounts.create('alice', 'h');
      if (!created.ok) throw new Error(created.message);
      for (const form of [
        ' alice',
        'alice\u00a0',
        '\u3000alice',
        'ALICE\t',
        'ａｌｉｃｅ',
        'Ａlice',
      ]) {
        expect((await accounts.findByUsername(form))?.id, JSON.stringify(form)).toBe(
          created.account.id,
        );
        expect(await accounts.create(form, 'h2'), JSON.stringify(form)).toMatchObject({
          ok: false,
        });
      }
      expect(await accounts.create('ALICE', 'h2')).toMatchObject({ ok: false, code: 'taken' });
      expect(await accounts.findByUsername('alice\u200b')).toBeNull();
    });

    it('stores only names already in their normal form (the web layer refuses the others first)', async () => {
      const { accounts } = await node();
      for (const name of [' bob', 'bob\u00a0', 'ｂｏｂ', 'bøb', '']) {
        expect(await accounts.create(name, 'h'), JSON.stringify(name)).toMatchObject({
          ok: false,
          code: 'invalid',
        });
      }
      expect((await accounts.create('Bob', 'h')).ok).toBe(true);
    });

    it('lists the accounts holding operator rights', async () => {
      const { accounts } = await node();
      const a = await accounts.create('zeus', 'h');
      const b = await accounts.create('Athena', 'h');
      await accounts.create('hermes', 'h');
      if (!a.ok || !b.ok) throw new Error('create failed');
      expect(await accounts.listOperators()).toEqual([]);
      await accounts.setAdmin(a.account.id, true);
      await accounts.setAdmin(b.account.id, true);
      expect((await accounts.listOperators()).map((x) => x.username).sort()).toEqual([
        'Athena',
        'zeus',
      ]);
    });

    it('replaces a password hash', async () => {
      const { accounts } = await node();
      const created = await accounts.create('icarus', 'old');
      if (!created.ok) throw new Error(created.message);
      expect(await accounts.setPasswordHash(created.account.id, 'new')).toBe(true);
      expect((await accounts.findByUsername('icarus'))?.passwordHash).toBe('new');
      expect(await accounts.setPasswordHash('999', 'new')).toBe(false);
    });

    it('replaces a password hash only while it is still the one expected (compare-and-set)', async () => {
      const { accounts } = await node();
      const created = await accounts.create('daedalus', 'h1');
      if (!created.ok) throw new Error(created.message);
      const id = created.account.id;
      // A password change wins; a rehash at login that verified the old hash then replaces nothing.
      expect(await accounts.setPasswordHash(id, 'h2', 'h1')).toBe(true);
      expect(await accounts.setPasswordHash(id, 'h1-rehashed', 'h1')).toBe(false);
      expect((await accounts.findById(id))?.passwordHash).toBe('h2');
    });
  });

  describe('sessions', () => {
    const store = async (
      options: { ttlMs?: number; tombstoneMs?: number; now?: () => number } = {},
    ) => {
      const s = await fx.openMigrated(target, {
        now: options.now ?? (() => now),
        sessions: { pruneIntervalMs: 0, ...options },
      });
      return s.sessions;
    };

    it('stores, reads and destroys a session', async () => {
      const s = api(await store());
      await s.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
      expect(await s.get('sid-1')).toMatchObject({
        accountId: '7',
        cookie: { expires: new Date(now + HOUR).toISOString() },
      });
      await s.destroy('sid-1');
      expect(await s.get('sid-1')).toBeNull();
      expect(await s.get('never-existed')).toBeNull();
    });

    it('does not return a session once its cookie expired, and prunes it', async () => {
      const st = await store();
      const s = api(st);
      await s.set('sid-1', sessionData(now + HOUR));
      now += HOUR - 1;
      expect(await s.get('sid-1')).not.toBeNull();
      now += 1;
      expect(await s.get('sid-1')).toBeNull();
      expect(await s.length()).toBe(0);
      expect(await st.prune()).toBe(1);
    });

    it('gives a browser-session cookie the configured lifetime', async () => {
      const s = api(await store({ ttlMs: 1000 }));
      await s.set('sid-1', sessionData(null));
      now += 999;
      expect(await s.get('sid-1')).not.toBeNull();
      now += 1;
      expect(await s.get('sid-1')).toBeNull();
    });

    it('touch extends the expiry without rewriting the data', async () => {
      const a = api(await store());
      const b = api(await store());
      await a.set('sid-1', sessionData(now + HOUR, { v: 1 }));
      await b.set('sid-1', sessionData(now + HOUR, { v: 2 }));
      await a.touch('sid-1', sessionData(now + 3 * HOUR, { v: 1 }));
      now += 2 * HOUR;
      expect(await a.get('sid-1')).toMatchObject({ v: 2 });
    });

    it('shares sessions between nodes, and survives a restart', async () => {
      const a = api(await store());
      const b = api(await store());
      await a.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
      expect(await b.get('sid-1')).toMatchObject({ accountId: '7' });
      await fx.closeAll();
      const restarted = api(await store());
      expect(await restarted.get('sid-1')).toMatchObject({ accountId: '7' });
      await restarted.destroy('sid-1');
      expect(await api(await store()).get('sid-1')).toBeNull();
    });

    it('keeps a destroyed session ended when another node saves it late or touches it', async () => {
      const a = api(await store());
      const b = api(await store());
      await a.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
      await a.destroy('sid-1');
      // b loaded the session before the logout and saves it at the end of its request.
      await b.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
      await b.touch('sid-1', sessionData(now + 2 * HOUR));
      expect(await a.get('sid-1')).toBeNull();
      expect(await b.get('sid-1')).toBeNull();
      expect(await a.length()).toBe(0);
    });

    it('keeps the tombstone until both the session and the grace period are over', async () => {
      const st = await store({ tombstoneMs: 1000 });
      const s = api(st);
      await s.set('sid-1', sessionData(now + 500));
      await s.destroy('sid-1');
      now += 999;
      expect(await st.prune()).toBe(0);
      now += 1;
      expect(await st.prune()).toBe(1);

      // A session living longer than the grace period keeps its tombstone as long as itself.
      await s.set('sid-2', sessionData(now + HOUR));
      await s.destroy('sid-2');
      now += HOUR - 1;
      expect(await st.prune()).toBe(0);
      await s.set('sid-2', sessionData(now + HOUR, { back: true }));
      expect(await s.get('sid-2')).toBeNull();
      now += 1;
      expect(await st.prune()).toBe(1);
    });

    it('counts, lists and clears live sessions', async () => {
      const s = api(await store());
      await s.set('a', sessionData(now + HOUR, { n: 1 }));
      await s.set('b', sessionData(now + HOUR, { n: 2 }));
      await s.set('c', sessionData(now + 1));
      await s.destroy('b');
      now += 1;
      expect(await s.length()).toBe(1);
      expect(Object.keys(await s.all())).toEqual(['a']);
      await s.clear();
      expect(await s.length()).toBe(0);
    });

    it("ends every other session of one account, on every node, and no one else's", async () => {
      const a = api(await store());
      const st = await store();
      const b = api(st);
      await a.set('mine', sessionData(now + HOUR, { userId: '12' }));
      await a.set('phone', sessionData(now + HOUR, { userId: '12', flash: { message: 'hi' } }));
      await b.set('laptop', sessionData(null, { userId: '12' }));
      await b.set('other', sessionData(now + HOUR, { userId: '123' }));
      await b.set('quoted', sessionData(now + HOUR, { note: '"userId":"12"', userId: '7' }));
      await b.set('visitor', sessionData(now + HOUR));
      expect(await b.get('phone')).not.toBeNull();
      expect(await st.endSessionsOf('12', 'mine')).toBe(2);
      for (const sid of ['phone', 'laptop']) {
        expect(await a.get(sid)).toBeNull();
        expect(await b.get(sid)).toBeNull();
      }
      for (const sid of ['mine', 'other', 'quoted', 'visitor'])
        expect(await a.get(sid), sid).not.toBeNull();
      // A save in flight from an ended session (loaded before the change) brings nothing back.
      await a.set('phone', sessionData(now + HOUR, { userId: '12' }));
      expect(await b.get('phone')).toBeNull();
      expect(await st.endSessionsOf('12', 'mine')).toBe(0);
      expect(await st.endSessionsOf('not-an-id')).toBe(0);
    });

    it("keeps each session's account in a column, and still finds sessions saved without it", async () => {
      const storage = await fx.openMigrated(target, {
        now: () => now,
        sessions: { pruneIntervalMs: 0 },
      });
      const s = api(storage.sessions);
      await s.set('laptop', sessionData(now + HOUR, { userId: '12' }));
      await s.set('visitor', sessionData(now + HOUR));
      await s.set('other', sessionData(now + HOUR, { userId: '123' }));
      const accounts = async () =>
        Object.fromEntries(
          (
            await sql<{ sid: string; user_id: string | null }>`
              SELECT sid, user_id FROM sessions ORDER BY sid`.execute(kysely(storage))
          ).rows.map((r) => [r.sid, r.user_id]),
        );
      expect(await accounts()).toEqual({ laptop: '12', visitor: '', other: '123' });
      // Saved by a release before the column (or an older node during an update): no account in
      // the column, only in the data.
      const old = JSON.stringify(sessionData(now + HOUR, { userId: '12' })).replaceAll("'", "''");
      for (const sid of ['old-phone', 'old-tablet'])
        await rawExec(
          storage,
          target,
          `INSERT INTO sessions (sid, sess, expires) VALUES ('${sid}', '${old}', ${now + HOUR})`,
        );
      expect((await accounts())['old-phone']).toBeNull();
      // A request on one of them moves its expiry, and fills in its account.
      await s.touch('old-phone', sessionData(now + 2 * HOUR, { userId: '12' }));
      expect((await accounts())['old-phone']).toBe('12');
      // A save that changes the account (a visitor's session was made a login's) moves it too.
      await s.set('visitor', sessionData(now + HOUR, { userId: '12' }));
      expect((await accounts())['visitor']).toBe('12');
      expect(await storage.sessions.endSessionsOf('12', 'laptop')).toBe(3);
      expect(await s.get('old-phone')).toBeNull();
      expect(await s.get('old-tablet')).toBeNull();
      expect(await s.get('visitor')).toBeNull();
      expect(await s.get('laptop')).not.toBeNull();
      expect(await s.get('other')).not.toBeNull();
      if (engine === 'sqlite') {
        // The account's rows are read through the index, not by reading every session.
        const plan = await sql<{ detail: string }>`
          EXPLAIN QUERY PLAN SELECT sid, sess FROM sessions
          WHERE ended_at IS NULL AND expires > ${now} AND user_id = ${'12'}`.execute(
          kysely(storage),
        );
        expect(plan.rows.map((r) => r.detail).join(' | ')).toContain('sessions_user_id');
      }
    });

    it('says which of many sessions are live: not ended, not expired, not unknown', async () => {
      const st = await store();
      const s = api(st);
      const sids = Array.from({ length: 1203 }, (_, i) => `sid-${i}`);
      for (const sid of sids) await s.set(sid, sessionData(now + (sid === 'sid-7' ? 1 : HOUR)));
      await s.destroy('sid-3');
      await s.destroy('sid-1202');
      now += 1;
      const live = await st.liveOf([...sids, 'never-existed']);
      expect(live.size).toBe(1200);
      for (const gone of ['sid-3', 'sid-7', 'sid-1202', 'never-existed'])
        expect(live.has(gone), gone).toBe(false);
      expect(live.has('sid-1201')).toBe(true);
      expect((await st.liveOf([])).size).toBe(0);
    });

    it('treats unreadable session data as no session', async () => {
      const storage = await node();
      const s = api(storage.sessions);
      await s.set('sid-1', sessionData(now + HOUR));
      await rawExec(storage, target, `UPDATE sessions SET sess = '{broken' WHERE sid = 'sid-1'`);
      expect(await s.get('sid-1')).toBeNull();
      expect(await s.all()).toEqual({});
    });

    it('prunes on a timer that stop() clears', async () => {
      const reader = await node();
      const storage = await fx.openMigrated(target, {
        now: () => now,
        sessions: { pruneIntervalMs: 10 },
      });
      const s = api(storage.sessions);
      await s.set('old', sessionData(now - 1));
      const count = async () =>
        Number(
          (
            await sql<{ n: number | string }>`select count(*) as n from sessions`.execute(
              kysely(reader),
            )
          ).rows[0]!.n,
        );
      const deadline = Date.now() + 5000;
      while ((await count()) > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(await count()).toBe(0);
      storage.sessions.stop();
    });

    it('sweeps expired rows soon after start, not only after the first interval (nodes are replaced often)', async () => {
      const reader = await node();
      const s = api(reader.sessions);
      await s.set('old', sessionData(now + 1000));
      now += 2000;
      const count = async () =>
        Number(
          (
            await sql<{ n: number | string }>`select count(*) as n from sessions`.execute(
              kysely(reader),
            )
          ).rows[0]!.n,
        );
      expect(await count()).toBe(1);
      const storage = await fx.openMigrated(target, {
        now: () => now,
        sessions: { pruneIntervalMs: 10 * 60 * 1000, firstPruneMs: 20 },
      });
      const deadline = Date.now() + 5000;
      while ((await count()) > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(await count()).toBe(0);
      storage.sessions.stop();
    });

    it('keeps a login across two Express apps, and a logout on one ends it on both', async () => {
      const nodeA = await startApp(await store({ now: Date.now }));
      const nodeB = await startApp(await store({ now: Date.now }));
      try {
        const login = await fetch(`${nodeA.url}/login`, { method: 'POST' });
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        expect(await (await fetch(`${nodeB.url}/me`, { headers: { cookie } })).text()).toBe('7');
        await fetch(`${nodeB.url}/logout`, { method: 'POST', headers: { cookie } });
        expect(await (await fetch(`${nodeA.url}/me`, { headers: { cookie } })).text()).toBe(
          'anonymous',
        );
      } finally {
        await nodeA.close();
        await nodeB.close();
      }
    });
  });

  describe('results', () => {
    let ids: Record<string, string>;
    let storage: Storage;

    beforeEach(async () => {
      storage = await node();
      ids = {};
      for (const name of ['ariadne', 'theseus', 'minos', 'icarus']) {
        const created = await storage.accounts.create(name, 'h');
        if (!created.ok) throw new Error(created.message);
        ids[name] = created.account.id;
      }
    });

    function game(
      gameId: string,
      players: string[],
      winner: string | null,
      finishedAt = 1000,
    ): GameResult {
      return {
        gameId,
        code: 'KEPS',
        finishedAt,
        rounds: 7,
        winnerId: winner ? ids[winner]! : null,
        players: players.map((p) => ({
          accountId: ids[p]!,
          won: p === winner,
          eliminatedRound: p === winner ? null : 1,
        })),
      };
    }

    it('records a game once, however many times or nodes report it', async () => {
      const { results } = storage;
      const other = (await node()).results;
      expect(await results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(true);
      expect(await results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(false);
      expect(await other.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(false);
      expect(await results.recordFor(ids.ariadne!)).toEqual({ played: 1, won: 1 });
      expect(await results.recordFor(ids.theseus!)).toEqual({ played: 1, won: 0 });
      expect(await results.recordFor(ids.icarus!)).toEqual({ played: 0, won: 0 });
      expect(await results.recordFor('nope')).toEqual({ played: 0, won: 0 });
    });

    it('records a game nobody won', async () => {
      expect(await storage.results.record(game('g1', ['ariadne', 'theseus'], null))).toBe(true);
      expect(await storage.results.recordFor(ids.ariadne!)).toEqual({ played: 1, won: 0 });
      expect(await storage.results.recentFor(ids.ariadne!)).toMatchObject([
        { gameId: 'g1', won: false, winnerUsername: null },
      ]);
    });

    /** The names on the leaderboard's first page of 100. */
    const names = async (results: Storage['results']) =>
      (await results.leaderboardPage(1, 100)).rows.map((r) => r.username);

    it('orders the leaderboard by wins, then by fewer games played, then by name', async () => {
      const { results } = storage;
      await results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'));
      await results.record(game('g2', ['ariadne', 'theseus', 'minos'], 'theseus'));
      await results.record(game('g3', ['theseus', 'minos'], 'theseus'));
      await results.record(game('g4', ['ariadne', 'minos'], 'minos'));
      expect(await results.leaderboardPage(1, 20)).toEqual({
        rows: [
          {
            accountId: ids.theseus,
            username: 'theseus',
            played: 3,
            won: 2,
            winRate: 2 / 3,
            place: 1,
          },
          {
            accountId: ids.ariadne,
            username: 'ariadne',
            played: 3,
            won: 1,
            winRate: 1 / 3,
            place: 2,
          },
          { accountId: ids.minos, username: 'minos', played: 3, won: 1, winRate: 1 / 3, place: 3 },
        ],
        page: 1,
        pages: 1,
        total: 3,
      });
      // Each hero's standing is their place in that order.
      expect(await results.standingOf(ids.ariadne!)).toMatchObject({ place: 2, of: 3 });
      expect(await results.standingOf(ids.minos!)).toMatchObject({ place: 3, of: 3 });
      expect(await results.standingOf(ids.icarus!)).toBeNull();
      expect(await results.standingOf('nope')).toBeNull();
      await results.record(game('g5', ['icarus', 'minos'], 'icarus'));
      const board = await names(results);
      expect(board).toEqual(['theseus', 'icarus', 'ariadne', 'minos']);
      // Pages of two: past the last, the last; before the first, the first.
      for (const [asked, page, places] of [
        [1, 1, [1, 2]],
        [2, 2, [3, 4]],
        [9, 2, [3, 4]],
        [0, 1, [1, 2]],
      ] as const) {
        const got = await results.leaderboardPage(asked, 2);
        expect([got.page, got.pages, got.total], `page ${asked}`).toEqual([page, 2, 4]);
        expect(got.rows.map((r) => [r.place, r.username])).toEqual(
          places.map((p) => [p, board[p - 1]]),
        );
        for (const r of got.rows)
          expect(await results.standingOf(r.accountId)).toEqual({ ...r, of: 4 });
      }
    });

    it('shows a game recorded on this node at once, and one recorded on another within LEADERBOARD_MS', async () => {
      let now = 1_000_000;
      const here = await node({ now: () => now });
      const there = await node({ now: () => now });
      expect(await names(here.results)).toEqual([]);
      expect(await here.results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(true);
      expect(await names(here.results)).toEqual(['ariadne', 'theseus']);
      // Recorded by another node: this one answers the page from its last read until it is
      // due again; a hero's own standing is read each time.
      expect(await there.results.record(game('g2', ['minos', 'icarus'], 'minos'))).toBe(true);
      expect(await here.results.standingOf(ids.minos!)).toMatchObject({ place: 2, of: 4, won: 1 });
      now += LEADERBOARD_MS - 1;
      expect(await names(here.results)).toHaveLength(2);
      now += 1;
      expect(await names(here.results)).toEqual(['ariadne', 'minos', 'icarus', 'theseus']);
    });

    it("lists a hero's recent games newest first from the index of their games by time, whichever release wrote them", async () => {
      const { results } = storage;
      for (const [id, at] of [
        ['g1', 3000],
        ['g2', 1000],
        ['g4', 5000],
      ] as const)
        await results.record(game(id, ['ariadne', 'theseus'], 'ariadne', at));
      // A release before the finish time on players' rows writes them without it: the database
      // fills it in from the result.
      for (const [id, at] of [
        ['old3', 4000],
        ['old0', 500],
      ] as const) {
        await rawExec(
          storage,
          target,
          `insert into results (game_id, code, finished_at, rounds, winner_account_id) values ('${id}', 'KEPS', ${at}, 5, ${ids.theseus})`,
        );
        await rawExec(
          storage,
          target,
          `insert into result_players (game_id, account_id, won, eliminated_round, dealt) values ('${id}', ${ids.theseus}, 1, null, 1), ('${id}', ${ids.ariadne}, 0, 2, 0)`,
        );
      }
      // Ties on the time go by game id.
      await results.record(game('g3', ['ariadne', 'minos'], 'minos', 3000));
      const order = ['g4', 'old3', 'g1', 'g3', 'g2', 'old0'];
      expect((await results.recentFor(ids.ariadne!)).map((r) => r.gameId)).toEqual(order);
      expect((await results.recentFor(ids.ariadne!, 3)).map((r) => r.gameId)).toEqual(
        order.slice(0, 3),
      );
      expect((await results.recentFor(ids.theseus!)).map((r) => [r.gameId, r.won])).toEqual([
        ['g4', false],
        ['old3', true],
        ['g1', false],
        ['g2', false],
        ['old0', true],
      ]);
      const rows = await sql<{ game_id: string; finished_at: number | string | null }>`
        select game_id, finished_at from result_players where account_id = ${Number(ids.ariadne)}
        order by game_id`.execute(kysely(storage));
      expect(rows.rows.map((r) => [r.game_id, Number(r.finished_at)])).toEqual([
        ['g1', 3000],
        ['g2', 1000],
        ['g3', 3000],
        ['g4', 5000],
        ['old0', 500],
        ['old3', 4000],
      ]);
      if (engine === 'sqlite') {
        // The first rows of the index, not every game of the hero sorted.
        const plan = await sql<{ detail: string }>`explain query plan
          select rp.game_id from result_players rp join results r on r.game_id = rp.game_id
          where rp.account_id = 1 order by rp.finished_at desc, rp.game_id limit 10`.execute(
          kysely(storage),
        );
        const steps = plan.rows.map((r) => r.detail).join('; ');
        expect(steps).toContain('result_players_recent');
        expect(steps).not.toContain('TEMP B-TREE');
      }
    });

    it('keeps the standings true to every result row, whoever writes or removes it', async () => {
      const { results } = storage;
      await results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'));
      // A release before the standings table writes the rows alone; the database counts them.
      await rawExec(
        storage,
        target,
        `insert into results (game_id, code, finished_at, rounds, winner_account_id) values ('old1', 'KEPS', 2000, 5, ${ids.minos})`,
      );
      await rawExec(
        storage,
        target,
        `insert into result_players (game_id, account_id, won, eliminated_round, dealt) values ('old1', ${ids.minos}, 1, null, 5), ('old1', ${ids.ariadne}, 0, 2, 3)`,
      );
      now += LEADERBOARD_MS;
      expect(await results.standingOf(ids.minos!)).toMatchObject({ played: 1, won: 1, of: 3 });
      expect(await results.standingOf(ids.ariadne!)).toMatchObject({ played: 2, won: 1 });
      expect(await results.recordFor(ids.minos!)).toEqual({ played: 1, won: 1 });
      expect(await results.dealtBy(ids.minos!)).toBe(5);
      // One win in one game goes before one win in two.
      expect(await names(results)).toEqual(['minos', 'ariadne', 'theseus']);
      // An operator removes a game: its players' totals go back, and a hero left with no
      // game leaves the board.
      await rawExec(storage, target, `delete from results where game_id = 'g1'`);
      now += LEADERBOARD_MS;
      expect(await results.standingOf(ids.theseus!)).toBeNull();
      expect(await results.standingOf(ids.ariadne!)).toMatchObject({ played: 1, won: 0 });
      expect(await results.recordFor(ids.theseus!)).toEqual({ played: 0, won: 0 });
      expect(await results.dealtBy(ids.ariadne!)).toBe(3);
      expect(await names(results)).toEqual(['minos', 'ariadne']);
      expect((await results.leaderboardPage(1, 20)).total).toBe(2);
    });

    it.runIf(engine === 'postgres')(
      'writes a result again when PostgreSQL gives its transaction up in a deadlock',
      async () => {
        const { results } = storage;
        await results.record(game('g0', ['ariadne', 'theseus'], 'ariadne'));
        // The result writes its players' standings in account order: first, then second.
        const [first, second] = [ids.ariadne!, ids.theseus!].sort((a, b) => Number(a) - Number(b));
        // As the superuser, who alone may lengthen its own deadlock check.
        const database = new URL((target as { url: string }).url).pathname.slice(1);
        const other = new pg.Client({ connectionString: fx.server()!.url(database) });
        await other.connect();
        try {
          // Another writer (a release before this one, say) holds the second and, once the
          // result waits for it, asks for the first. Its deadlock check waits longer, so the
          // result's transaction is the one PostgreSQL gives up.
          await other.query('begin');
          await other.query(`set local deadlock_timeout = '20s'`);
          await other.query('update standings set played = played where account_id = $1', [second]);
          const recording = results.record(game('g1', ['ariadne', 'theseus'], 'theseus'));
          await waitFor(
            async () =>
              Number(
                (
                  await other.query<{ n: string }>(
                    'select count(*) as n from pg_locks where not granted',
                  )
                ).rows[0]?.n,
              ) > 0,
            10_000,
            'the result to wait for the standing held',
          );
          await other.query('update standings set played = played where account_id = $1', [first]);
          await other.query('commit');
          expect(await recording).toBe(true);
          expect(await results.standingOf(ids.theseus!)).toMatchObject({ played: 2, won: 1 });
          expect(await results.standingOf(ids.ariadne!)).toMatchObject({ played: 2, won: 1 });
        } finally {
          await other.end();
        }
      },
    );

    it("fills in the finish time of the games recorded before it was on players' rows", async () => {
      const { dir, fresh, before } = await releasedBefore('008_recent_games');
      try {
        const made: Record<string, string> = {};
        for (const name of ['ariadne', 'theseus']) {
          const c = await before.accounts.create(name, 'h');
          if (!c.ok) throw new Error(c.message);
          made[name] = c.account.id;
        }
        for (const [id, at] of [
          ['g1', 2000],
          ['g2', 9000],
          ['g3', 4000],
        ] as const) {
          await rawExec(
            before,
            fresh,
            `insert into results (game_id, code, finished_at, rounds, winner_account_id) values ('${id}', 'KEPS', ${at}, 5, null)`,
          );
          await rawExec(
            before,
            fresh,
            `insert into result_players (game_id, account_id, won, eliminated_round) values ('${id}', ${made.ariadne}, 0, 1), ('${id}', ${made.theseus}, 0, 2)`,
          );
        }
        const after = await fx.open(fresh);
        expect(await after.migrate()).toEqual(['008_recent_games']);
        expect((await after.results.recentFor(made.theseus!)).map((r) => r.gameId)).toEqual([
          'g2',
          'g3',
          'g1',
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('fills the standings from the games recorded before they were kept', async () => {
      // A database as the release before the standings left it, with games in it.
      const { dir, fresh, before } = await releasedBefore('006_standings');
      try {
        const made: Record<string, string> = {};
        for (const name of ['ariadne', 'theseus', 'minos', 'icarus']) {
          const c = await before.accounts.create(name, 'h');
          if (!c.ok) throw new Error(c.message);
          made[name] = c.account.id;
        }
        ids = made;
        // Written as that release wrote them (its rows have no finish time).
        const writeOld = async (g: GameResult) => {
          await rawExec(
            before,
            fresh,
            `insert into results (game_id, code, finished_at, rounds, winner_account_id) values ('${g.gameId}', '${g.code}', ${g.finishedAt}, ${g.rounds}, ${g.winnerId ?? 'null'})`,
          );
          await rawExec(
            before,
            fresh,
            `insert into result_players (game_id, account_id, won, eliminated_round, dealt) values ${g.players
              .map(
                (p) =>
                  `('${g.gameId}', ${p.accountId}, ${p.won ? 1 : 0}, ${p.eliminatedRound ?? 'null'}, ${p.dealt ?? 0})`,
              )
              .join(', ')}`,
          );
        };
        await writeOld(game('g1', ['ariadne', 'theseus'], 'ariadne'));
        const g2 = game('g2', ['ariadne', 'theseus', 'minos'], 'theseus');
        g2.players = g2.players.map((p, i) => ({ ...p, dealt: i + 1 }));
        await writeOld(g2);
        await writeOld(game('g3', ['theseus', 'minos'], 'theseus'));
        const after = await fx.open(fresh);
        expect((await after.migrate())[0]).toBe('006_standings');
        expect(await names(after.results)).toEqual(['theseus', 'ariadne', 'minos']);
        expect(await after.results.standingOf(ids.minos!)).toMatchObject({
          played: 2,
          won: 0,
          place: 3,
          of: 3,
        });
        expect(await after.results.dealtBy(ids.minos!)).toBe(3);
        expect(await after.results.recordFor(ids.theseus!)).toEqual({ played: 3, won: 2 });
        // And the database keeps them from then on.
        await after.results.record(game('g4', ['icarus', 'minos'], 'minos'));
        expect(await names(after.results)).toEqual(['theseus', 'ariadne', 'minos', 'icarus']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('ranks any history as its games say: wins, then fewer games, then name (property)', async () => {
      const { results } = storage;
      const heroes = ['ariadne', 'theseus', 'minos', 'icarus'];
      for (let i = 0; i < 8; i++) {
        const made = await storage.accounts.create(`h${i}`, 'h');
        if (!made.ok) throw new Error(made.message);
        ids[`h${i}`] = made.account.id;
        heroes.push(`h${i}`);
      }
      let g = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              players: fc.uniqueArray(fc.constantFrom(...heroes), { minLength: 1, maxLength: 5 }),
              winner: fc.nat(5),
            }),
            { maxLength: 6 },
          ),
          async (games) => {
            for (const { players, winner } of games)
              await results.record(game(`p${g++}`, players, players[winner] ?? null));
            // What every game recorded so far says, in the leaderboard's order.
            const rows = await kysely(storage)
              .selectFrom('result_players' as never)
              .select(['account_id' as never, 'won' as never])
              .execute();
            const totals = new Map<string, { played: number; won: number }>();
            for (const r of rows as { account_id: number; won: number }[]) {
              const t = totals.get(String(r.account_id)) ?? { played: 0, won: 0 };
              totals.set(String(r.account_id), { played: t.played + 1, won: t.won + r.won });
            }
            const name = (id: string) => heroes.find((h) => ids[h] === id)!;
            const expected = [...totals]
              .sort(
                ([a, x], [b, y]) =>
                  y.won - x.won || x.played - y.played || (name(a) < name(b) ? -1 : 1),
              )
              .map(([id, t], i) => ({ username: name(id), ...t, place: i + 1 }));
            const page = await results.leaderboardPage(1, 100);
            expect(
              page.rows.map((r) => ({ ...r, accountId: undefined, winRate: undefined })),
            ).toEqual(expected.map((e) => ({ ...e, accountId: undefined, winRate: undefined })));
            for (const r of page.rows)
              expect(await results.standingOf(r.accountId)).toEqual({ ...r, of: expected.length });
          },
        ),
        { numRuns: 15 },
      );
    });

    it("places a hero by the leaderboard's order among many, ties on wins and games by name", async () => {
      const { results } = storage;
      // 30 more heroes: hero00..hero29, with wins and games that tie in groups.
      for (let i = 0; i < 30; i++) {
        const made = await storage.accounts.create(`hero${String(i).padStart(2, '0')}`, 'h');
        if (!made.ok) throw new Error(made.message);
        ids[`hero${i}`] = made.account.id;
      }
      let g = 0;
      for (let i = 0; i < 30; i++) {
        const wins = i % 4;
        const games = wins + (i % 3);
        for (let k = 0; k < Math.max(games, 1); k++) {
          const players = [`hero${i}`, 'icarus'];
          await results.record(game(`m${g++}`, players, k < wins ? `hero${i}` : 'icarus'));
        }
      }
      const { rows } = await results.leaderboardPage(1, 100);
      expect(rows.map((r) => r.place)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      for (const r of rows) expect(await results.standingOf(r.accountId)).toEqual({ ...r, of: 31 });
    });

    it("lists a player's recent games, newest first", async () => {
      const { results } = storage;
      await results.record(game('g1', ['ariadne', 'theseus'], 'ariadne', 1000));
      await results.record(game('g2', ['ariadne', 'minos'], 'minos', 2000));
      expect(await results.recentFor(ids.ariadne!)).toEqual([
        {
          gameId: 'g2',
          code: 'KEPS',
          finishedAt: 2000,
          rounds: 7,
          won: false,
          eliminatedRound: 1,
          dealt: 0,
          winnerUsername: 'minos',
          opponents: ['minos'],
        },
        {
          gameId: 'g1',
          code: 'KEPS',
          finishedAt: 1000,
          rounds: 7,
          won: true,
          eliminatedRound: null,
          dealt: 0,
          winnerUsername: 'ariadne',
          opponents: ['theseus'],
        },
      ]);
      expect(await results.recentFor(ids.ariadne!, 1)).toHaveLength(1);
      expect(await results.recentFor('nope')).toEqual([]);
    });

    it('keeps the final state of a game, found by code (latest game of that code) or by id', async () => {
      const { results } = storage;
      expect(await results.finalByCode('KEPS')).toBeNull();
      await results.record({
        ...game('g1', ['ariadne', 'theseus'], 'ariadne', 1000),
        final: { schema: 3, state: { round: 7, who: 'first' } },
      });
      await results.record({
        ...game('g2', ['minos', 'icarus'], 'minos', 2000),
        final: { schema: 3, state: { round: 9, who: 'second' } },
      });
      await results.record(game('g3', ['minos', 'icarus'], 'minos', 3000)); // recorded without its state
      expect(await results.finalByCode('KEPS')).toEqual({
        gameId: 'g2',
        code: 'KEPS',
        finishedAt: 2000,
        schema: 3,
        state: { round: 9, who: 'second' },
      });
      expect((await results.finalById('g1'))?.state).toEqual({ round: 7, who: 'first' });
      expect(await results.finalById('g3')).toBeNull();
      expect(await results.finalByCode('NOPE')).toBeNull();
    });

    it("drops old games' final boards in batches, keeping their results and a summary of each", async () => {
      const { results } = storage;
      const DAY = 24 * HOUR;
      // 1,203 old games (several batches), two recent ones, one old one without a board.
      const old = 1_203;
      for (let i = 0; i < old; i++)
        await results.record({
          ...game(
            `old${i}`,
            ['ariadne', 'theseus'],
            i % 3 ? 'ariadne' : 'theseus',
            T0 - 100 * DAY + i,
          ),
          final: { schema: 3, state: { i } },
        });
      await results.record(game('bare', ['minos', 'icarus'], null, T0 - 200 * DAY));
      for (const [id, at] of [
        ['new1', T0 - 89 * DAY],
        ['new2', T0 - HOUR],
      ] as const)
        await results.record({
          ...game(id, ['minos', 'icarus'], 'minos', at),
          final: { schema: 3, state: { id } },
        });
      const before = await results.recordFor(ids.ariadne!);
      const place = await results.standingOf(ids.theseus!);

      // Each batch reads the index of the boards still kept, not every game ever finished
      // (PostgreSQL's planner reads a table this small whole).
      if (engine === 'sqlite') {
        const plan = await sql<
          Record<string, unknown>
        >`explain query plan select game_id from results where final_state is not null and finished_at < ${T0} limit 500`.execute(
          kysely(storage),
        );
        expect(JSON.stringify(plan.rows)).toContain('results_final_kept');
      }
      expect(await results.pruneFinalStates(T0 - 90 * DAY)).toBe(old);
      expect(await results.pruneFinalStates(T0 - 90 * DAY)).toBe(0);
      expect(await results.finalById('old0')).toBeNull();
      expect(await results.finalById(`old${old - 1}`)).toBeNull();
      expect((await results.finalById('new1'))?.state).toEqual({ id: 'new1' });
      expect((await results.finalByCode('KEPS'))?.gameId).toBe('new2');
      // The results stay whole.
      expect(await results.recordFor(ids.ariadne!)).toEqual(before);
      expect(await results.standingOf(ids.theseus!)).toEqual(place);
      expect(before).toEqual({ played: old, won: old - Math.ceil(old / 3) });
      // A game whose board went still has its summary: by id, or the latest of its code.
      expect(await results.summary('KEPS', 'old0')).toEqual({
        gameId: 'old0',
        code: 'KEPS',
        finishedAt: T0 - 100 * DAY,
        rounds: 7,
        boardKept: false,
        players: [
          { username: 'theseus', won: true, eliminatedRound: null, dealt: 0 },
          { username: 'ariadne', won: false, eliminatedRound: 1, dealt: 0 },
        ],
      });
      expect(await results.summary('KEPS', null)).toMatchObject({
        gameId: 'new2',
        boardKept: true,
      });
      expect(await results.summary('ZORB', 'old0')).toBeNull();
      expect(await results.summary('KEPS', 'nope')).toBeNull();
      expect(await results.pruneFinalStates(T0)).toBe(2);
      expect(await results.finalByCode('KEPS')).toBeNull();
    });

    it('orders a summary: the winner, then who lasted longer, then by name', async () => {
      const g = game('g1', ['minos', 'theseus', 'icarus', 'ariadne'], 'minos');
      g.players = g.players.map((p, i) => ({ ...p, eliminatedRound: [null, 3, 5, 3][i]! }));
      await storage.results.record(g);
      expect((await storage.results.summary('KEPS', 'g1'))?.players.map((p) => p.username)).toEqual(
        ['minos', 'icarus', 'ariadne', 'theseus'],
      );
    });

    it('drops old final boards by itself, on a timer, when given how long to keep them', async () => {
      const DAY = 24 * HOUR;
      const pruned: number[] = [];
      const keeping = await node({
        finalStates: {
          keepMs: 30 * DAY,
          firstPruneMs: 10,
          pruneIntervalMs: 50,
          onPruned: (n) => pruned.push(n),
        },
      });
      for (const [id, at] of [
        ['g1', T0 - 31 * DAY],
        ['g2', T0 - 29 * DAY],
      ] as const)
        await keeping.results.record({
          ...game(id, ['ariadne', 'theseus'], 'ariadne', at),
          final: { schema: 3, state: { id } },
        });
      await waitFor(() => pruned.length > 0, 5_000, 'the first prune');
      expect(pruned).toEqual([1]);
      expect(await keeping.results.finalById('g1')).toBeNull();
      expect(await keeping.results.finalById('g2')).not.toBeNull();
    });

    it('sums the damage a player dealt, and lists opponents by name', async () => {
      const { results } = storage;
      const g = game('g1', ['theseus', 'ariadne', 'minos'], 'ariadne');
      g.players = g.players.map((p, i) => ({ ...p, dealt: i + 2 }));
      await results.record(g);
      const h = game('g2', ['ariadne', 'icarus'], null, 500);
      h.players = h.players.map((p) => ({ ...p, dealt: 1 }));
      await results.record(h);
      expect(await results.dealtBy(ids.ariadne!)).toBe(4);
      expect(await results.dealtBy(ids.theseus!)).toBe(2);
      expect(await results.dealtBy('nope')).toBe(0);
      expect(
        (await results.recentFor(ids.ariadne!)).map((r) => [r.gameId, r.dealt, r.opponents]),
      ).toEqual([
        ['g1', 3, ['minos', 'theseus']],
        ['g2', 1, ['icarus']],
      ]);
    });

    it('does not record a game nobody was left in (everyone left before it started)', async () => {
      const { results } = storage;
      expect(
        await results.record({
          gameId: 'g0',
          code: 'KEPS',
          finishedAt: 1,
          rounds: 0,
          winnerId: null,
          players: [],
        }),
      ).toBe(false);
      expect(await results.finalByCode('KEPS')).toBeNull();
    });

    it('refuses a result naming something that is not an account id, recording nothing', async () => {
      const bad = game('g1', ['ariadne'], 'ariadne');
      bad.players.push({ accountId: 'guest-1', won: false, eliminatedRound: 2 });
      await expect(storage.results.record(bad)).rejects.toThrow(ResultsError);
      expect(await storage.results.recordFor(ids.ariadne!)).toEqual({ played: 0, won: 0 });
    });

    it('records nothing of a result naming an account that does not exist', async () => {
      const bad = game('g1', ['ariadne'], 'ariadne');
      bad.players.push({ accountId: '424242', won: false, eliminatedRound: 2 });
      await expect(storage.results.record(bad)).rejects.toThrow();
      expect(await storage.results.recordFor(ids.ariadne!)).toEqual({ played: 0, won: 0 });
      expect(await storage.results.record(game('g1', ['ariadne'], 'ariadne'))).toBe(true);
    });
  });

  describe('snapshots', () => {
    it('saves, gets and lists snapshots with parsed state', async () => {
      const { snapshots } = await node();
      const s = snap(1, 'a1', 3);
      expect(await snapshots.save(s)).toBe(true);
      expect(await snapshots.all()).toEqual([{ ...s, updatedAt: T0 }]);
      expect(await snapshots.get('KEPS')).toEqual({ ...s, updatedAt: T0 });
      expect(await snapshots.get('ZORB')).toBeNull();
    });

    it('overwrites only with a newer version: epoch, then owner, then seq', async () => {
      const { snapshots } = await node();
      await snapshots.save(snap(2, 'b', 5));
      expect(await snapshots.save(snap(2, 'b', 4))).toBe(false); // older seq
      expect(await snapshots.save(snap(1, 'z', 99))).toBe(false); // older epoch
      expect(await snapshots.save(snap(2, 'a', 99))).toBe(false); // rival adopter that loses the tie
      expect(await snapshots.save(snap(2, 'b', 5))).toBe(false); // the same version again
      expect((await snapshots.get('KEPS'))!.state).toMatchObject({ marker: '2/b/5' });
      expect(await snapshots.save(snap(2, 'b', 6))).toBe(true);
      expect(await snapshots.save(snap(3, 'a', 0))).toBe(true);
      expect(await snapshots.get('KEPS')).toMatchObject({ epoch: 3, owner: 'a', seq: 0 });
    });

    it('saves many games in one statement, each by the same rule as save(), and names the ones written', async () => {
      const { snapshots } = await node();
      await snapshots.save(snap(2, 'b', 5));
      await snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
      const written = await snapshots.saveMany([
        snap(2, 'b', 4), // KEPS: older than the row, refused
        snap(1, 'a', 2, { code: 'ZORB', gameId: 'game-2' }), // newer: written
        snap(1, 'a', 0, { code: 'MAZE', gameId: 'game-3' }), // no row yet: written
      ]);
      expect([...written].sort()).toEqual(['MAZE', 'ZORB']);
      expect(await snapshots.get('KEPS')).toMatchObject({ epoch: 2, owner: 'b', seq: 5 });
      expect(await snapshots.get('ZORB')).toMatchObject({
        epoch: 1,
        owner: 'a',
        seq: 2,
        state: { marker: '1/a/2' },
      });
      expect(await snapshots.get('MAZE')).toMatchObject({ epoch: 1, owner: 'a', seq: 0 });
      expect(await snapshots.saveMany([snap(2, 'b', 5)])).toEqual(new Set()); // the same version again
      expect(await snapshots.saveMany([])).toEqual(new Set());
    });

    it('saves more games at once than fit one statement', async () => {
      const { snapshots } = await node();
      const many = Array.from({ length: 1203 }, (_, i) =>
        snap(1, 'a', i, { code: `G${i}`, gameId: `game-${i}` }),
      );
      expect((await snapshots.saveMany(many)).size).toBe(1203);
      expect(await snapshots.get('G1202')).toMatchObject({ seq: 1202 });
    });

    it('orders owners byte-wise, as JavaScript does, whatever the database collation', async () => {
      // 'B1' < 'a1' in JavaScript (and in byte order); a natural-language collation says otherwise.
      expect(
        compareVersion({ epoch: 1, owner: 'B1', seq: 0 }, { epoch: 1, owner: 'a1', seq: 0 }),
      ).toBe(-1);
      const { snapshots } = await node();
      await snapshots.save(snap(1, 'a1', 0));
      expect(await snapshots.save(snap(1, 'B1', 9))).toBe(false);
      expect(
        await snapshots.claim('KEPS', { epoch: 1, owner: 'B1', seq: 9 }, snap(1, 'b1', 0)),
      ).toBe(false);
      expect(await snapshots.save(snap(1, 'b1', 0))).toBe(true);
      expect(
        await snapshots.claim('KEPS', { epoch: 1, owner: 'b1', seq: 0 }, snap(1, 'c', 0)),
      ).toBe(true);
    });

    it('keeps the newest version whatever the order of saves, across nodes (property)', async () => {
      const [a, b] = [(await node()).snapshots, (await node()).snapshots];
      const version = fc.record({
        epoch: fc.integer({ min: 0, max: 3 }),
        owner: fc.constantFrom('a1', 'b2', 'C3'),
        seq: fc.integer({ min: 0, max: 5 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(version, { minLength: 1, maxLength: 12 }), async (versions) => {
          await a.remove('KEPS', 'game-1');
          // Half of them at once, as two nodes would.
          await Promise.all(
            versions.map((v, i) => (i % 2 ? b : a).save(snap(v.epoch, v.owner, v.seq))),
          );
          const newest = [...versions].sort(compareVersion).at(-1)!;
          const saved = await a.all();
          expect(saved).toHaveLength(1);
          expect(saved[0]).toMatchObject(newest);
        }),
        { numRuns: 40 },
      );
    });

    it('claims a snapshot only from the version it read (compare-and-set)', async () => {
      const { snapshots } = await node();
      const base: SnapshotVersion = { epoch: 1, owner: 'a1', seq: 4 };
      // Absent row: the claim writes.
      expect(await snapshots.claim('KEPS', base, snap(2, 'b2', 0))).toBe(true);
      // The row moved on (2/b2/0 > base): a claim from the old base is refused.
      expect(await snapshots.claim('KEPS', base, snap(2, 'c3', 0))).toBe(false);
      expect(await snapshots.get('KEPS')).toMatchObject({ epoch: 2, owner: 'b2', seq: 0 });
      // A claim from the current version, or from one ahead of it, writes.
      expect(
        await snapshots.claim('KEPS', { epoch: 2, owner: 'b2', seq: 0 }, snap(3, 'c3', 0)),
      ).toBe(true);
      expect(
        await snapshots.claim('KEPS', { epoch: 3, owner: 'c3', seq: 7 }, snap(4, 'a1', 0)),
      ).toBe(true);
      expect(await snapshots.get('KEPS')).toMatchObject({
        epoch: 4,
        owner: 'a1',
        seq: 0,
        state: { marker: '4/a1/0' },
      });
    });

    it('refuses a claim that would not move the version forward, or of another game', async () => {
      const { snapshots } = await node();
      await expect(
        snapshots.claim('KEPS', { epoch: 2, owner: 'a', seq: 1 }, snap(2, 'a', 1)),
      ).rejects.toThrow(SnapshotError);
      await expect(
        snapshots.claim('KEPS', { epoch: 2, owner: 'b', seq: 1 }, snap(2, 'a', 9)),
      ).rejects.toMatchObject({ code: 'CLAIM_NOT_NEWER' });
      await expect(
        snapshots.claim('ZORB', { epoch: 1, owner: 'a', seq: 1 }, snap(2, 'a', 1)),
      ).rejects.toMatchObject({ code: 'CLAIM_OTHER_GAME' });
      expect(await snapshots.all()).toEqual([]);
    });

    it('removes a snapshot only for the game it belongs to', async () => {
      const { snapshots } = await node();
      await snapshots.save(snap(1, 'a', 1));
      expect(await snapshots.remove('KEPS', 'another-game')).toBe(false);
      expect(await snapshots.all()).toHaveLength(1);
      expect(await snapshots.remove('KEPS', 'game-1')).toBe(true);
      expect(await snapshots.remove('KEPS', 'game-1')).toBe(false);
      expect(await snapshots.all()).toEqual([]);
    });

    it("lists every game's version without reading its state", async () => {
      const storage = await node();
      await storage.snapshots.save(snap(2, 'b', 7));
      await storage.snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
      // A row whose state is unreadable is still listed: only get() parses a state.
      await rawExec(storage, target, `UPDATE snapshots SET state = '{broken' WHERE code = 'ZORB'`);
      expect(await storage.snapshots.heads()).toEqual([
        { code: 'KEPS', gameId: 'game-1', epoch: 2, owner: 'b', seq: 7, schema: 1, updatedAt: T0 },
        { code: 'ZORB', gameId: 'game-2', epoch: 1, owner: 'a', seq: 1, schema: 1, updatedAt: T0 },
      ]);
    });

    it('keeps games apart by code', async () => {
      const { snapshots } = await node();
      await snapshots.save(snap(1, 'a', 1));
      await snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
      expect((await snapshots.all()).map((s) => s.code)).toEqual(['KEPS', 'ZORB']);
    });

    it('skips a row whose state cannot be parsed', async () => {
      const storage = await node();
      await storage.snapshots.save(snap(1, 'a', 1));
      await storage.snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
      await rawExec(storage, target, `UPDATE snapshots SET state = '{broken' WHERE code = 'ZORB'`);
      expect((await storage.snapshots.all()).map((s) => s.code)).toEqual(['KEPS']);
      expect(await storage.snapshots.get('ZORB')).toBeNull();
    });
  });

  // Nodes in separate processes, started on one database and sent the same call for the same
  // instant: what a cluster's nodes do when they start together or race for a game.
  describe('rate limits', () => {
    const MIN = 60_000;

    it('counts hits on a key in one window, then starts a new window once it ended', async () => {
      const { rateLimits } = await node();
      expect(await rateLimits.hit('login:a', 15 * MIN, T0)).toEqual({
        hits: 1,
        resetAt: T0 + 15 * MIN,
      });
      expect(await rateLimits.hit('login:a', 15 * MIN, T0 + MIN)).toEqual({
        hits: 2,
        resetAt: T0 + 15 * MIN,
      });
      // Another key, another window.
      expect((await rateLimits.hit('login:b', 15 * MIN, T0 + MIN)).hits).toBe(1);
      expect(await rateLimits.get('login:a', T0 + 2 * MIN)).toEqual({
        hits: 2,
        resetAt: T0 + 15 * MIN,
      });
      // The window ended: the next hit is the first of a new one.
      expect(await rateLimits.get('login:a', T0 + 15 * MIN)).toBeUndefined();
      expect(await rateLimits.hit('login:a', 15 * MIN, T0 + 15 * MIN)).toEqual({
        hits: 1,
        resetAt: T0 + 30 * MIN,
      });
    });

    it('takes a hit back only within its window and never below zero, and resets a key', async () => {
      const { rateLimits } = await node();
      await rateLimits.hit('k', MIN, T0);
      await rateLimits.hit('k', MIN, T0);
      await rateLimits.undo('k', T0 + 1);
      expect((await rateLimits.get('k', T0 + 1))?.hits).toBe(1);
      await rateLimits.undo('k', T0 + 1);
      await rateLimits.undo('k', T0 + 1);
      expect((await rateLimits.get('k', T0 + 1))?.hits).toBe(0);
      await rateLimits.hit('k', MIN, T0 + 2);
      await rateLimits.reset('k');
      expect(await rateLimits.get('k', T0 + 2)).toBeUndefined();
      expect((await rateLimits.hit('k', MIN, T0 + 3)).hits).toBe(1);
    });

    it('shares the counts between nodes, and prunes only the windows that ended', async () => {
      const a = await node();
      const b = await node();
      await a.rateLimits.hit('games:x', MIN, T0);
      expect((await b.rateLimits.hit('games:x', MIN, T0 + 1)).hits).toBe(2);
      await a.rateLimits.hit('games:y', 10 * MIN, T0);
      expect(await b.rateLimits.prune(T0 + MIN)).toBe(1);
      expect(await a.rateLimits.get('games:x', T0)).toBeUndefined();
      expect((await a.rateLimits.get('games:y', T0 + MIN))?.hits).toBe(1);
    });
  });

  describe('several nodes at once', () => {
    let started: StorageNode[] = [];
    beforeAll(async () => {
      started = await startNodes(6);
    });
    afterAll(() => Promise.all(started.map((n) => n.stop())));
    afterEach(() => Promise.all(started.map((n) => n.value('close'))));
    /** `n` of the node processes, each with the test's database open. */
    const processes = async (n: number) => {
      const nodes = started.slice(0, n);
      await Promise.all(nodes.map((p) => p.open(target)));
      return nodes;
    };
    const soon = () => Date.now() + 300;

    it('applies each migration exactly once when six nodes migrate one fresh database together', async () => {
      const nodes = await processes(6);
      const at = soon();
      const runs = await Promise.all(nodes.map((n) => n.call<string[]>('migrate', [], at)));
      for (const run of runs) expect(run.ok, JSON.stringify(run)).toBe(true);
      expect(runs.flatMap((r) => (r.ok ? r.value : []))).toEqual(RELEASED);
      expect(await (await fx.open(target)).migrate()).toEqual([]);
    });

    it('gives a username to exactly one of the nodes creating it at once, in any letter case', async () => {
      await node();
      const nodes = await processes(4);
      const at = soon();
      const created = await Promise.all(
        nodes.map((n, i) =>
          n.value<{ ok: boolean }>(
            'accounts.create',
            [['minos', 'Minos', 'MINOS', 'mINOS'][i], 'h'],
            at,
          ),
        ),
      );
      expect(created.filter((r) => r.ok)).toHaveLength(1);
    });

    it('records a game reported by several nodes at once exactly once', async () => {
      const { accounts, results } = await node();
      const ids: string[] = [];
      for (const name of ['ariadne', 'theseus', 'minos']) {
        const c = await accounts.create(name, 'h');
        if (!c.ok) throw new Error(c.message);
        ids.push(c.account.id);
      }
      const result: GameResult = {
        gameId: 'g1',
        code: 'KEPS',
        finishedAt: 1000,
        rounds: 7,
        winnerId: ids[2]!,
        players: ids.map((id, i) => ({
          accountId: id,
          won: i === 2,
          eliminatedRound: i === 2 ? null : 3,
        })),
      };
      const nodes = await processes(4);
      const at = soon();
      const outcomes = await Promise.all(
        nodes.map((n) => n.value<boolean>('results.record', [result], at)),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect(await results.recordFor(ids[2]!)).toEqual({ played: 1, won: 1 });
      expect(await results.recordFor(ids[0]!)).toEqual({ played: 1, won: 0 });
    });

    it('counts every game when several nodes record games of the same heroes at once', async () => {
      const { accounts, results } = await node();
      const ids: string[] = [];
      for (const name of ['ariadne', 'theseus', 'minos', 'icarus']) {
        const c = await accounts.create(name, 'h');
        if (!c.ok) throw new Error(c.message);
        ids.push(c.account.id);
      }
      // Each node lists the heroes in another order; every game is won by its first.
      const orders = [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 3, 0, 2],
        [2, 0, 3, 1],
        [3, 1, 2, 0],
        [0, 2, 1, 3],
      ];
      const nodes = await processes(6);
      for (let round = 0; round < 3; round++) {
        const at = soon();
        const outcomes = await Promise.all(
          nodes.map((n, i) => {
            const order = orders[i]!.map((k) => ids[k]!);
            const result: GameResult = {
              gameId: `g${round}-${i}`,
              code: 'KEPS',
              finishedAt: 1000,
              rounds: 7,
              winnerId: order[0]!,
              players: order.map((id, k) => ({
                accountId: id,
                won: k === 0,
                eliminatedRound: k === 0 ? null : 3,
              })),
            };
            return n.call<boolean>('results.record', [result], at);
          }),
        );
        for (const o of outcomes)
          expect(o, JSON.stringify(o)).toMatchObject({ ok: true, value: true });
      }
      const board = await results.leaderboardPage(1, 10);
      expect(board.rows.map((r) => r.played)).toEqual([18, 18, 18, 18]);
      expect(board.rows.reduce((n, r) => n + r.won, 0)).toBe(18);
    });

    it('counts every hit when several nodes hit one key at once', async () => {
      await node();
      const nodes = await processes(6);
      const at = soon();
      const hits = await Promise.all(
        nodes.map((n) =>
          n.value<{ hits: number }>('rateLimits.hit', ['login:1.2.3.4|minos', 60_000, T0], at),
        ),
      );
      expect(hits.map((h) => h.hits).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('lets exactly one of several nodes claiming a game from the same base win, row present or absent', async () => {
      const { snapshots } = await node();
      const base = { epoch: 3, owner: 'old', seq: 9 };
      const codes = Array.from({ length: 12 }, (_, i) => `G${String.fromCharCode(65 + i)}AA`);
      // Half the games have a snapshot at the base version, half have none yet.
      for (const [i, code] of codes.entries())
        if (i % 2 === 0) await snapshots.save(snap(3, 'old', 9, { code }));
      const nodes = await processes(4);
      const at = soon();
      const won = await Promise.all(
        codes.map((code) =>
          Promise.all(
            nodes.map((n, i) =>
              n.value<boolean>('snapshots.claim', [code, base, snap(4, `n${i}`, 0, { code })], at),
            ),
          ),
        ),
      );
      for (const [i, code] of codes.entries()) {
        expect(won[i]!.filter(Boolean), code).toHaveLength(1);
        expect(await snapshots.get(code)).toMatchObject({
          epoch: 4,
          owner: `n${won[i]!.indexOf(true)}`,
        });
      }
    });
  });

  describe('health', () => {
    it('reports the engine and the database as up once migrated', async () => {
      const s = await fx.open(target);
      expect(s.health()).toMatchObject({ engine, state: 'connecting' });
      await s.open();
      expect(s.health()).toMatchObject({ engine, state: 'up', outage: null });
      if (engine === 'postgres') expect(s.health().target).not.toContain(fx.server()!.password);
    });
  });
});

/** The Kysely handle behind a Storage, for statements the interface deliberately lacks. */
function kysely(storage: Storage) {
  return (storage as unknown as { db: import('kysely').Kysely<unknown> }).db;
}

async function rawExec(storage: Storage, _target: StorageTarget, statement: string): Promise<void> {
  await sql.raw(statement).execute(kysely(storage));
}

async function startApp(
  store: DatabaseSessionStore,
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(
    session({
      store,
      secret: 'test-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: HOUR },
    }),
  );
  app.post('/login', (req, res, next) => {
    (req.session as unknown as { accountId: string }).accountId = '7';
    // express-session answers before an asynchronous store saved the session; save first.
    req.session.save((err) => (err ? next(err) : res.send('ok')));
  });
  app.get('/me', (req, res) => {
    res.send((req.session as unknown as { accountId?: string }).accountId ?? 'anonymous');
  });
  app.post('/logout', (req, res, next) =>
    req.session.destroy((err) => (err ? next(err) : res.send('bye'))),
  );
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((res) => server.close(() => res())),
  };
}

describe('usernameKey', () => {
  it('trims every kind of space, applies NFKC and folds case', () => {
    expect(usernameKey(' Alice ')).toBe('alice');
    expect(usernameKey('alice\u00a0')).toBe('alice');
    expect(usernameKey('\u3000alice')).toBe('alice');
    expect(usernameKey('ａｌｉｃｅ')).toBe('alice');
    expect(usernameKey('\u212Aelvin')).toBe('kelvin'); // KELVIN SIGN
    expect(usernameKey('STRASSE')).toBe(usernameKey('straße'));
    expect(usernameKey(usernameKey('Ｍｉｘｅｄ Case'))).toBe(usernameKey('Ｍｉｘｅｄ Case'));
  });
});
