// A game's entry in the replicated store, and the total order that decides which of two
// writes of the same game wins: higher epoch, then (tie-break between rival adopters) the
// owner id, then the higher sequence number within that owner's epoch.

import type { GameState } from '../game/types.js';

/** Version of the record envelope itself (not of the game state inside it). */
export const RECORD_SCHEMA = 1;

export interface GameRecord {
  /** The game's code, e.g. "KEPS"; the store's key. */
  key: string;
  /** Node that owns the game and alone may write it in this epoch. */
  owner: string;
  /** Bumped by every adoption (handoff, takeover, cold start). */
  epoch: number;
  /** Bumped by every write of the owner within its epoch. */
  seq: number;
  /** Schema version of `state` (GameState.schema); lets a node refuse what it cannot read. */
  schema: number;
  /** The game, or null for a tombstone (the game finished and its result is in SQLite). */
  state: GameState | null;
  /** Wall-clock ms of the write; used only to expire tombstones. */
  at: number;
}

export interface Version {
  epoch: number;
  owner: string;
  seq: number;
}

export function compareVersion(a: Version, b: Version): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.owner !== b.owner) return a.owner < b.owner ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}
