// One Minotaur node: composes the layers (db → replication → sessions → live → web, with the
// cluster beside them) and walks the lifecycle starting → joining → ready → draining → stopped.

import { randomInt, randomUUID } from 'node:crypto';
import { SteeredClock } from './clock.js';
import type { Config } from './config.js';
import { chooseAdvertiseHost } from './cluster/advertise.js';
import { Discovery } from './cluster/discovery.js';
import { Lifecycle } from './cluster/lifecycle.js';
import { Mesh } from './cluster/mesh.js';
import { soloChannel } from './cluster/solo.js';
import type { MeshChannel, NodeState } from './cluster/types.js';
import {
  describeOutage,
  needsRehash,
  verifyNoAccount,
  hashPassword,
  scryptCost,
  openStorage,
  ResultOutbox,
  verifyPassword,
  type Storage,
} from './db/index.js';
import { checkGameState, checkGameStateMembers } from './game/schema.js';
import { GAME_SCHEMA, type GameState } from './game/types.js';
import { canRead, checkStoredState, readableSchemas } from './game/upgrade.js';
import { LiveHub } from './live/hub.js';
import { Renderer } from './live/render.js';
import { rendersDeferred } from './live/live-socket.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Replica } from './replication/replica.js';
import { DELTA_CAPABILITY, REPLICATION_CHANNEL } from './replication/protocol.js';
import type { StoreRecord } from './replication/record.js';
import { ReplicaSync } from './replication/sync.js';
import { GameSessions } from './sessions/registry.js';
import { SESSIONS_CHANNEL } from './sessions/protocol.js';
import { ACCOUNTS_CHANNEL, SESSION_NOTICES_CAPABILITY } from './web/ended-sessions.js';
import { createWebServer, VIEWS_DIR, type WebServer } from './web/app.js';
import type { ClusterView, Games } from './web/deps.js';
import { gatePasswords } from './web/password-gate.js';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long a node stopped outside a drain lets requests already in progress finish. */
const STOP_REQUESTS_MS = 2000;
/**
 * What a drain keeps of its budget once requests are cut: the 0.5 s closeServer gives upgraded
 * sockets, then the lease, the last writes and the database's close.
 */
const STOP_AFTER_REQUESTS_MS = 1500;

/**
 * Waits for requests in progress, at most `graceMs`, then stops accepting connections. The node
 * listens on meanwhile so that its health check keeps answering (503: out of rotation, nothing
 * new arrives): a load balancer whose checks found the port closed would mark the node down and
 * cut what it still answers (HAProxy's `on-marked-down shutdown-sessions` turned a sign-up
 * hashing its password on a loaded host into a 502).
 */
