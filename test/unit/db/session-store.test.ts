import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session, { type SessionData } from 'express-session';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteSessionStore, type SessionStoreOptions } from '../../../src/db/session-store.js';
import { openDatabase } from '../../../src/db/database.js';
import { migrate } from '../../../src/db/migrate.js';
import { MIGRATIONS_DIR, silentLogger, tempDb, type TempDb } from './helpers.js';

const HOUR = 60 * 60 * 1000;

function sessionData(expires: number | null, extra: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: expires === null ? null : HOUR, expires: expires === null ? undefined : new Date(expires) },
    ...extra,
  } as unknown as SessionData;
}

/** The store's callbacks as promises (the store is synchronous, but callers must not rely on it). */
function api(store: SqliteSessionStore) {
  return {
    get: (sid: string) =>
      new Promise<SessionData | null | undefined>((res, rej) => store.get(sid, (e, s) => (e ? rej(e) : res(s)))),
    set: (sid: string, s: SessionData) => new Promise<void>((res, rej) => store.set(sid, s, (e) => (e ? rej(e) : res()))),
    destroy: (sid: string) => new Promise<void>((res, rej) => store.destroy(sid, (e) => (e ? rej(e) : res()))),
    touch: (sid: string, s: SessionData) => new Promise<void>((res) => store.touch(sid, s, () => res())),
    clear: () => new Promise<void>((res, rej) => store.clear((e) => (e ? rej(e) : res()))),
    length: () => new Promise<number | undefined>((res, rej) => store.length((e, n) => (e ? rej(e) : res(n)))),
    all: () =>
      new Promise<Record<string, SessionData>>((res, rej) =>
        store.all((e, all) => (e ? rej(e) : res((all ?? {}) as Record<string, SessionData>))),
      ),
  };
}

