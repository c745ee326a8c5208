// What the web layer is given by the node that composes it.

import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { Accounts } from '../db/accounts.js';
import type { Results } from '../db/results.js';
import type { DatabaseHealth } from '../db/storage.js';
import type { LiveHub } from '../live/hub.js';
import type { Renderer } from '../live/render.js';
import type { GameSource, LiveWire } from '../live/source.js';
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
}

/** What the operator pages show about the cluster; null fields when running single-node. */
export interface ClusterView {
  nodeId: string;
  state(): string;
  members(): { id: string; address: string; state: string; version: string; lastSeen: number; self: boolean; games: number }[];
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
  sessionStore: import('express-session').Store;
  games: Games;
  hub: LiveHub;
  cluster: ClusterView;
  /** True only while the node is ready (health check). */
  isReady(): boolean;
  isDraining(): boolean;
  /** Mounts the cluster mesh endpoint, when clustering is on. */
  acceptMesh?: (socket: LiveWire, req: IncomingMessage) => void;
  meshPath?: string;
  passwords: {
    hash(password: string): Promise<string>;
    verify(password: string, stored: string): Promise<boolean>;
    dummyVerify(password: string): Promise<boolean>;
  };
  now(): number;
  /** Refreshes gauges just before /metrics is scraped. */
  beforeMetrics?: () => void;
}
