// Node leases: each running node renews its row about once a second. Another node may claim a
// game only once its owner's lease has run out, so a live owner keeps its games even when the
// mesh cannot reach it (a partition), and a frozen or dead one loses them. Starting nodes read
// the live leases to find each other before DNS lists them.
//
// A lease's time is the database's: the renewal stamps it and a reader's question ("renewed in
// the last N ms?") is answered with one clock, so nodes on hosts whose clocks disagree still
// agree on which leases ran out. On PostgreSQL that is the server's clock; SQLite is a file on
// one host, whose processes share one clock, given here as `now`.

import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';

export interface NodeLease {
  nodeId: string;
  address: string;
  state: string;
  /** When it was last renewed, by the database's clock (ms). */
  renewedAt: number;
  /** How long ago that was, by the same clock, when it was read (ms). */
  ageMs: number;
}

/** Whose clock stamps and ages leases: the PostgreSQL server's, or a function (SQLite). */
export type LeaseClock = 'database' | (() => number);

export class NodeLeases {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: LeaseClock,
  ) {}

  /** The database's time now, in ms, as a value of the statement. */
  #now(): RawBuilder<number> {
    return this.clock === 'database'
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`${Math.round(this.clock())}`;
  }

  /** Renews `nodeId`'s lease; returns the database's stamp (ms). */
  async renew(nodeId: string, address: string, state: string): Promise<number> {
    const row = await this.db
      .insertInto('node_leases')
      .values({ node_id: nodeId, address, state, renewed_at: this.#now() })
      .onConflict((oc) =>
        oc.column('node_id').doUpdateSet((eb) => ({
          address: eb.ref('excluded.address'),
          state: eb.ref('excluded.state'),
          renewed_at: eb.ref('excluded.renewed_at'),
        })),
      )
      .returning('renewed_at')
      .executeTakeFirstOrThrow();
    return row.renewed_at;
  }

  async get(nodeId: string): Promise<NodeLease | undefined> {
    const row = await this.#select().where('node_id', '=', nodeId).executeTakeFirst();
    return row ? toLease(row) : undefined;
  }

  /** Leases renewed within the last `withinMs` (every lease when undefined), by node id. */
  async fresh(withinMs?: number): Promise<NodeLease[]> {
    let query = this.#select();
    if (withinMs !== undefined)
      query = query.where(sql<boolean>`renewed_at > ${this.#now()} - ${Math.round(withinMs)}`);
    return (await query.orderBy('node_id').execute()).map(toLease);
  }

  /** A node that stopped cleanly gives its lease up, so its games can be claimed at once. */
  async release(nodeId: string): Promise<void> {
    await this.db.deleteFrom('node_leases').where('node_id', '=', nodeId).execute();
  }

  #select() {
    return this.db
      .selectFrom('node_leases')
      .select(['node_id', 'address', 'state', 'renewed_at'])
      .select(sql<number>`${this.#now()} - renewed_at`.as('age_ms'));
  }
}

function toLease(row: {
  node_id: string;
  address: string;
  state: string;
  renewed_at: number;
  age_ms: number;
}): NodeLease {
  return {
    nodeId: row.node_id,
    address: row.address,
    state: row.state,
    renewedAt: row.renewed_at,
    ageMs: Math.max(0, row.age_ms),
  };
}
