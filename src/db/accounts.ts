// Player accounts: creation with usernames unique under one normalisation, lookup, and the
// operator grant.

import type { Kysely, Selectable } from 'kysely';
import type { AccountsTable, Database } from './schema.js';
import { LastKnown } from './last-known.js';

export interface Account {
  /** The account's row id as a string: the same id games use for their players. */
  id: string;
  username: string;
  passwordHash: string;
  isAdmin: boolean;
  createdAt: number;
}

/** What anyone may see of an account (its profile page). */
export type PublicAccount = Pick<Account, 'id' | 'username' | 'createdAt'>;

export type CreateAccountResult =
  { ok: true; account: Account } | { ok: false; code: 'taken' | 'invalid'; message: string };

const COLUMNS = ['id', 'username', 'password_hash', 'is_admin', 'created_at'] as const;

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
 * lower case, which is exactly what the column's case-insensitive uniqueness compares (NOCASE
 * on SQLite, a case-insensitive collation on PostgreSQL): uniqueness and lookups by key need no
 * column of their own. (Names beyond ASCII would need the key stored; sign-up does not allow them.)
 */
const STORABLE = /^[\x21-\x7e]+$/;

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
  /** Accounts read by id, answered while the database is away (a logged-in player's pages). */
  readonly #byId = new LastKnown<Account | null>();
  /** Profiles read by name, answered while the database is away (never to a login). */
  readonly #profiles = new LastKnown<PublicAccount | null>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates an account; a username whose usernameKey is already used is 'taken'. */
  async create(username: string, passwordHash: string): Promise<CreateAccountResult> {
    if (!STORABLE.test(username) || usernameKey(username) !== username.toLowerCase()) {
      return {
        ok: false,
        code: 'invalid',
        message: `The username ${JSON.stringify(username)} is not printable ASCII in its normal form.`,
      };
    }
    const row = await this.db
      .insertInto('accounts')
      .values({ username, password_hash: passwordHash, created_at: this.now() })
      .onConflict((oc) => oc.doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (!row)
      return { ok: false, code: 'taken', message: `The username ${username} is already taken.` };
    return { ok: true, account: toAccount(row) };
  }

  /** By usernameKey, like the uniqueness rule (the column compares without case). */
  async findByUsername(username: string): Promise<Account | null> {
    // No stored name has a key outside printable ASCII; asking the database anyway would let
    // PostgreSQL's collation match invisible characters that the login limit keys apart.
    const key = usernameKey(username);
    if (!STORABLE.test(key)) return null;
    const row = await this.db
      .selectFrom('accounts')
      .select(COLUMNS)
      .where('username', '=', key)
      .executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  /**
   * The public part of the account named `username` (by usernameKey), for its profile page;
   * while the database is away, what this node last read of it. A login never asks this: it
   * must see the account as the database holds it.
   */
  async profileByName(username: string): Promise<PublicAccount | null> {
    return this.#profiles.read(usernameKey(username), async () => {
      const account = await this.findByUsername(username);
      return (
        account && { id: account.id, username: account.username, createdAt: account.createdAt }
      );
    });
  }

  async findById(id: string | number): Promise<Account | null> {
    const rowId = accountRowId(id);
    if (rowId === null) return null;
    return this.#byId.read(String(rowId), async () => {
      const row = await this.db
        .selectFrom('accounts')
        .select(COLUMNS)
        .where('id', '=', rowId)
        .executeTakeFirst();
      return row ? toAccount(row) : null;
    });
  }

  /** Returns false when no such account exists. */
  async setAdmin(id: string | number, isAdmin: boolean): Promise<boolean> {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    const r = await this.db
      .updateTable('accounts')
      .set({ is_admin: isAdmin ? 1 : 0 })
      .where('id', '=', rowId)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Accounts holding operator rights, by name. */
  async listOperators(): Promise<Account[]> {
    const rows = await this.db
      .selectFrom('accounts')
      .select(COLUMNS)
      .where('is_admin', '=', 1)
      .orderBy('username')
      .execute();
    return rows.map(toAccount);
  }

  /**
   * Replaces the stored hash: a new password, or the same one hashed at a higher cost. With
   * `expected`, only while the stored hash is still that one (the hash the caller verified a
   * password against), so a rehash at login cannot undo a password changed meanwhile, and two
   * changes cannot both win. False when nothing was replaced.
   */
  async setPasswordHash(
    id: string | number,
    passwordHash: string,
    expected?: string,
  ): Promise<boolean> {
    const rowId = accountRowId(id);
    if (rowId === null) return false;
    const r = await this.db
      .updateTable('accounts')
      .set({ password_hash: passwordHash })
      .where('id', '=', rowId)
      .$if(expected !== undefined, (q) => q.where('password_hash', '=', expected as string))
      .executeTakeFirst();
    const ok = Number(r.numUpdatedRows) === 1;
    // The next read of this account goes to the database anyway; an outage must not serve the
    // hash from before the change.
    if (ok) this.#byId.forget(String(rowId));
    return ok;
  }
}
