// Rate limits every node counts together: failed logins, sign-ups and new games per key (an
// address, an account), one fixed window per key. Additive: a release before it never reads
// the table. Never edit once released; add the next number instead.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === 'postgres';
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addColumn('reset_at', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .$call((t) => (pg ? t : t.modifyEnd(sql`strict`)))
    .execute();
  await db.schema
    .createIndex('rate_limits_reset_at')
    .on('rate_limits')
    .column('reset_at')
    .execute();
}
