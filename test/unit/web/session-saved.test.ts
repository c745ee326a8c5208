// Answering only once the session is saved: with an asynchronous store (PostgreSQL), a
// redirect after logging in must not reach the next request before the login is stored.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session, { type SessionData } from 'express-session';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { saveSessionBeforeAnswering } from '../../../src/web/session-saved.js';

/** A store that takes its time to save, and can be told to fail. */
class SlowStore extends session.Store {
  readonly rows = new Map<string, string>();
  sets = 0;
  fail = false;
  override get(sid: string, cb: (err: unknown, s?: SessionData | null) => void): void {
    const row = this.rows.get(sid);
    setImmediate(() => cb(null, row ? (JSON.parse(row) as SessionData) : null));
  }
  override set(sid: string, s: SessionData, cb?: (err?: unknown) => void): void {
    this.sets++;
    setTimeout(() => {
      if (this.fail) return cb?.(new Error('connection refused'));
      this.rows.set(sid, JSON.stringify(s));
      cb?.();
    }, 100);
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.rows.delete(sid);
    setImmediate(() => cb?.());
  }
  override touch(_sid: string, _s: SessionData, cb?: () => void): void {
    setImmediate(() => cb?.());
  }
}

const servers: import('node:http').Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function app(store: SlowStore, withFix: boolean): Promise<string> {
  const a = express();
  a.use(
    session({
      store,
      secret: 'test-secret',
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: 60_000 },
    }),
  );
  if (withFix) a.use(saveSessionBeforeAnswering(pino({ level: 'silent' })));
  a.post('/login', (req, res) => {
    (req.session as unknown as { userId: string }).userId = '7';
    res.redirect(303, '/lobby');
  });
  a.get('/lobby', (req, res) => {
    res.send((req.session as unknown as { userId?: string }).userId ?? 'anonymous');
  });
  const server = a.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('saveSessionBeforeAnswering', () => {
  it('answers a login only once its session is in the store', async () => {
    const store = new SlowStore();
    const base = await app(store, true);
    const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
    // The moment the answer arrives, the session is already stored.
    expect(store.rows.size).toBe(1);
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${base}/lobby`, { headers: { cookie } })).text()).toBe('7');
    expect(store.sets).toBe(1);
  });

  it('without it, express-session answers before the store saved (why it exists)', async () => {
    const store = new SlowStore();
    const base = await app(store, false);
    await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
    expect(store.rows.size).toBe(0);
  });

  it('does not save a session nobody changed', async () => {
    const store = new SlowStore();
    const base = await app(store, true);
    const login = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    for (let i = 0; i < 3; i++) await fetch(`${base}/lobby`, { headers: { cookie } });
    await fetch(`${base}/lobby`);
    expect(store.sets).toBe(1);
  });

  it('answers 503 with a sentence, not the redirect, when the session cannot be saved', async () => {
    const store = new SlowStore();
    store.fail = true;
    const base = await app(store, true);
    const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.text()).toBe('We could not save your session. Please try again in a moment.');
  });
});
