// An entry of the replicated store, and the total order that decides which of two writes of
// the same key wins: higher epoch, then (tie-break between rival adopters) the owner id, then
// the higher sequence number within that owner's epoch. The store knows only this envelope;
// what `state` holds is the layer above's business (a game, for the sessions layer).

export interface StoreRecord<S extends object = object> {
  /** The key, e.g. a game's code "KEPS". */
  key: string;
  /** Node that owns the key and alone may write it in this epoch. */
  owner: string;
  /** Bumped by every adoption (handoff, takeover, cold start). */
  epoch: number;
  /** Bumped by every write of the owner within its epoch. */
  seq: number;
  /** Schema version of `state`; lets a node refuse what it cannot read. */
  schema: number;
  /**
   * The value, or null for a tombstone (e.g. a game that finished: its result is in the database).
   */
  state: S | null;
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
