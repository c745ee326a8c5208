// Finished games: recorded once however many nodes report them, read back as a player's
// record, recent games and the leaderboard.

import type { Db } from './database.js';
import { accountRowId } from './accounts.js';

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
    throw new ResultsError('UNKNOWN_ACCOUNT', `result of game ${gameId} names ${JSON.stringify(id)}, which is not an account id`);
  }
  return n;
}

export class Results {
  private readonly insertResult;
  private readonly insertPlayer;
  private readonly selectRecord;
  private readonly selectLeaderboard;
  private readonly selectRecent;
  private readonly recordTx;

  constructor(db: Db) {
    this.insertResult = db.prepare(
      `INSERT OR IGNORE INTO results (game_id, code, finished_at, rounds, winner_account_id)
       VALUES (?, ?, ?, ?, ?)`,
    );
    this.insertPlayer = db.prepare(
      `INSERT OR IGNORE INTO result_players (game_id, account_id, won, eliminated_round)
       VALUES (?, ?, ?, ?)`,
    );
    this.selectRecord = db.prepare(
      `SELECT count(*) AS played, coalesce(sum(won), 0) AS won FROM result_players WHERE account_id = ?`,
    );
    this.selectLeaderboard = db.prepare(
      `SELECT a.id AS accountId, a.username AS username, count(*) AS played, sum(rp.won) AS won
       FROM result_players rp JOIN accounts a ON a.id = rp.account_id
       GROUP BY a.id
       ORDER BY won DESC, played ASC, a.username ASC
       LIMIT ?`,
    );
    this.selectRecent = db.prepare(
      `SELECT r.game_id AS gameId, r.code AS code, r.finished_at AS finishedAt, r.rounds AS rounds,
              rp.won AS won, rp.eliminated_round AS eliminatedRound, w.username AS winnerUsername
       FROM result_players rp
       JOIN results r ON r.game_id = rp.game_id
       LEFT JOIN accounts w ON w.id = r.winner_account_id
       WHERE rp.account_id = ?
       ORDER BY r.finished_at DESC, r.game_id
       LIMIT ?`,
    );
    this.recordTx = db.transaction((result: GameResult): boolean => {
      const winner = result.winnerId === null ? null : rowId(result.winnerId, result.gameId);
      const players = result.players.map((p) => ({ ...p, rowId: rowId(p.accountId, result.gameId) }));
      const inserted = this.insertResult.run(result.gameId, result.code, result.finishedAt, result.rounds, winner);
      // Another node recorded this game first: its players are in, count nothing twice.
      if (inserted.changes === 0) return false;
      for (const p of players) {
        this.insertPlayer.run(result.gameId, p.rowId, p.won ? 1 : 0, p.eliminatedRound);
      }
      return true;
    });
  }

  /** Records a finished game; true if this call recorded it, false if it was already there. */
  record(result: GameResult): boolean {
    return this.recordTx.immediate(result);
  }

  recordFor(accountId: string): PlayerRecord {
    const id = accountRowId(accountId);
    if (id === null) return { played: 0, won: 0 };
    return this.selectRecord.get(id) as PlayerRecord;
  }

  /** Most wins first; among equal wins, fewer games played first. */
  leaderboard(limit = 20): LeaderboardRow[] {
    const rows = this.selectLeaderboard.all(limit) as (Omit<LeaderboardRow, 'winRate' | 'accountId'> & { accountId: number })[];
    return rows.map((r) => ({ ...r, accountId: String(r.accountId), winRate: r.played > 0 ? r.won / r.played : 0 }));
  }

  recentFor(accountId: string, limit = 10): RecentGame[] {
    const id = accountRowId(accountId);
    if (id === null) return [];
    const rows = this.selectRecent.all(id, limit) as (Omit<RecentGame, 'won'> & { won: number })[];
    return rows.map((r) => ({ ...r, won: r.won === 1 }));
  }
}
