// Every hero's totals (games finished, games won, damage dealt) in a table of their own, kept
// by the database itself: a trigger adds each row written to result_players and takes back
// each row removed. The leaderboard then reads one page of an index, a hero's place is a count
// over it, and a hero's record is one row, however many games were ever recorded. Before, every
// read aggregated every result (seconds on the node's own thread with SQLite, once a node had
// recorded a few hundred thousand games).
// Because the database keeps the totals, a release before this one, still recording games
// during a rolling update or after a rollback, keeps them right too. Filled here from the
// results already recorded. Additive: a release before it never reads the table.
// Never edit once released; add the next number instead.

import { sql, type Kysely } from 'kysely';
import type { Engine } from '../schema.js';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === 'postgres';
  const big = pg ? 'bigint' : 'integer';
  await db.schema
    .createTable('standings')
    .addColumn('account_id', big, (c) =>
      c.primaryKey().references('accounts.id').onDelete('cascade'),
    )
    .addColumn('played', 'integer', (c) => c.notNull())
    .addColumn('won', 'integer', (c) => c.notNull())
    .addColumn('dealt', 'integer', (c) => c.notNull())
    .$call((t) => (pg ? t : t.modifyEnd(sql`strict`)))
    .execute();
  // The leaderboard's order, ties on both broken by name (read from accounts).
  await sql`create index standings_rank on standings (won desc, played asc)`.execute(db);

  if (pg) {
    // Once per statement, over every row it wrote, in account order: whatever order a writer
    // lists a game's players in (a release before this one lists them by seat), two games
    // recorded at once with the same heroes lock their standings in the same order, so they
    // cannot deadlock. The search path is the migration's, whatever the session's.
    await sql`create function standings_add() returns trigger language plpgsql
      set search_path from current as $$
      begin
        insert into standings (account_id, played, won, dealt)
          select account_id, count(*), sum(won), sum(dealt) from added
          group by account_id order by account_id
        on conflict (account_id) do update set played = standings.played + excluded.played,
          won = standings.won + excluded.won, dealt = standings.dealt + excluded.dealt;
        return null;
      end $$`.execute(db);
    await sql`create function standings_remove() returns trigger language plpgsql
      set search_path from current as $$
      begin
        update standings s set played = s.played - r.played, won = s.won - r.won,
          dealt = s.dealt - r.dealt
        from (select account_id, count(*) as played, sum(won) as won, sum(dealt) as dealt
              from removed group by account_id) r
        where s.account_id = r.account_id;
        delete from standings where played <= 0
          and account_id in (select account_id from removed);
        return null;
      end $$`.execute(db);
    await sql`create trigger result_players_standings_add after insert on result_players
      referencing new table as added
      for each statement execute function standings_add()`.execute(db);
    await sql`create trigger result_players_standings_remove after delete on result_players
      referencing old table as removed
      for each statement execute function standings_remove()`.execute(db);
  } else {
    // One writer at a time holds the file: row by row is enough.
    await sql`create trigger result_players_standings_add after insert on result_players
      begin
        insert into standings (account_id, played, won, dealt)
          values (new.account_id, 1, new.won, new.dealt)
        on conflict (account_id) do update set played = standings.played + 1,
          won = standings.won + excluded.won, dealt = standings.dealt + excluded.dealt;
      end`.execute(db);
    await sql`create trigger result_players_standings_remove after delete on result_players
      begin
        update standings set played = played - 1, won = won - old.won, dealt = dealt - old.dealt
          where account_id = old.account_id;
        delete from standings where account_id = old.account_id and played <= 0;
      end`.execute(db);
  }

  // The games recorded so far, of accounts that still exist (a row whose account was removed
  // with foreign keys off, in an operator's shell, is no hero). SQLite reads the table through
  // in order rather than by the account index, which fetches each row apart (2 s against 8 s
  // for 2,000,000 rows).
  const from = pg ? sql`result_players` : sql`result_players not indexed`;
  await sql`insert into standings (account_id, played, won, dealt)
    select account_id, count(*), sum(won), sum(dealt) from ${from}
    where account_id in (select id from accounts)
    group by account_id`.execute(db);
}
