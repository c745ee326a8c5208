// What a node keeps to answer while the database is away (db/last-known.ts): profiles it showed,
// but never to a login; sessions, but not once they ended: a cookie logged out on one node must
// not log in on another for the length of an outage that follows. Two handles on one SQLite
// file stand for two nodes; the one under test refuses every query while `down`, as a node's
// storage does once it knows the database is away.

import { Kysely, type KyselyPlugin } from 'kysely';
import type { SessionData } from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts } from '../../../src/db/accounts.js';
import { Results } from '../../../src/db/results.js';
import { DatabaseSessionStore } from '../../../src/db/session-store.js';
import { openDatabase, ImmediateSqliteDialect } from '../../../src/db/sqlite.js';
import { DatabaseDownError, type Storage } from '../../../src/db/storage.js';
import type { Database } from '../../../src/db/schema.js';
import { engineFixture, silentLogger } from './helpers.js';

const HOUR = 60 * 60 * 1000;
const fx = engineFixture('sqlite');
let other: Storage;
let mine: DatabaseSessionStore;
let db: Kysely<Database>;
let down = false;

const refusing: KyselyPlugin = {
  transformQuery(args) {
    if (down) throw new DatabaseDownError('lost');
    return args.node;
  },
  transformResult: (args) => Promise.resolve(args.result),
};

/** Plain data, as a store holds it (express-session makes the Cookie when it reads it back). */
function data(extra: Record<string, unknown>): SessionData {
  const stored: Record<string, unknown> = {
    cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) },
    ...extra,
  };
  return stored as unknown as SessionData;
}

const get = (sid: string) =>
  new Promise<SessionData | null | undefined>((res, rej) =>
    mine.get(sid, (e, s) => (e ? rej(e) : res(s))),
  );
const set = (sid: string, s: SessionData) =>
  new Promise<void>((res, rej) => mine.set(sid, s, (e) => (e ? rej(e) : res())));

beforeAll(async () => {
  await fx.setup();
  const target = await fx.fresh();
  other = await fx.openMigrated(target);
  if (target.engine !== 'sqlite') throw new Error('a SQLite file expected');
  db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect(openDatabase(target.path, silentLogger), 5000),
    plugins: [refusing],
  });
  mine = new DatabaseSessionStore(db, { pruneIntervalMs: 0 });
});

afterAll(async () => {
  await fx.closeAll();
  await fx.teardown();
});

describe("a node's kept copies of sessions", () => {
  it('are dropped once the session ended elsewhere, and only those', async () => {
    await set('laptop', data({ userId: '12' }));
    await set('phone', data({ userId: '12' }));
    await set('bob', data({ userId: '13' }));
    await set('quoted', data({ userId: '7', note: '"userId":"12"' }));
    await set('visitor', data({}));

    // Another node ends the account's other sessions (a password change on the laptop).
    expect(await other.sessions.endSessionsOf('12', 'laptop')).toBe(1);
    // Told so, this node drops its copy of the phone's session and keeps the rest.
    expect(await mine.forgetEnded('12')).toBe(1);
    down = true;
    await expect(get('phone')).rejects.toBeInstanceOf(DatabaseDownError);
    for (const sid of ['laptop', 'bob', 'quoted', 'visitor'])
      expect(await get(sid), sid).not.toBeNull();

    // Told while the database is away, it keeps nothing of that account it cannot vouch for.
    expect(await mine.forgetEnded('13')).toBe(1);
    await expect(get('bob')).rejects.toBeInstanceOf(DatabaseDownError);
    // The periodic check without the database drops nothing: the outage is what they are for.
    await expect(mine.forgetEnded()).rejects.toBeInstanceOf(DatabaseDownError);
    expect(await get('laptop')).toMatchObject({ userId: '12' });
    down = false;
  });

  it('are dropped by the periodic check when a session ended where no node heard of it', async () => {
    await set('shared', data({ userId: '21' }));
    await set('kept', data({ userId: '22' }));
    // Ended beside the nodes (an operator's password reset), or by a notice that was lost.
    expect(await other.sessions.endSessionsOf('21')).toBe(1);
    expect(await mine.forgetEnded()).toBe(1);
    down = true;
    await expect(get('shared')).rejects.toBeInstanceOf(DatabaseDownError);
    expect(await get('kept')).toMatchObject({ userId: '22' });
    down = false;
  });

  it('are dropped when a check of live pages finds their session ended', async () => {
    await set('page', data({ userId: '31' }));
    await new Promise<void>((res, rej) =>
      other.sessions.destroy('page', (e) => (e ? rej(e) : res())),
    );
    expect([...(await mine.liveOf(['page']))]).toEqual([]);
    down = true;
    await expect(get('page')).rejects.toBeInstanceOf(DatabaseDownError);
    down = false;
  });

  it('hold the profiles this node showed, and never answer a login', async () => {
    const accounts = new Accounts(db);
    const results = new Results(db);
    const made = await other.accounts.create('Ariadne', 'hash');
    if (!made.ok) throw new Error(made.message);
    await other.accounts.create('Theseus', 'hash');
    expect(await accounts.profileByName('ariadne')).toEqual({
      id: made.account.id,
      username: 'Ariadne',
      createdAt: made.account.createdAt,
    });
    expect(await results.dealtBy(made.account.id)).toBe(0);
    down = true;
    expect((await accounts.profileByName('ARIADNE'))?.username).toBe('Ariadne');
    expect(await results.dealtBy(made.account.id)).toBe(0);
    // Never read here: not known.
    await expect(accounts.profileByName('Theseus')).rejects.toBeInstanceOf(DatabaseDownError);
    // A login looks the account up in the database, whatever was shown.
    await expect(accounts.findByUsername('Ariadne')).rejects.toBeInstanceOf(DatabaseDownError);
    down = false;
  });
});
