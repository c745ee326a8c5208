// Each player's row of a result carries the game's finish time, indexed with the account, so a
// hero's recent games (their profile) are the first rows of that index, however many games the
// hero ever played. Before, the profile read every game of the hero and sorted them by time
// (24-28 ms on the node's own thread with SQLite for a hero of 20,000 games).
// A release before this one writes players' rows without the time: a trigger fills it in from
// the result (written first, in the same transaction), so its rows are found as well. Filled
// here for the games already recorded.
// Never edit once released; add the next number instead.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === 'postgres';
  await db.schema
    .alterTable('result_players')
    .addColumn('finished_at', pg ? 'bigint' : 'integer')
    .execute();
  await sql`update result_players set finished_at =
    (select r.finished_at from results r where r.game_id = result_players.game_id)`.execute(db);

  if (pg) {
    await sql`create function result_players_finished_at() returns trigger language plpgsql
      set search_path from current as $$
      begin
        if new.finished_at is null then
          select r.finished_at into new.finished_at from results r where r.game_id = new.game_id;
        end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger result_players_finished_at before insert on result_players
      for each row execute function result_players_finished_at()`.execute(db);
  } else {
    await sql`create trigger result_players_finished_at after insert on result_players
      when new.finished_at is null
      begin
        update result_players set finished_at =
          (select r.finished_at from results r where r.game_id = new.game_id)
          where game_id = new.game_id and account_id = new.account_id;
      end`.execute(db);
  }

  // A hero's games, newest first; it also serves every lookup by account the old index did.
  await sql`create index result_players_recent
    on result_players (account_id, finished_at desc, game_id)`.execute(db);
  await db.schema.dropIndex('result_players_account').execute();
}
