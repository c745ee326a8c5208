-- Node leases: every running node renews its row about once a second. A game whose owner's
-- lease has run out may be claimed by another node (compare-and-set on its snapshot row); a
-- live owner's games never are, even when the mesh cannot reach it. Starting nodes also find
-- each other here before DNS lists them.
CREATE TABLE node_leases (
  node_id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  renewed_at INTEGER NOT NULL
) STRICT;
