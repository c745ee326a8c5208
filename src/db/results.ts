// Finished games: recorded once however many nodes report them, read back as a player's
// record, recent games, the leaderboard, and the final state of a game for its page.

import type { Db } from './database.js';
import { accountRowId } from './accounts.js';

export interface GameResult {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  winnerId: string | null;
  players: { accountId: string; won: boolean; eliminatedRound: number | null; dealt?: number }[];
  /** The game's last state (JSON-serialisable) and its schema, kept for its page. */
  final?: { schema: number; state: unknown };
}

export interface PlayerRecord {
  played: number;
  won: number;
}

/** A finished game's last state as stored, of any schema (the caller upgrades it). */
export interface FinalState {
  gameId: string;
  code: string;
  finishedAt: number;
  schema: number;
  state: unknown;
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
  dealt: number;
  winnerUsername: string | null;
  /** The other players' usernames, in name order. */
  opponents: string[];
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
  private readonly selectFinalByCode;
  private readonly selectFinalById;
  private readonly selectDealt;
  private readonly recordTx;

  constructor(db: Db) {
    this.insertResult = db.prepare(
      `INSERT OR IGNORE INTO results (game_id, code, finished_at, rounds, winner_account_id, final_schema, final_state)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertPlayer = db.prepare(
      `INSERT OR IGNORE INTO result_players (game_id, account_id, won, eliminated_round, dealt)
       VALUES (?, ?, ?, ?, ?)`,
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
              rp.won AS won, rp.eliminated_round AS eliminatedRound, rp.dealt AS dealt, w.username AS winnerUsername,
              (SELECT json_group_array(username) FROM (
                 SELECT a.username AS username FROM result_players o JOIN accounts a ON a.id = o.account_id
                 WHERE o.game_id = rp.game_id AND o.account_id != rp.account_id ORDER BY a.username)) AS opponents
       FROM result_players rp
       JOIN results r ON r.game_id = rp.game_id
       LEFT JOIN accounts w ON w.id = r.winner_account_id
       WHERE rp.account_id = ?
       ORDER BY r.finished_at DESC, r.game_id
       LIMIT ?`,
    );
    this.selectFinalByCode = db.prepare(
      `SELECT game_id AS gameId, code, finished_at AS finishedAt, final_schema AS schema, final_state AS state
       FROM results WHERE code = ? AND final_state IS NOT NULL ORDER BY finished_at DESC LIMIT 1`,
    );
    this.selectFinalById = db.prepare(
      `SELECT game_id AS gameId, code, finished_at AS finishedAt, final_schema AS schema, final_state AS state
       FROM results WHERE game_id = ? AND final_state IS NOT NULL`,
    );
    this.selectDealt = db.prepare(`SELECT coalesce(sum(dealt), 0) AS dealt FROM result_players WHERE account_id = ?`);
    this.recordTx = db.transaction((result: GameResult): boolean => {
      const winner = result.winnerId === null ? null : rowId(result.winnerId, result.gameId);
      const players = result.players.map((p) => ({ ...p, rowId: rowId(p.accountId, result.gameId) }));
      const final = result.final ? JSON.stringify(result.final.state) : null;
      const inserted = this.insertResult.run(result.gameId, result.code, result.finishedAt, result.rounds, winner, result.final?.schema ?? null, final);
      // Another node recorded this game first: its players are in, count nothing twice.
      if (inserted.changes === 0) return false;
      for (const p of players) {
        this.insertPlayer.run(result.gameId, p.rowId, p.won ? 1 : 0, p.eliminatedRound, p.dealt ?? 0);
      }
      return true;
    });
  }

  /**
   * Records a finished game; true if this call recorded it, false if it was already there.
   * A game everyone left before it started is no result and is not recorded.
   */
  record(result: GameResult): boolean {
    if (result.players.length === 0) return false;
    return this.recordTx.immediate(result);
  }

  /** The last state of the latest finished game with this code, if it was kept. */
  finalByCode(code: string): FinalState | null {
    return parseFinal(this.selectFinalByCode.get(code));
  }

  /** The last state of one finished game, if it was kept. */
  finalById(gameId: string): FinalState | null {
    return parseFinal(this.selectFinalById.get(gameId));
  }

  /** Damage a player dealt to other heroes over all recorded games. */
  dealtBy(accountId: string): number {
    const id = accountRowId(accountId);
    if (id === null) return 0;
    return (this.selectDealt.get(id) as { dealt: number }).dealt;
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
    const rows = this.selectRecent.all(id, limit) as (Omit<RecentGame, 'won' | 'opponents'> & { won: number; opponents: string })[];
    return rows.map((r) => ({ ...r, won: r.won === 1, opponents: JSON.parse(r.opponents) as string[] }));
  }
}

function parseFinal(row: unknown): FinalState | null {
  if (!row) return null;
  const r = row as Omit<FinalState, 'state'> & { state: string };
  try {
    return { ...r, state: JSON.parse(r.state) as unknown };
  } catch {
    return null;
  }
}
