// Finished games: recorded once however many nodes report them, read back as a player's
// record, recent games and the leaderboard.

import { sql, type Kysely } from 'kysely';
import { accountRowId } from './accounts.js';
import type { Database } from './schema.js';

export interface GameResult {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  winnerId: string | null;
  players: { accountId: string; won: boolean; eliminatedRound: number | null }[];
}

export interface PlayerRecord {
  played: number;
  won: number;
}

export interface LeaderboardRow {
  accountId: string;
  username: string;
  played: number;
  won: number;
  /** won / played, 0..1. */
  winRate: number;
}

export interface RecentGame {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  won: boolean;
  eliminatedRound: number | null;
  winnerUsername: string | null;
}

export class ResultsError extends Error {
  override readonly name = 'ResultsError';
  constructor(
    readonly code: 'UNKNOWN_ACCOUNT',
    message: string,
  ) {
    super(message);
  }
}

function rowId(id: string, gameId: string): number {
  const n = accountRowId(id);
  if (n === null) {
    throw new ResultsError(
      'UNKNOWN_ACCOUNT',
      `result of game ${gameId} names ${JSON.stringify(id)}, which is not an account id`,
    );
  }
  return n;
}

export class Results {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records a finished game; true if this call recorded it, false if it was already there. */
  async record(result: GameResult): Promise<boolean> {
    const winner = result.winnerId === null ? null : rowId(result.winnerId, result.gameId);
    const players = result.players.map((p) => ({ ...p, rowId: rowId(p.accountId, result.gameId) }));
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('results')
        .values({
          game_id: result.gameId,
          code: result.code,
          finished_at: result.finishedAt,
          rounds: result.rounds,
          winner_account_id: winner,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      // Another node recorded this game first: its players are in, count nothing twice.
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      if (players.length > 0) {
        await trx
          .insertInto('result_players')
          .values(
            players.map((p) => ({
              game_id: result.gameId,
              account_id: p.rowId,
              won: p.won ? 1 : 0,
              eliminated_round: p.eliminatedRound,
            })),
          )
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      return true;
    });
  }

  async recordFor(accountId: string): Promise<PlayerRecord> {
    const id = accountRowId(accountId);
    if (id === null) return { played: 0, won: 0 };
    const row = await this.db
      .selectFrom('result_players')
      .select((eb) => [
        eb.fn.countAll<number>().as('played'),
        eb.fn.coalesce(eb.fn.sum<number>('won'), sql<number>`0`).as('won'),
      ])
      .where('account_id', '=', id)
      .executeTakeFirstOrThrow();
    return { played: row.played, won: row.won };
  }

  /** Most wins first; among equal wins, fewer games played first, then by name. */
  async leaderboard(limit = 20): Promise<LeaderboardRow[]> {
    const rows = await this.db
      .selectFrom('result_players as rp')
      .innerJoin('accounts as a', 'a.id', 'rp.account_id')
      .select((eb) => [
        'a.id as accountId',
        'a.username as username',
        eb.fn.countAll<number>().as('played'),
        eb.fn.sum<number>('rp.won').as('won'),
      ])
      .groupBy('a.id')
      .orderBy('won', 'desc')
      .orderBy('played', 'asc')
      .orderBy('a.username', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => {
      const { played, won } = r;
      return {
        accountId: String(r.accountId),
        username: r.username,
        played,
        won,
        winRate: played > 0 ? won / played : 0,
      };
    });
  }

  async recentFor(accountId: string, limit = 10): Promise<RecentGame[]> {
    const id = accountRowId(accountId);
    if (id === null) return [];
    const rows = await this.db
      .selectFrom('result_players as rp')
      .innerJoin('results as r', 'r.game_id', 'rp.game_id')
      .leftJoin('accounts as w', 'w.id', 'r.winner_account_id')
      .select([
        'r.game_id as gameId',
        'r.code as code',
        'r.finished_at as finishedAt',
        'r.rounds as rounds',
        'rp.won as won',
        'rp.eliminated_round as eliminatedRound',
        'w.username as winnerUsername',
      ])
      .where('rp.account_id', '=', id)
      .orderBy('r.finished_at', 'desc')
      .orderBy('r.game_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...r, won: r.won === 1 }));
  }
}
