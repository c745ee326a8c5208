// Player accounts: creation with usernames unique under one normalisation, lookup, and the
// operator grant.

import type { Db } from './database.js';

export interface Account {
  /** The account's row id as a string: the same id games use for their players. */
  id: string;
  username: string;
  passwordHash: string;
  isAdmin: boolean;
  createdAt: number;
}

export type CreateAccountResult =
  | { ok: true; account: Account }
  | { ok: false; code: 'taken' | 'invalid'; message: string };

interface AccountRow {
  id: number;
  username: string;
  password_hash: string;
  is_admin: number;
  created_at: number;
}

const COLUMNS = 'id, username, password_hash, is_admin, created_at';

/**
 * The one form of a username that sign-up, login, the login rate limit and uniqueness use:
 * Unicode NFKC (full-width and compatibility letters become plain ones), trimmed of every kind
 * of space, case-folded (upper- then lower-casing also folds ß to ss). "Alice", " alice",
 * "alice\u00a0" and "ａｌｉｃｅ" are one name.
 */
export function usernameKey(name: string): string {
  return name.normalize('NFKC').trim().toUpperCase().toLowerCase().normalize('NFKC');
}

/**
 * Stored names are printable ASCII already in their normal form, so their key is their ASCII
 * lower case, which is exactly what the column's UNIQUE COLLATE NOCASE compares: uniqueness and
 * lookups by key need no column of their own, and the schema stays the one every release
 * reads. (Names beyond ASCII would need the key stored; sign-up does not allow them.)
 */
const STORABLE = /^[\x21-\x7e]+$/;

function toAccount(row: AccountRow): Account {
  return {
    id: String(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    isAdmin: row.is_admin === 1,
    createdAt: row.created_at,
  };
}

/** Row id for an account id, or null when it cannot name an account. */
export function accountRowId(id: string | number): number | null {
  const n = typeof id === 'number' ? id : /^[1-9]\d{0,15}$/.test(id) ? Number(id) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class Accounts {
  private readonly insert;
  private readonly byUsername;
  private readonly byId;
  private readonly updateAdmin;
  private readonly updateHash;
  private readonly operators;

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.insert = db.prepare(
      `INSERT INTO accounts (username, password_hash, created_at) VALUES (?, ?, ?) RETURNING ${COLUMNS}`,
    );
    this.byUsername = db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE username = ?`);
    this.operators = db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE is_admin = 1 ORDER BY username`);
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`);
    this.updateAdmin = db.prepare('UPDATE accounts SET is_admin = ? WHERE id = ?');
    this.updateHash = db.prepare('UPDATE accounts SET password_hash = ? WHERE id = ?');
  }

  /** Creates an account; a username whose usernameKey is already used is 'taken'. */
  create(username: string, passwordHash: string): CreateAccountResult {
    if (!STORABLE.test(username) || usernameKey(username) !== username.toLowerCase()) {
      return { ok: false, code: 'invalid', message: `The username ${JSON.stringify(username)} is not printable ASCII in its normal form.` };
    }
    try {
      const row = this.insert.get(username, passwordHash, this.now()) as AccountRow;
      return { ok: true, account: toAccount(row) };
    } catch (err) {
      if (isUniqueViolation(err)) {
        return { ok: false, code: 'taken', message: `The username ${username} is already taken.` };
      }
      throw err;
    }
  }

  /** By usernameKey, like the uniqueness rule (the column compares without case). */
  findByUsername(username: string): Account | null {
    const row = this.byUsername.get(usernameKey(username)) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  findById(id: string | number): Account | null {
    const rowId = accountRowId(id);
    if (rowId === null) return null;
    const row = this.byId.get(rowId) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  /** Returns false when no such account exists. */
  setAdmin(id: string | number, isAdmin: boolean): boolean {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    return this.updateAdmin.run(isAdmin ? 1 : 0, rowId).changes === 1;
  }

  /** Accounts holding operator rights, by name. */
  listOperators(): Account[] {
    return (this.operators.all() as AccountRow[]).map(toAccount);
  }

  /** Replaces the stored hash (after a login found it below the current cost). */
  setPasswordHash(id: string | number, passwordHash: string): boolean {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    return this.updateHash.run(passwordHash, rowId).changes === 1;
  }
}
