// A game in the replicated store: the store's envelope (key, owner, epoch, seq) around a game
// state. The replication layer knows only the envelope; this is where the two meet.

import type { GameState } from '../game/types.js';
import type { StoredSnapshot } from '../db/index.js';
import type { StoreRecord } from '../replication/record.js';

export type GameRecord = StoreRecord<GameState>;

/** A saved snapshot as the store's record: what a node continues from, read from the database. */
export function recordOf(snap: StoredSnapshot): GameRecord {
  return {
    key: snap.code,
    owner: snap.owner,
    epoch: snap.epoch,
    seq: snap.seq,
    schema: snap.schema,
    state: snap.state,
    at: snap.updatedAt,
  };
}
