import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts, usernameKey } from '../../../src/db/accounts.js';
import { tempDb, type TempDb } from './helpers.js';

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
      expect(accounts.create(form, 'h2'), JSON.stringify(form)).toMatchObject({ ok: false });
    }
    expect(accounts.create('ALICE', 'h2')).toMatchObject({ ok: false, code: 'taken' });
    expect(accounts.findByUsername('alice\u200b')).toBeNull();
  });

  it('stores only names already in their normal form (the web layer refuses the others first)', () => {
    for (const name of [' bob', 'bob\u00a0', 'ｂｏｂ', 'bøb', '']) {
      expect(accounts.create(name, 'h'), JSON.stringify(name)).toMatchObject({ ok: false, code: 'invalid' });
    }
    expect(accounts.create('Bob', 'h').ok).toBe(true);
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