describe('SqliteSessionStore', () => {
  let tmp: TempDb;
  let now: number;
  const stores: SqliteSessionStore[] = [];
  const makeStore = (options: SessionStoreOptions = {}) => {
    const store = new SqliteSessionStore(tmp.open(), { now: () => now, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    tmp = tempDb();
    now = 1_700_000_000_000;
  });
  afterEach(() => {
    for (const s of stores.splice(0)) s.stop();
    tmp.cleanup();
  });

  it('stores, reads and destroys a session', async () => {
    const s = api(makeStore());
    await s.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
    const got = await s.get('sid-1');
    expect(got).toMatchObject({ accountId: '7', cookie: { expires: new Date(now + HOUR).toISOString() } });
    await s.destroy('sid-1');
    expect(await s.get('sid-1')).toBeNull();
    expect(await s.get('never-existed')).toBeNull();
  });

  it('does not return a session once its cookie expired, and prunes it', async () => {
    const store = makeStore();
    const s = api(store);
    await s.set('sid-1', sessionData(now + HOUR));
    now += HOUR - 1;
    expect(await s.get('sid-1')).not.toBeNull();
    now += 1;
    expect(await s.get('sid-1')).toBeNull();
    expect(await s.length()).toBe(0);
    expect(store.prune()).toBe(1);
  });

  it('sweeps expired rows soon after start, not only after the first interval (nodes are replaced often)', async () => {
    const first = makeStore({ pruneIntervalMs: 0 });
    await api(first).set('old', sessionData(now + 1000));
    now += 2000;
    const rows = () => (tmp.open().prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    expect(rows()).toBe(1);
    makeStore({ pruneIntervalMs: 10 * 60 * 1000, firstPruneMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    expect(rows()).toBe(0);
  });

  it('gives a browser-session cookie the configured lifetime', async () => {
    const s = api(makeStore({ ttlMs: 1000 }));
    await s.set('sid-1', sessionData(null));
    now += 999;
    expect(await s.get('sid-1')).not.toBeNull();
    now += 1;
    expect(await s.get('sid-1')).toBeNull();
  });

  it('touch extends the expiry without rewriting the data', async () => {
    const a = api(makeStore());
    const b = api(makeStore());
    await a.set('sid-1', sessionData(now + HOUR, { v: 1 }));
    await b.set('sid-1', sessionData(now + HOUR, { v: 2 }));
    await a.touch('sid-1', sessionData(now + 3 * HOUR, { v: 1 }));
    now += 2 * HOUR;
    expect(await a.get('sid-1')).toMatchObject({ v: 2 });
  });

  it('shares sessions between handles on one file, like nodes of a cluster', async () => {
    const a = api(makeStore());
    const b = api(makeStore());
    await a.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
    expect(await b.get('sid-1')).toMatchObject({ accountId: '7' });
    await b.destroy('sid-1');
    expect(await a.get('sid-1')).toBeNull();
  });

  it('survives a restart', async () => {
    const db = openDatabase(tmp.path, silentLogger);
    migrate(db, MIGRATIONS_DIR, silentLogger);
    const before = new SqliteSessionStore(db, { now: () => now, pruneIntervalMs: 0 });
    await api(before).set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
    db.close();
    const restarted = api(makeStore());
    expect(await restarted.get('sid-1')).toMatchObject({ accountId: '7' });
  });

  it('keeps a destroyed session ended when another node saves it late or touches it', async () => {
    const a = api(makeStore());
    const b = api(makeStore());
    await a.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
    await a.destroy('sid-1');
    // b loaded the session before the logout and saves it at the end of its request.
    await b.set('sid-1', sessionData(now + HOUR, { accountId: '7' }));
    await b.touch('sid-1', sessionData(now + 2 * HOUR));
    expect(await a.get('sid-1')).toBeNull();
    expect(await b.get('sid-1')).toBeNull();
    expect(await a.length()).toBe(0);
  });

  it('drops tombstones once both the session and the grace period are over', async () => {
    const store = makeStore({ tombstoneMs: 1000 });
    const s = api(store);
    await s.set('sid-1', sessionData(now + 500));
    await s.destroy('sid-1');
    now += 999;
    expect(store.prune()).toBe(0);
    now += 1;
    expect(store.prune()).toBe(1);
  });

  it('counts, lists and clears live sessions', async () => {
    const s = api(makeStore());
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

  it('prunes on a timer that stop() clears', async () => {
    const store = makeStore({ pruneIntervalMs: 10 });
    const s = api(store);
    await s.set('old', sessionData(now - 1));
    const deadline = Date.now() + 5000;
    const reader = tmp.open().prepare('SELECT count(*) AS n FROM sessions');
    const countRows = () => (reader.get() as { n: number }).n;
    while (countRows() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(countRows()).toBe(0);
    store.stop();
  });

  it('keeps a login across two Express apps on one file, and a logout on one ends it on both', async () => {
    const nodeA = await startApp(makeStore({ now: Date.now }));
    const nodeB = await startApp(makeStore({ now: Date.now }));
    try {
      const login = await fetch(`${nodeA.url}/login`, { method: 'POST' });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(await (await fetch(`${nodeB.url}/me`, { headers: { cookie } })).text()).toBe('7');
      await fetch(`${nodeB.url}/logout`, { method: 'POST', headers: { cookie } });
      expect(await (await fetch(`${nodeA.url}/me`, { headers: { cookie } })).text()).toBe('anonymous');
    } finally {
      await nodeA.close();
      await nodeB.close();
    }
  });
});

async function startApp(store: SqliteSessionStore): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(session({ store, secret: 'test-secret', resave: false, saveUninitialized: false, cookie: { maxAge: HOUR } }));
  app.post('/login', (req, res) => {
    (req.session as unknown as { accountId: string }).accountId = '7';
    res.send('ok');
  });
  app.get('/me', (req, res) => {
    res.send((req.session as unknown as { accountId?: string }).accountId ?? 'anonymous');
  });
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.send('bye'))));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((res) => server.close(() => res())),
  };
}
