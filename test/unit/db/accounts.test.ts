import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../../src/db/accounts.js';
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
});
