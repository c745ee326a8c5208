// The last state of every finished game, so its page (final board and result) can be shown
// after the replicas dropped it, even after every node restarted; and the damage each player
// dealt to other heroes, for profiles. Additive: a release before it reads the same tables.
// Never edit once released; add the next number instead.

import type { Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable('results').addColumn('final_schema', 'integer').execute();
  await db.schema.alterTable('results').addColumn('final_state', 'text').execute();
  await db.schema
    .alterTable('result_players')
    .addColumn('dealt', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('results_code')
    .on('results')
    .columns(['code', 'finished_at'])
    .execute();
}
