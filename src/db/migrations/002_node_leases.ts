// Node leases: every running node renews its row about once a second. A game whose owner's
// lease has run out may be claimed by another node (compare-and-set on its snapshot row); a
// live owner's games never are, even when the mesh cannot reach it. Starting nodes also find
// each other here before DNS lists them. Never edit once released; add the next number instead.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === 'postgres';
  await db.schema
    .createTable('node_leases')
    .addColumn('node_id', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('renewed_at', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .$call((t) => (pg ? t : t.modifyEnd(sql`strict`)))
    .execute();
}
