// Node leases: each running node renews its row about once a second. Another node may claim a
// game only once its owner's lease has run out, so a live owner keeps its games even when the
// mesh cannot reach it (a partition), and a frozen or dead one loses them. Starting nodes read
// the live leases to find each other before DNS lists them.

import type { Kysely, Selectable } from 'kysely';
import type { Database, NodeLeasesTable } from './schema.js';

export interface NodeLease {
  nodeId: string;
  address: string;
  state: string;
  renewedAt: number;
}

export class NodeLeases {
  constructor(private readonly db: Kysely<Database>) {}

  async renew(nodeId: string, address: string, state: string, now: number): Promise<void> {
    await this.db
      .insertInto('node_leases')
      .values({ node_id: nodeId, address, state, renewed_at: Math.round(now) })
      .onConflict((oc) =>
        oc.column('node_id').doUpdateSet((eb) => ({
          address: eb.ref('excluded.address'),
          state: eb.ref('excluded.state'),
          renewed_at: eb.ref('excluded.renewed_at'),
        })),
      )
      .execute();
  }

  async get(nodeId: string): Promise<NodeLease | undefined> {
    const row = await this.db
      .selectFrom('node_leases')
      .selectAll()
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    return row ? toLease(row) : undefined;
  }

  /** Leases renewed after `since`. */
  async fresh(since: number): Promise<NodeLease[]> {
    const rows = await this.db
      .selectFrom('node_leases')
      .selectAll()
      .where('renewed_at', '>', Math.round(since))
      .orderBy('node_id')
      .execute();
    return rows.map(toLease);
  }

  /** A node that stopped cleanly gives its lease up, so its games can be claimed at once. */
  async release(nodeId: string): Promise<void> {
    await this.db.deleteFrom('node_leases').where('node_id', '=', nodeId).execute();
  }
}

function toLease(row: Selectable<NodeLeasesTable>): NodeLease {
  return { nodeId: row.node_id, address: row.address, state: row.state, renewedAt: row.renewed_at };
}
