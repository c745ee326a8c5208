// Player accounts: creation with case-insensitive unique usernames, lookup, admin flag.

import type { Kysely, Selectable } from 'kysely';
import type { AccountsTable, Database } from './schema.js';

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
  | { ok: false; code: 'taken'; message: string };

const COLUMNS = ['id', 'username', 'password_hash', 'is_admin', 'created_at'] as const;

function toAccount(row: Selectable<AccountsTable>): Account {
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

export class Accounts {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates an account; a username already used in any letter case is 'taken'. */
  async create(username: string, passwordHash: string): Promise<CreateAccountResult> {
    const row = await this.db
      .insertInto('accounts')
      .values({ username, password_hash: passwordHash, created_at: this.now() })
      .onConflict((oc) => oc.doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (!row) return { ok: false, code: 'taken', message: `The username ${username} is already taken.` };
    return { ok: true, account: toAccount(row) };
  }

  /** Case-insensitive, like the uniqueness rule. */
  async findByUsername(username: string): Promise<Account | null> {
    const row = await this.db.selectFrom('accounts').select(COLUMNS).where('username', '=', username).executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  async findById(id: string | number): Promise<Account | null> {
    const rowId = accountRowId(id);
    if (rowId === null) return null;
    const row = await this.db.selectFrom('accounts').select(COLUMNS).where('id', '=', rowId).executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  /** Returns false when no such account exists. */
  async setAdmin(id: string | number, isAdmin: boolean): Promise<boolean> {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    const r = await this.db.updateTable('accounts').set({ is_admin: isAdmin ? 1 : 0 }).where('id', '=', rowId).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Replaces the stored hash (after a login found it below the current cost). */
  async setPasswordHash(id: string | number, passwordHash: string): Promise<boolean> {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    const r = await this.db.updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', rowId).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
