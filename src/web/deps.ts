// What the web layer is given by the node that composes it.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Store } from 'express-session';
import type { LifecycleView } from '../cluster/lifecycle.js';
import type { MeshChannel } from '../cluster/types.js';
import type { SharedCounters } from './shared-rate-store.js';
import type { SessionsView } from './ended-sessions.js';
import type { Config } from '../config.js';
import type { Accounts } from '../db/accounts.js';
import type { Results } from '../db/results.js';
import type { DatabaseHealth } from '../db/storage.js';
import type { LiveHub } from '../live/hub.js';
import type { Failing } from '../sessions/ledger.js';
import type { Renderer } from '../live/render.js';
import type { GameSource } from '../live/source.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface CreateOutcome {
  ok: boolean;
  code?: string;
  message?: string;
}

export interface Games extends GameSource {
  create(creator: { id: string; name: string }): Promise<CreateOutcome>;
}

/** The database as operators see it: its health, and the writes kept until it answers. */
export interface DatabaseView extends DatabaseHealth {
  waiting: { snapshots: number; results: number };
  /**
   * Since when this node's game saves fail, and why, while they do (null otherwise). On SQLite
   * reads go on while another process holds the write lock: the database is up, saves fail.
   */
  savesFailing: (Failing & { why: string | null }) | null;
  /** This node's clock minus the database's (ms), from its last lease renewal; null before it. */
  clockOffsetMs: number | null;
}

/** What the operator pages show about the cluster; null fields when running single-node. */
export interface ClusterView {
  nodeId: string;
  members(): {
    id: string;
    address: string;
    state: string;
    version: string;
    lastSeen: number;
    self: boolean;
    games: number;
  }[];
  replication(): Record<string, number | string | null>;
  /** The replicated record of a game (incl. tombstones), for the operator inspector. */
  record(code: string): unknown;
  /** Whether the database answers, and what waits for it, for the operator pages. */
  database(): DatabaseView;
}

export interface WebDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  renderer: Renderer;
  accounts: Accounts;
  results: Results;
  /** Sessions in the shared database; a password change ends the account's other sessions. */
  sessionStore: Store & {
    endSessionsOf(userId: string, keepSid?: string): Promise<number>;
  } & SessionsView;
  /** Rate-limit counters every node shares (failed logins, sign-ups, new games). */
  rateCounters: SharedCounters;
  games: Games;
  hub: LiveHub;
  cluster: ClusterView;
  /** The node's lifecycle state: the health check, upgrades and pages read it. */
  lifecycle: LifecycleView;
  /** The cluster mesh's endpoint, when clustering is on. */
  mesh?: MeshEndpoint;
  /** The mesh channel on which nodes tell each other of ended sessions (ended-sessions.ts). */
  accountsChannel: MeshChannel;
  passwords: {
    hash(password: string): Promise<string>;
    verify(password: string, stored: string): Promise<boolean>;
    dummyVerify(password: string): Promise<boolean>;
    /** Whether a stored hash is below the configured cost (it is redone at the next login). */
    needsRehash(stored: string): boolean;
  };
  now(): number;
}

/** Where the mesh is served: upgrades on `path` go to it, with its own frame limit. */
export interface MeshEndpoint {
  readonly path: string;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}