async function closeServer(web: WebServer, graceMs: number): Promise<void> {
  const { server, requests } = web;
  const deadline = Date.now() + graceMs;
  server.closeIdleConnections();
  await requests.settled(graceMs);
  const left = Math.max(0, deadline - Date.now());
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), left);
    // A socket that is no HTTP request any more (an upgraded one) ends with the process.
    const giveUp = setTimeout(resolve, left + 500);
    server.close(() => {
      clearTimeout(cut);
      clearTimeout(giveUp);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export class MinotaurNode {
  /** The one record of this node's state: the mesh announces it, the web layer reads it. */
  private readonly life = new Lifecycle('starting');
  private storage: Storage | null = null;
  private web: WebServer | null = null;
  private mesh: Mesh | null = null;
  private discovery: Discovery | null = null;
  private sync: ReplicaSync<GameState> | null = null;
  private sessions: GameSessions | null = null;
  private outbox: ResultOutbox | null = null;
  /**
   * The node's time for games, pages and replication: the host's clock set to the database's at
   * each lease renewal, so that a round's deadline means one moment on every node (SteeredClock).
   */
  private readonly clock = new SteeredClock();
  private readonly hub = new LiveHub();
  readonly metrics: Metrics;
  private draining: Promise<void> | null = null;
  /** Stops waiting for the database when SIGTERM comes first. */
  private readonly startAborted = new AbortController();

  constructor(
    readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.metrics = createMetrics(config.nodeId);
  }

  get lifecycle(): NodeState {
    return this.life.state;
  }

  private setState(next: NodeState): void {
    const from = this.life.state;
    if (this.life.to(next))
      this.logger.info({ from, to: next }, `node ${this.config.nodeId} is ${next}`);
  }

  private advertiseHost = '127.0.0.1';

  get address(): string {
    return `${this.advertiseHost}:${this.port}`;
  }

  get port(): number {
    const a = this.web?.server.address();
    return a && typeof a === 'object' ? a.port : this.config.port;
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    // PostgreSQL is not asked anything yet: the node listens first, so that while it waits
    // for the database its health check can say 503 instead of the port being closed.
    const storage = openStorage(config.database, {
      logger,
      poolMax: config.databasePoolMax,
      synchronous: config.sqliteSynchronous,
      ...(config.finalStateDays > 0
        ? {
            finalStates: {
              keepMs: config.finalStateDays * 24 * 60 * 60 * 1000,
              onPruned: (n: number) => this.metrics.finalStatesDropped.inc(n),
            },
          }
        : {}),
      onCheckpoint: (run) => {
        if (run.busy) return;
        this.metrics.checkpointSeconds.observe(run.ms / 1000);
        this.metrics.checkpointLogPages.set({ pages: 'log' }, run.log);
        this.metrics.checkpointLogPages.set({ pages: 'checkpointed' }, run.checkpointed);
      },
    });
    this.storage = storage;
    const { accounts, results, snapshots } = storage;
    const dbUp = this.metrics.databaseUp.labels({ engine: storage.engine });
    dbUp.set(0);
    // Results of games that finish while the database is away wait here, and go in when it answers.
    const outbox = new ResultOutbox(results, { logger, clock: this.clock });
    this.outbox = outbox;
    storage.onHealthChange((h) => {
      dbUp.set(h.state === 'up' ? 1 : 0);
      if (h.state === 'up') outbox.retryNow();
    });

    const { clock } = this;
    const replica = new Replica<GameState>();
    const clustered = config.cluster.query !== null;
    this.advertiseHost =
      config.advertiseHost ??
      (clustered
        ? await chooseAdvertiseHost(config.cluster, logger, config.advertiseSubnet)
        : '127.0.0.1');
    let replicationChannel: MeshChannel;
    let sessionsChannel: MeshChannel;
    let accountsChannel: MeshChannel;
    if (clustered) {
      this.mesh = new Mesh({
        nodeId: config.nodeId,
        address: `${this.advertiseHost}:${config.port}`,
        secret: config.cluster.secret as string,
        version: config.version,
        schemas: readableSchemas(),
        caps: [DELTA_CAPABILITY, SESSION_NOTICES_CAPABILITY],
        logger,
        lifecycle: this.life,
        heartbeatMs: config.cluster.heartbeatMs,
        downAfterMs: config.cluster.peerDownMs,
        ...(config.host !== '0.0.0.0' && config.host !== '::'
          ? { localAddress: this.advertiseHost }
          : {}),
      });
      replicationChannel = this.mesh.channel(REPLICATION_CHANNEL);
      sessionsChannel = this.mesh.channel(SESSIONS_CHANNEL);
      accountsChannel = this.mesh.channel(ACCOUNTS_CHANNEL);
    } else {
      replicationChannel = soloChannel(config.nodeId);
      sessionsChannel = soloChannel(config.nodeId);
      accountsChannel = soloChannel(config.nodeId);
    }

    const checkContent = (record: StoreRecord): string | undefined => {
      if (canRead(record.schema))
        return checkStoredState(record.state, record.schema, checkGameState);
      // A schema this release cannot read is kept for a newer member that can; one that no
      // member of the cluster reads is junk that would wedge the game.
      const readers =
        this.mesh
          ?.members()
          .filter((m) => m.id !== config.nodeId && m.schemas.includes(record.schema)) ?? [];
      return readers.length > 0
        ? undefined
        : `schema ${record.schema} is read by no member of the cluster`;
    };
    const sync = new ReplicaSync<GameState>({
      replica,
      channel: replicationChannel,
      logger,
      now: () => clock.now(),
      checkContent,
      // A delta onto a current-schema state: only what changed (the rest was checked before).
      checkChanged: (record, changed) =>
        record.schema === GAME_SCHEMA
          ? checkGameStateMembers(record.state, changed)
          : checkContent(record),
    });
    this.sync = sync;
    sync.onChange((_key, _current, _previous, applied) => {
      // Nodes of one cluster share a clock source closely enough for this to be the lag.
      if (applied.owner !== config.nodeId) {
        lastLagMs = Math.max(0, clock.now() - applied.at);
        this.metrics.replicationLagSeconds.set(lastLagMs / 1000);
      }
    });
    let lastLagMs: number | null = null;
    const mesh = this.mesh;
    const sessions = new GameSessions({
      nodeId: config.nodeId,
      version: config.version,
      clock,
      replica,
      sync,
      channel: sessionsChannel,
      results: outbox,
      snapshots,
      leases: storage.leases,
      address: () => this.address,
      logger,
      metrics: this.metrics,
      random: {
        code: () => Array.from({ length: 4 }, () => LETTERS[randomInt(26)]).join(''),
        seed: () => randomInt(2 ** 31),
        id: () => randomUUID(),
      },
      roundMs: config.roundMs,
      finishedRetentionMs: config.finishedRetentionMs,
      selfState: () => this.life.state,
      clockHealthy: () => !mesh || !mesh.isSuspect(),
      orphanGraceMs: config.cluster.peerDownMs,
    });
    /** Writes kept in memory until the database answers (operator page and metrics). */
    const databaseWaiting = () => ({
      snapshots: sessions.storage().unsaved,
      results: outbox.waiting,
    });
    this.sessions = sessions;

    const renderer = new Renderer(VIEWS_DIR);
    const games: Games = sessions;
    const cluster: ClusterView = {
      nodeId: config.nodeId,
      members: () => {
        const counts = new Map<string, number>();
        for (const r of replica.live()) counts.set(r.owner, (counts.get(r.owner) ?? 0) + 1);
        const self = {
          id: config.nodeId,
          address: this.address,
          state: this.life.state,
          version: config.version,
          lastSeen: Date.now(),
          self: true,
          games: counts.get(config.nodeId) ?? 0,
        };
        const peers = (mesh?.members() ?? [])
          .filter((m) => m.id !== config.nodeId)
          .map((m) => ({
            id: m.id,
            address: m.address,
            state: m.state,
            version: m.version,
            lastSeen: m.lastSeen,
            self: false,
            games: counts.get(m.id) ?? 0,
          }));
        return [self, ...peers];
      },
      record: (code) => {
        const rec = replica.getAny(code);
        if (!rec) return null;
        // A write of this node that no peer or database holds yet is marked: it may be replaced.
        return rec.owner === config.nodeId && sessions.unconfirmed(code)
          ? { ...rec, unconfirmed: true }
          : rec;
      },
      database: () => {
        const { failing, clockOffsetMs } = sessions.storage();
        return {
          ...storage.health(),
          waiting: databaseWaiting(),
          clockOffsetMs,
          savesFailing: failing && {
            ...failing,
            why: failing.outage && describeOutage(failing.outage),
          },
        };
      },
      replication: () => {
        const s = sync.stats();
        return {
          games: s.records,
          tombstones: s.tombstones,
          'ops in': s.opsIn,
          'ops out': s.opsOut,
          'of them as deltas': s.deltasOut,
          'deltas a peer lacked the base of': s.missingIn,
          'pending writes': s.pendingWrites,
          'replication lag of the last remote write (ms)': lastLagMs,
          'last catch-up (ms)': s.lastCatchUpMs,
          'owned here': sessions.ownedCodes().length,
        };
      },
    };

    const passwordCost = scryptCost(config.passwordCost);
    const web = createWebServer({
      config,
      logger,
      metrics: this.metrics,
      renderer,
      accounts,
      results,
      sessionStore: storage.sessions,
      rateCounters: storage.rateLimits,
      games,
      hub: this.hub,
      cluster,
      lifecycle: this.life,
      ...(mesh ? { mesh } : {}),
      accountsChannel,
      passwords: gatePasswords({
        hash: (p) => hashPassword(p, passwordCost),
        verify: verifyPassword,
        dummyVerify: (p) => verifyNoAccount(p, passwordCost),
        needsRehash: (stored) => needsRehash(stored, passwordCost),
      }),
      now: () => clock.now(),
    });
    this.metrics.observe({
      gamesOwned: () => sessions.ownedCodes().length,
      gamesReplicated: () => replica.live().length,
      playersConnected: () => this.hub.size,
      ...(mesh ? { mesh: () => mesh.stats() } : {}),
      replication: () => sync.stats(),
      databaseWaiting,
      savesFailingSeconds: () => {
        const since = sessions.storage().failing?.since;
        return since === undefined ? 0 : Math.max(0, (clock.now() - since) / 1000);
      },
      databaseClockOffsetSeconds: () => {
        const ms = sessions.storage().clockOffsetMs;
        return ms === null ? null : ms / 1000;
      },
      rendersDeferred,
    });

    this.web = web;

    await new Promise<void>((resolve, reject) => {
      const server = web.server;
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    logger.info(
      { address: this.address, host: config.host, port: this.port },
      `listening on ${config.host}:${this.port}`,
    );

    // Retries (with backoff, one log line per kind of failure) while the database cannot be
    // reached; a migration problem stops the node.
    try {
      const applied = await storage.open({ signal: this.startAborted.signal });
      if (applied.length) logger.info({ applied }, `applied ${applied.length} migrations`);
    } catch (err) {
      if (this.isStopping()) return; // SIGTERM while waiting for the database
      throw err;
    }

    this.setState('joining');
    // The lease first: nodes starting together find each other by it before DNS lists them.
    await sessions.startLease();
    sync.start();
    if (mesh) {
      mesh.start();
      await this.join(mesh, storage, sync);
    }
    if (this.isStopping()) return; // SIGTERM arrived while joining
    // Games in the database that no live node runs resume here (cold start).
    await sessions.resumeFromSnapshots();
    if (this.isStopping()) return;
    this.setState('ready');
    sessions.start();
    sessions.sweep();
  }

  /** SIGTERM came (read again after every wait: drain() may run meanwhile). */
  private isStopping(): boolean {
    return this.draining !== null;
  }

  /** Finds the peers DNS names, connects, and catches up with their replicas before ready. */
  private async join(mesh: Mesh, storage: Storage, sync: ReplicaSync<GameState>): Promise<void> {
    const { config, logger } = this;
    const discovery = new Discovery({
      query: config.cluster.query as string,
      ...(config.cluster.resolver ? { resolver: config.cluster.resolver } : {}),
      intervalMs: config.cluster.pollMs,
      port: config.port,
      selfAddress: this.address,
      logger,
    });
    this.discovery = discovery;
    discovery.onChange((peers) => mesh.setPeers(peers));
    let peers: string[] = [];
    try {
      peers = await discovery.resolveNow();
    } catch (err) {
      logger.warn({ err }, 'initial DNS lookup failed; starting without peers');
    }
    // Nodes that hold a live lease but that DNS does not list yet (starting with us).
    const leases = (await storage.leases.fresh(config.cluster.peerDownMs).catch(() => [])).filter(
      (l) => l.nodeId !== config.nodeId && l.state !== 'draining' && l.state !== 'stopped',
    );
    peers = [...new Set([...peers, ...leases.map((l) => l.address)])].filter(
      (a) => a !== this.address,
    );
    mesh.setPeers(peers);
    discovery.start();
    // Wait (bounded) until every address DNS gave us answered the handshake.
    const joined = await mesh.waitForPeers(peers, Math.max(2000, config.cluster.peerDownMs));
    if (joined.missing.length)
      logger.warn(
        { missing: joined.missing },
        `peers named by DNS did not answer: ${joined.missing.join(', ')}`,
      );
    const result = await sync.catchUp(Math.max(2000, config.cluster.peerDownMs));
    logger.info(
      { peers: result.answered, missing: result.missing, ms: result.ms },
      `joined the cluster: ${result.answered.length} peers, caught up in ${result.ms} ms`,
    );
  }

  /** SIGTERM: hand games off, close sockets with 1012, keep serving for the window, exit. */
  drain(): Promise<void> {
    if (this.draining) return this.draining;
    this.startAborted.abort(new Error('draining'));
    this.draining = this.runDrain();
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    const { logger, config } = this;
    const started = this.clock.now();
    // Peers hear it at once (the mesh sends the new state to each); a peer that still offers
    // us a game or a new game meanwhile is refused and asks the next node.
    this.setState('draining');
    // Whatever the peers do, the handoff leaves room for the drain window and the stop.
    const budget = Math.max(500, config.shutdownTimeoutMs - config.drainWindowMs - 2500);
    const { handed, kept } = (await this.sessions?.handOffAll(budget)) ?? { handed: 0, kept: 0 };
    const closed = await this.hub.closeAll();
    logger.info(
      { handed, kept, sockets: closed, ms: this.clock.now() - started },
      `drained: ${handed} games handed off, ${kept} left in the database, ${closed} sockets closed with 1012`,
    );
    // Requests that still reach us (the load balancer may lag) keep being served meanwhile.
    // Games left in the database while it was away (the whole cluster stopping during an
    // outage) wait for it meanwhile, and after, within the budget: exiting would lose
    // acknowledged writes that only this process holds now.
    const saveBy = started + config.shutdownTimeoutMs - STOP_AFTER_REQUESTS_MS - 1000;
    await Promise.all([sleep(config.drainWindowMs), this.saveBeforeExit(saveBy)]);
    await this.hub.closeAll();
    // Requests still in progress (a sign-up on a loaded machine) get what the budget has left.
    const left = started + config.shutdownTimeoutMs - STOP_AFTER_REQUESTS_MS - this.clock.now();
    await this.stop(Math.max(500, left));
    logger.info(
      { ms: this.clock.now() - started },
      `stopped after ${this.clock.now() - started} ms`,
    );
  }

  /** Writes games and results kept during a database outage, until `deadline` at the latest. */
  private async saveBeforeExit(deadline: number): Promise<void> {
    const { logger } = this;
    const games = this.sessions?.storage().unsaved ?? 0;
    const results = this.outbox?.waiting ?? 0;
    if (games === 0 && results === 0) return;
    logger.warn(
      { games, results, ms: deadline - this.clock.now() },
      `waiting for the database before stopping: ${games} games and ${results} results not yet saved`,
    );
    const [gamesLeft, resultsLeft] = await Promise.all([
      this.sessions?.saveUnsaved(deadline) ?? 0,
      this.outbox?.settle(deadline) ?? 0,
    ]);
    if (gamesLeft === 0 && resultsLeft === 0)
      logger.info({ games, results }, 'the database answered: everything saved before stopping');
    else
      logger.error(
        { games: gamesLeft, results: resultsLeft },
        `stopping with ${gamesLeft} games and ${resultsLeft} results unsaved: the database did not answer in time`,
      );
  }

  async stop(requestsMs = STOP_REQUESTS_MS): Promise<void> {
    this.setState('stopped');
    // Idle keep-alive connections close now. Requests in progress (a page, a sign-up's password
    // hashing) may finish within a bound, then the port closes and whatever is left is cut.
    const httpClosed = this.web ? closeServer(this.web, requestsMs) : Promise.resolve();
    this.discovery?.stop();
    await this.mesh?.stop();
    await httpClosed;
    this.sessions?.stop();
    await this.sessions?.releaseLease();
    // Last chance for results kept during an outage (each is recorded again by the node that
    // drops its game).
    await this.outbox?.flush();
    this.outbox?.stop();
    this.sync?.stop();
    // After the sessions stopped: snapshots written during the drain are awaited by close().
    await this.storage?.close();
    this.storage = null;
  }
}
