// Games saved to SQLite when no peer can adopt them (the last node stopping), resumed by the
// next node that starts on this file. A save never replaces a newer version of the game.

import type { GameState } from '../game/types.js';
import { compareVersion } from '../replication/record.js';
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

export class Snapshots {
  private readonly selectVersion;
  private readonly upsert;
  private readonly selectAll;
  private readonly deleteOne;
  private readonly saveTx;

  constructor(
    db: Db,
    private readonly options: { now?: () => number; logger?: DbLogger } = {},
  ) {
    this.selectVersion = db.prepare('SELECT epoch, owner, seq FROM snapshots WHERE code = ?');
    this.upsert = db.prepare(
      `INSERT INTO snapshots (code, game_id, owner, epoch, seq, schema, state, updated_at)
       VALUES (@code, @gameId, @owner, @epoch, @seq, @schema, @state, @updatedAt)
       ON CONFLICT (code) DO UPDATE SET game_id = excluded.game_id, owner = excluded.owner,
         epoch = excluded.epoch, seq = excluded.seq, schema = excluded.schema,
         state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.selectAll = db.prepare('SELECT * FROM snapshots ORDER BY code');
    this.deleteOne = db.prepare('DELETE FROM snapshots WHERE code = ? AND game_id = ?');
    // Read and write under one write lock, comparing with the replicated store's own order,
    // so two nodes saving the same game at once leave the newer version whatever the timing.
    this.saveTx = db.transaction((snap: Snapshot): boolean => {
      const current = this.selectVersion.get(snap.code) as { epoch: number; owner: string; seq: number } | undefined;
      if (current && compareVersion(snap, current) <= 0) return false;
      this.upsert.run({
        code: snap.code,
        gameId: snap.gameId,
        owner: snap.owner,
        epoch: snap.epoch,
        seq: snap.seq,
        schema: snap.schema,
        state: JSON.stringify(snap.state),
        updatedAt: (this.options.now ?? Date.now)(),
      });
      return true;
    });
  }

  /** Saves the game unless a newer or equal version is already saved; true if written. */
  save(snapshot: Snapshot): boolean {
    return this.saveTx.immediate(snapshot);
  }

  /** Every saved game, state parsed. Rows whose state cannot be parsed are skipped and logged. */
  all(): StoredSnapshot[] {
    const out: StoredSnapshot[] = [];
    for (const row of this.selectAll.all() as SnapshotRow[]) {
      let state: GameState;
      try {
        state = JSON.parse(row.state) as GameState;
      } catch (err) {
        this.options.logger?.warn({ err, code: row.code }, `snapshot of game ${row.code} is unreadable; skipped`);
        continue;
      }
      out.push({
        code: row.code,
        gameId: row.game_id,
        owner: row.owner,
        epoch: row.epoch,
        seq: row.seq,
        schema: row.schema,
        state,
        updatedAt: row.updated_at,
      });
    }
    return out;
  }

  /** Removes the snapshot of `code` only if it is still of game `gameId`; true if removed. */
  remove(code: string, gameId: string): boolean {
    return this.deleteOne.run(code, gameId).changes === 1;
  }
}
