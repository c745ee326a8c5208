// Prometheus metrics for one node. Created once per node and passed down; no global registry.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  playersConnected: Gauge;
  gamesOwned: Gauge;
  gamesReplicated: Gauge;
  actions: Counter<'result'>;
  rounds: Counter;
  renderSeconds: Histogram;
  partialsSent: Counter;
  wsRejected: Counter<'reason'>;
  meshPeers: Gauge;
  meshMessages: Counter<'direction'>;
  replicationOps: Counter<'direction'>;
  replicationLagSeconds: Gauge;
  catchUpSeconds: Gauge;
  handoffSeconds: Histogram;
  adoptions: Counter<'reason'>;
  forwarded: Counter;
  loginFailures: Counter;
  databaseUp: Gauge<'engine'>;
  databaseWaiting: Gauge<'kind'>;
  gamesRefused: Counter<'reason'>;
}

export function createMetrics(nodeId: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'minotaur_' });
  const r = [registry];
  return {
    registry,
    playersConnected: new Gauge({ name: 'minotaur_players_connected', help: 'Open live page sockets (game pages and lobbies)', registers: r }),
    gamesOwned: new Gauge({ name: 'minotaur_games_owned', help: 'Games this node owns and runs the clock of', registers: r }),
    gamesReplicated: new Gauge({ name: 'minotaur_games_replicated', help: 'Games in this node\'s replica', registers: r }),
    actions: new Counter({ name: 'minotaur_actions_total', help: 'Player actions by result', labelNames: ['result'], registers: r }),
    rounds: new Counter({ name: 'minotaur_rounds_resolved_total', help: 'Rounds resolved by this node', registers: r }),
    renderSeconds: new Histogram({
      name: 'minotaur_render_seconds',
      help: 'Time to render a page\'s partials for one update',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: r,
    }),
    partialsSent: new Counter({ name: 'minotaur_partials_sent_total', help: 'Changed partials pushed to pages', registers: r }),
    wsRejected: new Counter({ name: 'minotaur_ws_rejected_total', help: 'Refused WebSocket upgrades or messages', labelNames: ['reason'], registers: r }),
    meshPeers: new Gauge({ name: 'minotaur_mesh_peers', help: 'Live authenticated peers', registers: r }),
    meshMessages: new Counter({ name: 'minotaur_mesh_messages_total', help: 'Mesh messages', labelNames: ['direction'], registers: r }),
    replicationOps: new Counter({ name: 'minotaur_replication_ops_total', help: 'Replication operations', labelNames: ['direction'], registers: r }),
    replicationLagSeconds: new Gauge({ name: 'minotaur_replication_lag_seconds', help: 'Age of the newest applied remote write when it arrived', registers: r }),
    catchUpSeconds: new Gauge({ name: 'minotaur_catch_up_seconds', help: 'Duration of the last anti-entropy catch-up', registers: r }),
    handoffSeconds: new Histogram({ name: 'minotaur_handoff_seconds', help: 'Time to hand one game to a peer', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    adoptions: new Counter({ name: 'minotaur_adoptions_total', help: 'Games adopted by this node', labelNames: ['reason'], registers: r }),
    forwarded: new Counter({ name: 'minotaur_commands_forwarded_total', help: 'Player commands forwarded to the owner node', registers: r }),
    loginFailures: new Counter({ name: 'minotaur_login_failures_total', help: 'Failed logins', registers: r }),
    databaseUp: new Gauge({ name: 'minotaur_database_up', help: '1 while the database (SQLite or PostgreSQL) answers, 0 while it cannot be reached', labelNames: ['engine'], registers: r }),
    databaseWaiting: new Gauge({
      name: 'minotaur_database_waiting_writes',
      help: 'Writes kept in memory until the database answers: game snapshots (latest per game) and results of finished games',
      labelNames: ['kind'],
      registers: r,
    }),
    gamesRefused: new Counter({ name: 'minotaur_games_refused_total', help: 'Game creations refused by a per-account limit (open games, hourly rate)', labelNames: ['reason'], registers: r }),
  };
}
