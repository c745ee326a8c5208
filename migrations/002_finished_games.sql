-- The last state of every finished game, so its page (final board and result) can be shown
-- after the replicas dropped it, even after every node restarted; and the damage each
-- player dealt to other heroes, for profiles.
-- Never edit this file once released; add a new migration instead.

ALTER TABLE results ADD COLUMN final_schema INTEGER;
ALTER TABLE results ADD COLUMN final_state TEXT;
ALTER TABLE result_players ADD COLUMN dealt INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_code ON results (code, finished_at);
