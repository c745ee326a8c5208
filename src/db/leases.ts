// Node leases: each running node renews its row about once a second. Another node may claim a
// game only once its owner's lease has run out, so a live owner keeps its games even when the
// mesh cannot reach it (a partition), and a frozen or dead one loses them. Starting nodes read
// the live leases to find each other before DNS lists them.

import type { Db } from './database.js';

export interface NodeLease {
  nodeId: string;
  address: string;
  state: string;
  renewedAt: number;
}

interface LeaseRow {
  node_id: string;
  address: string;
  state: string;
  renewed_at: number;
}

export class NodeLeases {
  private readonly upsert;
  private readonly selectOne;
  private readonly selectFresh;
  private readonly deleteOne;

  constructor(db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO node_leases (node_id, address, state, renewed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, state = excluded.state, renewed_at = excluded.renewed_at`,
    );
    this.selectOne = db.prepare('SELECT * FROM node_leases WHERE node_id = ?');
    this.selectFresh = db.prepare('SELECT * FROM node_leases WHERE renewed_at > ? ORDER BY node_id');
    this.deleteOne = db.prepare('DELETE FROM node_leases WHERE node_id = ?');
  }

  renew(nodeId: string, address: string, state: string, now: number): void {
    this.upsert.run(nodeId, address, state, Math.round(now));
  }

  get(nodeId: string): NodeLease | undefined {
    const row = this.selectOne.get(nodeId) as LeaseRow | undefined;
    return row ? toLease(row) : undefined;
  }

  /** Leases renewed after `since`. */
  fresh(since: number): NodeLease[] {
    return (this.selectFresh.all(Math.round(since)) as LeaseRow[]).map(toLease);
  }

  /** A node that stopped cleanly gives its lease up, so its games can be claimed at once. */
  release(nodeId: string): void {
    this.deleteOne.run(nodeId);
  }
}

function toLease(row: LeaseRow): NodeLease {
  return { nodeId: row.node_id, address: row.address, state: row.state, renewedAt: row.renewed_at };
}
