-- Initial schema: accounts, express-session sessions, game results, cold-start snapshots.
-- Never edit this file once released; add 002_... instead.

CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;

-- One row per express-session session. `expires` is ms since epoch. A destroyed session keeps
-- its row as a tombstone (ended_at set) until it expires, so a request still in flight on
-- another node cannot bring it back by saving it.
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY,
  sess TEXT NOT NULL,
  expires INTEGER NOT NULL,
  ended_at INTEGER
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE results (
  game_id TEXT PRIMARY KEY,
  code TEXT NOT NULL,
  finished_at INTEGER NOT NULL,
  rounds INTEGER NOT NULL,
  winner_account_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX results_finished_at ON results (finished_at);

CREATE TABLE result_players (
  game_id TEXT NOT NULL REFERENCES results (game_id) ON DELETE CASCADE,
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  won INTEGER NOT NULL CHECK (won IN (0, 1)),
  eliminated_round INTEGER,
  PRIMARY KEY (game_id, account_id)
) STRICT;
CREATE INDEX result_players_account ON result_players (account_id);

-- Games saved when the last node stops, resumed by the next node to start on this file.
-- Keyed by code like the replicated store; (epoch, owner, seq) orders writes the same way.
CREATE TABLE snapshots (
  code TEXT PRIMARY KEY,
  game_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  schema INTEGER NOT NULL,
  state TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
