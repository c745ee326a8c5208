// The durable copy of every running game: its owner saves each write here before the write
// is acknowledged, and a node that adopts a game claims it here by compare-and-set. The
// (epoch, owner, seq) order of the replicated store is compared in SQL: a save never replaces
// a newer version, and of two nodes claiming the same game from the same version exactly one
// wins.

import type { GameState } from '../game/types.js';
import type { Db } from './database.js';
import type { DbLogger } from './logger.js';

export interface Snapshot {
  code: string;
  gameId: string;
  owner: string;
  epoch: number;
  seq: number;
  schema: number;
  state: GameState;
}

export interface StoredSnapshot extends Snapshot {
  updatedAt: number;
}

interface SnapshotRow {
  code: string;
  game_id: string;
  owner: string;
  epoch: number;
  seq: number;
  schema: number;
  state: string;
  updated_at: number;
}

export interface SnapshotVersion {
  epoch: number;
  owner: string;
  seq: number;
}

/** SQL: the row's version is newer than (or, with `orEqual`, the same as) the parameters'. */
const ROW_NEWER = (orEqual: boolean) =>
  `(snapshots.epoch > @epoch OR (snapshots.epoch = @epoch AND (snapshots.owner > @owner OR (snapshots.owner = @owner AND snapshots.seq ${orEqual ? '>=' : '>'} @seq))))`;

/** Inserts or replaces a game's row with the values named @next…, if `condition` holds for the row. */
const UPSERT_IF = (condition: string) => `INSERT INTO snapshots (code, game_id, owner, epoch, seq, schema, state, updated_at)
  VALUES (@code, @gameId, @nextOwner, @nextEpoch, @nextSeq, @schema, @state, @updatedAt)
  ON CONFLICT (code) DO UPDATE SET game_id = excluded.game_id, owner = excluded.owner,
    epoch = excluded.epoch, seq = excluded.seq, schema = excluded.schema,
    state = excluded.state, updated_at = excluded.updated_at
  WHERE ${condition}`;

export class Snapshots {
  private readonly upsertNewer;
  private readonly upsertClaim;
  private readonly selectOne;
  private readonly selectAll;
  private readonly deleteOne;

  constructor(
    db: Db,
    private readonly options: { now?: () => number; logger?: DbLogger } = {},
  ) {
    // One statement each, so the comparison and the write happen under one lock.
    this.upsertNewer = db.prepare(UPSERT_IF(`NOT ${ROW_NEWER(true)}`));
    this.upsertClaim = db.prepare(UPSERT_IF(`NOT ${ROW_NEWER(false)}`));
    this.selectOne = db.prepare('SELECT * FROM snapshots WHERE code = ?');
    this.selectAll = db.prepare('SELECT * FROM snapshots ORDER BY code');
    this.deleteOne = db.prepare('DELETE FROM snapshots WHERE code = ? AND game_id = ?');
  }

  /** Parameters writing `snap`, compared against the version `than`. */
  private params(snap: Snapshot, than: SnapshotVersion): Record<string, unknown> {
    return {
      code: snap.code,
      gameId: snap.gameId,
      nextOwner: snap.owner,
      nextEpoch: snap.epoch,
      nextSeq: snap.seq,
      owner: than.owner,
      epoch: than.epoch,
      seq: than.seq,
      schema: snap.schema,
      state: JSON.stringify(snap.state),
      updatedAt: Math.round((this.options.now ?? Date.now)()),
    };
  }

  /** Saves the game unless a newer or equal version is already saved; true if written. */
  save(snapshot: Snapshot): boolean {
    return this.upsertNewer.run(this.params(snapshot, snapshot)).changes === 1;
  }

  /**
   * Compare-and-set for adoption: writes `next` only if no version newer than `base` is saved
   * (the game is still where the adopter saw it). True if written.
   */
  claim(base: SnapshotVersion, next: Snapshot): boolean {
    return this.upsertClaim.run(this.params(next, base)).changes === 1;
  }

  /** The saved game with this code, or undefined (also when its state cannot be parsed). */
  get(code: string): StoredSnapshot | undefined {
    const row = this.selectOne.get(code) as SnapshotRow | undefined;
    return row ? this.parse(row) : undefined;
  }

  private parse(row: SnapshotRow): StoredSnapshot | undefined {
    let state: GameState;
    try {
      state = JSON.parse(row.state) as GameState;
    } catch (err) {
      this.options.logger?.warn({ err, code: row.code }, `snapshot of game ${row.code} is unreadable; skipped`);
      return undefined;
    }
    return { code: row.code, gameId: row.game_id, owner: row.owner, epoch: row.epoch, seq: row.seq, schema: row.schema, state, updatedAt: row.updated_at };
  }

  /** Every saved game, state parsed. Rows whose state cannot be parsed are skipped and logged. */
  all(): StoredSnapshot[] {
    const out: StoredSnapshot[] = [];
    for (const row of this.selectAll.all() as SnapshotRow[]) {
      const snap = this.parse(row);
      if (snap) out.push(snap);
    }
    return out;
  }

  /** Removes the snapshot of `code` only if it is still of game `gameId`; true if removed. */
  remove(code: string, gameId: string): boolean {
    return this.deleteOne.run(code, gameId).changes === 1;
  }
}
