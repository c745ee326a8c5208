// The account each session is logged in to, in a column of its own with an index, so that
// ending an account's sessions (a password change, "Log out other devices", the operator's
// reset-password) reads that account's rows instead of every session's text. Written by this
// release on every save ('' for a session logged in to no account); rows saved before it, or by
// an older release still running during a rolling update or after a rollback, have none (NULL)
// and are found by their text as before. Additive: a release before it never reads the column.
// Never edit once released; add the next number instead.

import type { Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('user_id', 'text').execute();
  await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();
}
