// The tables as Kysely sees them: the one description of the schema that every query is
// checked against, for both engines. Times are milliseconds since the epoch; flags are 0/1.

import type { Generated } from 'kysely';

export interface AccountsTable {
  id: Generated<number>;
  /**
   * Unique whatever the letter case (SQLite NOCASE, a case-insensitive ICU collation on
   * PostgreSQL).
   */
  username: string;
  password_hash: string;
  is_admin: Generated<number>;
  created_at: number;
}

/**
 * One row per express-session session; a destroyed one stays as a tombstone (ended_at set) until it
 * expires.
 */
export interface SessionsTable {
  sid: string;
  sess: string;
  expires: number;
  ended_at: number | null;
  /**
   * The account the session is logged in to, '' for none; NULL on rows saved by a release before
   * the column (migration 005), whose account is in `sess` only.
   */
  user_id: string | null;
}

export interface ResultsTable {
  game_id: string;
  code: string;
  finished_at: number;
  rounds: number;
  winner_account_id: number | null;
  /**
   * The game's last state and its schema, for its page after the replicas dropped it
   * (migration 003).
   */
  final_schema: number | null;
  final_state: string | null;
}

export interface ResultPlayersTable {
  game_id: string;
  account_id: number;
  won: number;
  eliminated_round: number | null;
  /** Damage dealt to other heroes (migration 003). */
  dealt: Generated<number>;
  /**
   * The game's finish time, as in results (migration 008; filled in by a trigger for rows an
   * earlier release writes without it).
   */
  finished_at: number | null;
}

/**
 * Each hero's totals over result_players, kept by the database's triggers (migration 006); a
 * hero with no finished game has no row.
 */
export interface StandingsTable {
  account_id: number;
  played: number;
  won: number;
  dealt: number;
}

/** Games kept for a cold start, ordered like the replicated store by (epoch, owner, seq). */
export interface SnapshotsTable {
  code: string;
  game_id: string;
  /** Compared byte-wise (collation "C" on PostgreSQL), like strings in JavaScript. */
  owner: string;
  epoch: number;
  seq: number;
  schema: number;
  state: string;
  updated_at: number;
}

/** One row per running node, renewed about once a second (see db/leases.ts). */
export interface NodeLeasesTable {
  node_id: string;
  /** host:port the node is reachable at for the mesh. */
  address: string;
  /** Its lifecycle state when it last renewed. */
  state: string;
  renewed_at: number;
}

/** One row per rate-limited key while its window runs (see db/rate-limits.ts). */
export interface RateLimitsTable {
  key: string;
  hits: number;
  /** When the window ends (ms since the epoch). */
  reset_at: number;
}

export interface Database {
  accounts: AccountsTable;
  sessions: SessionsTable;
  results: ResultsTable;
  result_players: ResultPlayersTable;
  standings: StandingsTable;
  snapshots: SnapshotsTable;
  node_leases: NodeLeasesTable;
  rate_limits: RateLimitsTable;
}

export type Engine = 'sqlite' | 'postgres';
