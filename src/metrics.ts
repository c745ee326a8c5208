// Prometheus metrics for one node. Created once per node and passed down; no global registry.
// Counts kept elsewhere (the mesh's, the replica's, the hub's) are read at scrape time by
// collect() from the sources the node registers, never copied by hand.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the node's layers report when /metrics is scraped. */
export interface MetricSources {
  gamesOwned(): number;
  gamesReplicated(): number;
  playersConnected(): number;
  /** Absent when the node runs alone. */
  mesh?(): { peers: number; messagesIn: number; messagesOut: number };
  replication(): {
    opsIn: number;
    opsOut: number;
    deltasOut: number;
    missingIn: number;
    lastCatchUpMs: number | null;
  };
  /** Writes kept in memory until the database answers. */
  databaseWaiting(): { snapshots: number; results: number };
  /** How long this node's game saves have been failing, in seconds; 0 while they work. */
  savesFailingSeconds(): number;
  /** This node's clock minus the database's, in seconds; null before the first lease renewal. */
  databaseClockOffsetSeconds(): number | null;
  /** Renders of spectators' and lobby pages put off to a later turn of the event loop. */
  rendersDeferred(): number;
}

export interface Metrics {
  registry: Registry;
  actions: Counter<'result'>;
  rounds: Counter;
  roundLateSeconds: Histogram;
  renderSeconds: Histogram;
  partialsSent: Counter;
  wsRejected: Counter<'reason'>;
  liveMoved: Counter;
  replicationLagSeconds: Gauge;
  handoffSeconds: Histogram;
  handoffAdoptionSeconds: Histogram;
  adoptions: Counter<'reason'>;
  forwarded: Counter;
  loginFailures: Counter;
  rateLimited: Counter<'limit'>;
  databaseUp: Gauge<'engine'>;
  databaseWaiting: Gauge<'kind'>;
  checkpointSeconds: Histogram;
  checkpointLogPages: Gauge<'pages'>;
  gamesRefused: Counter<'reason'>;
  finalStatesDropped: Counter;
  /** Registers where the scrape-time metrics read from (once the layers exist). */
  observe(sources: MetricSources): void;
}
export function createMetrics(nodeId: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'minotaur_' });
  const r = [registry];
  let sources: MetricSources | undefined;
  /** A gauge read from the sources at scrape time. */
  const observed = (
    name: string,
    help: string,
    read: (s: MetricSources) => number | null | undefined,
  ): Gauge =>
    new Gauge({
      name,
      help,
      registers: r,
      collect() {
        const value = sources ? read(sources) : undefined;
        if (value !== undefined && value !== null) this.set(value);
      },
    });
  /** A total by direction, read from the sources at scrape time. */
  const totals = (
    name: string,
    help: string,
    read: (s: MetricSources) => { in: number; out: number } | undefined,
  ): Counter<'direction'> =>
    new Counter({
      name,
      help,
      labelNames: ['direction'],
      registers: r,
      collect() {
        const value = sources ? read(sources) : undefined;
        if (value === undefined) return;
        this.reset();
        this.inc({ direction: 'in' }, value.in);
        this.inc({ direction: 'out' }, value.out);
      },
    });
  observed('minotaur_players_connected', 'Open live page sockets (game pages and lobbies)', (s) =>
    s.playersConnected(),
  );
  observed('minotaur_games_owned', 'Games this node owns and runs the clock of', (s) =>
    s.gamesOwned(),
  );
  observed(
    'minotaur_game_saves_failing_seconds',
    "How long this node's game saves have been failing (0 while they work): the database may answer reads while saves fail, e.g. a SQLite file whose write lock another process holds",
    (s) => s.savesFailingSeconds(),
  );
  observed(
    'minotaur_database_clock_offset_seconds',
    "This host's clock minus the database's, measured at each lease renewal (the database's stamp against the middle of the round trip; 0 on SQLite, which shares the host's clock). Leases do not depend on it, and the node keeps the database's time for games and pages (it steers its clock by this); its logs keep the host's",
    (s) => s.databaseClockOffsetSeconds(),
  );
  observed('minotaur_games_replicated', "Games in this node's replica", (s) => s.gamesReplicated());
  observed('minotaur_mesh_peers', 'Live authenticated peers', (s) => s.mesh?.().peers ?? 0);
  observed('minotaur_catch_up_seconds', 'Duration of the last anti-entropy catch-up', (s) => {
    const ms = s.replication().lastCatchUpMs;
    return ms === null ? null : ms / 1000;
  });
  totals('minotaur_mesh_messages_total', 'Mesh messages', (s) => {
    const mesh = s.mesh?.();
    return mesh && { in: mesh.messagesIn, out: mesh.messagesOut };
  });
  totals('minotaur_replication_ops_total', 'Replication operations', (s) => {
    const { opsIn, opsOut } = s.replication();
    return { in: opsIn, out: opsOut };
  });
  new Counter({
    name: 'minotaur_live_renders_deferred_total',
    help: "Renders of spectators' and lobby pages put off to a later turn of the event loop, so that players' pages and other games went first (each render counted once)",
    registers: r,
    collect() {
      if (!sources) return;
      this.reset();
      this.inc(sources.rendersDeferred());
    },
  });
  new Counter({
    name: 'minotaur_replication_deltas_total',
    help: 'Writes sent to peers as the members that changed (sent), and those a peer could not apply for want of the version before (missing: sent again whole)',
    labelNames: ['outcome'],
    registers: r,
    collect() {
      const stats = sources?.replication();
      if (stats === undefined) return;
      this.reset();
      this.inc({ outcome: 'sent' }, stats.deltasOut);
      this.inc({ outcome: 'missing' }, stats.missingIn);
    },
  });
  return {
    registry,
    observe: (s) => {
      sources = s;
    },
    actions: new Counter({
      name: 'minotaur_actions_total',
      help: 'Player actions by result',
      labelNames: ['result'],
      registers: r,
    }),
    rounds: new Counter({
      name: 'minotaur_rounds_resolved_total',
      help: 'Rounds resolved by this node',
      registers: r,
    }),
    roundLateSeconds: new Histogram({
      name: 'minotaur_round_late_seconds',
      help: 'How long after its deadline a round was resolved, for each round resolved after it (players see the countdown at 0 meanwhile): an overloaded node, or one holding rounds while cut off',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    renderSeconds: new Histogram({
      name: 'minotaur_render_seconds',
      help: "Time to render a page's partials for one update",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: r,
    }),
    partialsSent: new Counter({
      name: 'minotaur_partials_sent_total',
      help: 'Changed partials pushed to pages',
      registers: r,
    }),
    wsRejected: new Counter({
      name: 'minotaur_ws_rejected_total',
      help: 'Refused WebSocket upgrades or messages',
      labelNames: ['reason'],
      registers: r,
    }),
    liveMoved: new Counter({
      name: 'minotaur_live_moved_total',
      help: 'Pages closed (1012) so they reconnect to a node that reaches their game across a network cut',
      registers: r,
    }),
    replicationLagSeconds: new Gauge({
      name: 'minotaur_replication_lag_seconds',
      help: 'Age of the newest applied remote write when it arrived',
      registers: r,
    }),
    handoffSeconds: new Histogram({
      name: 'minotaur_handoff_seconds',
      help: 'Time to hand one game to a peer',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    // Observed on the node that stays: the draining node's handoffSeconds leaves with it (it is
    // out of DNS, and of Prometheus's targets, as soon as it drains).
    handoffAdoptionSeconds: new Histogram({
      name: 'minotaur_handoff_adoption_seconds',
      help: "Time from a draining peer's handoff request reaching this node to the game running here (the request's trip and the peer's pause before it are not included)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    adoptions: new Counter({
      name: 'minotaur_adoptions_total',
      help: 'Games adopted by this node',
      labelNames: ['reason'],
      registers: r,
    }),
    forwarded: new Counter({
      name: 'minotaur_commands_forwarded_total',
      help: 'Player commands forwarded to the owner node',
      registers: r,
    }),
    loginFailures: new Counter({
      name: 'minotaur_login_failures_total',
      help: 'Failed logins',
      registers: r,
    }),
    rateLimited: new Counter({
      name: 'minotaur_rate_limited_total',
      help: 'Requests refused by a limit: 429 for those the cluster counts together (failed logins per address and name, limit="login"; per address, "login-address"; sign-ups per address; wrong current passwords per account, "password"; logging out other devices per account, "logout-others"; seats taken or left and games started per account and node, "seats"; wrong operator tokens per address, counted by each node, "admin-token"; game pages that found no game per address and node, "game-codes"), 503 for a password check past those waiting their turn ("hashing")',
      labelNames: ['limit'],
      registers: r,
    }),
    finalStatesDropped: new Counter({
      name: 'minotaur_final_states_dropped_total',
      help: 'Final boards of finished games dropped by this node after FINAL_STATE_DAYS (their results stay)',
      registers: r,
    }),
    databaseUp: new Gauge({
      name: 'minotaur_database_up',
      help: '1 while the database (SQLite or PostgreSQL) answers, 0 while it cannot be reached',
      labelNames: ['engine'],
      registers: r,
    }),
    checkpointSeconds: new Histogram({
      name: 'minotaur_sqlite_checkpoint_seconds',
      help: "SQLite: time to copy the write-ahead log into the database file, on the node's checkpoint thread (not its event loop)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    }),
    checkpointLogPages: new Gauge({
      name: 'minotaur_sqlite_wal_pages',
      help: 'SQLite: pages in the write-ahead log at the last checkpoint, and how many of them are in the database file',
      labelNames: ['pages'],
      registers: r,
    }),
    databaseWaiting: new Gauge({
      name: 'minotaur_database_waiting_writes',
      help: 'Writes kept in memory until the database answers: game snapshots (latest per game) and results of finished games',
      labelNames: ['kind'],
      registers: r,
      collect() {
        if (!sources) return;
        const waiting = sources.databaseWaiting();
        this.set({ kind: 'snapshots' }, waiting.snapshots);
        this.set({ kind: 'results' }, waiting.results);
      },
    }),
    gamesRefused: new Counter({
      name: 'minotaur_games_refused_total',
      help: 'Game creations refused by a per-account limit (open games, hourly rate)',
      labelNames: ['reason'],
      registers: r,
    }),
  };
}
