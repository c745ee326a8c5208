import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts, usernameKey } from '../../../src/db/accounts.js';
import { openDatabase } from '../../../src/db/database.js';
import { migrate, MigrationError } from '../../../src/db/migrate.js';
import { MIGRATIONS_DIR, silentLogger, tempDb, type TempDb } from './helpers.js';

describe('Accounts', () => {
  let tmp: TempDb;
  let accounts: Accounts;

  beforeEach(() => {
    tmp = tempDb();
    accounts = new Accounts(tmp.open(), () => 1_700_000_000_000);
  });
  afterEach(() => tmp.cleanup());

  it('creates an account and finds it by username and by id', () => {
    const created = accounts.create('Ariadne', 'scrypt$hash');
    if (!created.ok) throw new Error(created.message);
    expect(created.account).toEqual({
      id: expect.stringMatching(/^\d+$/),
      username: 'Ariadne',
      passwordHash: 'scrypt$hash',
      isAdmin: false,
      createdAt: 1_700_000_000_000,
    });
    expect(accounts.findByUsername('Ariadne')).toEqual(created.account);
    expect(accounts.findById(created.account.id)).toEqual(created.account);
  });

  it('treats usernames case-insensitively: lookup and uniqueness', () => {
    accounts.create('Theseus', 'h1');
    expect(accounts.findByUsername('theseus')?.username).toBe('Theseus');
    const again = accounts.create('THESEUS', 'h2');
    expect(again).toEqual({ ok: false, code: 'taken', message: 'The username THESEUS is already taken.' });
  });

  it('reports a name taken by another handle on the same file', () => {
    const other = new Accounts(tmp.open());
    expect(accounts.create('minos', 'h').ok).toBe(true);
    expect(other.create('Minos', 'h')).toMatchObject({ ok: false, code: 'taken' });
  });

  it('returns null for unknown or malformed ids and names', () => {
    expect(accounts.findByUsername('nobody')).toBeNull();
    expect(accounts.findById('42')).toBeNull();
    expect(accounts.findById('abc')).toBeNull();
    expect(accounts.findById('-1')).toBeNull();
  });

  it('sets and clears the admin flag', () => {
    const created = accounts.create('daedalus', 'h');
    if (!created.ok) throw new Error(created.message);
    expect(accounts.setAdmin(created.account.id, true)).toBe(true);
    expect(accounts.findById(created.account.id)?.isAdmin).toBe(true);
    expect(accounts.setAdmin(created.account.id, false)).toBe(true);
    expect(accounts.findById(created.account.id)?.isAdmin).toBe(false);
    expect(accounts.setAdmin('999', true)).toBe(false);
  });

  it('replaces a password hash', () => {
    const created = accounts.create('icarus', 'old');
    if (!created.ok) throw new Error(created.message);
    expect(accounts.setPasswordHash(created.account.id, 'new')).toBe(true);
    expect(accounts.findByUsername('icarus')?.passwordHash).toBe('new');
  });

  it('treats padded, full-width and compatibility forms of a name as that name', () => {
    const created = accounts.create('alice', 'h');
    if (!created.ok) throw new Error(created.message);
    for (const form of [' alice', 'alice\u00a0', '\u3000alice', 'ALICE\t', 'ａｌｉｃｅ', 'Ａlice']) {
      expect(accounts.findByUsername(form)?.id, JSON.stringify(form)).toBe(created.account.id);
      expect(accounts.create(form, 'h2'), JSON.stringify(form)).toMatchObject({ ok: false, code: 'taken' });
    }
    expect(accounts.findByUsername('alice\u200b')).toBeNull();
  });

  it('lists the accounts holding operator rights', () => {
    const a = accounts.create('zeus', 'h');
    const b = accounts.create('Athena', 'h');
    accounts.create('hermes', 'h');
    if (!a.ok || !b.ok) throw new Error('create failed');
    expect(accounts.listOperators()).toEqual([]);
    accounts.setAdmin(a.account.id, true);
    accounts.setAdmin(b.account.id, true);
    expect(accounts.listOperators().map((x) => x.username)).toEqual(['Athena', 'zeus']);
  });
});

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

describe('migration 002 (username keys) on an existing database', () => {
  let tmp: TempDb;
  beforeEach(() => {
    tmp = tempDb();
  });
  afterEach(() => tmp.cleanup());

  /** A database at migration 001 with the given accounts written straight into it. */
  function before002(names: string[]) {
    const first = join(tmp.dir, 'first');
    mkdirSync(first);
    copyFileSync(join(MIGRATIONS_DIR, '001_init.sql'), join(first, '001_init.sql'));
    const db = openDatabase(tmp.path, silentLogger);
    migrate(db, first, silentLogger);
    for (const n of names) db.prepare('INSERT INTO accounts (username, password_hash, created_at) VALUES (?, ?, 1)').run(n, 'h');
    return db;
  }

  it('gives existing accounts their key, so they log in under any form of their name', () => {
    const db = before002(['Theseus', 'ariadne_2']);
    migrate(db, MIGRATIONS_DIR, silentLogger);
    const accounts = new Accounts(db);
    expect(accounts.findByUsername(' THESEUS')?.username).toBe('Theseus');
    expect(accounts.findByUsername('ａｒｉａｄｎｅ_2')?.username).toBe('ariadne_2');
    expect(accounts.create('theseus\u00a0', 'h')).toMatchObject({ ok: false, code: 'taken' });
    db.close();
  });

  it('stops, saying what to do, when an existing name is outside the alphabet sign-up allows', () => {
    const db = before002(['alice', 'ａｌｉｃｅ']);
    let err: unknown;
    try {
      migrate(db, MIGRATIONS_DIR, silentLogger);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).message).toMatch(/002_username_key\.sql failed: .*rename it before upgrading/);
    // Rolled back: the accounts are as they were, and the migration runs once the name is fixed.
    db.prepare("UPDATE accounts SET username = 'alice2' WHERE username = 'ａｌｉｃｅ'").run();
    expect(migrate(db, MIGRATIONS_DIR, silentLogger)).toContain('002_username_key.sql');
    db.close();
  });
});
