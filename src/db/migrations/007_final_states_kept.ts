// An index of the finished games that still keep their final board, by when they finished: what
// the prune of old final boards reads (FINAL_STATE_DAYS), so that each run finds the few rows
// past the cutoff without walking every game whose board went earlier. Additive: a release before
// it neither reads nor needs it.
// Never edit once released; add the next number instead.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await sql`create index results_final_kept on results (finished_at) where final_state is not null`.execute(
    db,
  );
}
