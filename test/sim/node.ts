// One simulated Minotaur node: the real Replica, ReplicaSync and GameSessions, on a simulated
// process (virtual clock, pausable) and the simulated mesh, sharing the world's database like
// the nodes of one host share a SQLite file. Its lifecycle follows src/node.ts: joining (DNS,
// links, catch-up), cold start from snapshots, ready, draining (handoff), stopped.

import { ResultOutbox } from '../../src/db/result-outbox.js';
import { pino, type Logger } from 'pino';
import { sleep } from '../../src/clock.js';
import type { NodeState } from '../../src/cluster/types.js';
import type { GameResult, NodeLeases, Snapshots } from '../../src/db/index.js';
import type { Version } from '../../src/replication/record.js';
import { checkGameState, checkGameStateMembers } from '../../src/game/schema.js';
import { checkStoredState, readableSchemas } from '../../src/game/upgrade.js';
import type { Metrics } from '../../src/metrics.js';
import { GAME_SCHEMA, type GameState } from '../../src/game/types.js';
import type { GameRecord } from '../../src/sessions/game-record.js';
import { Replica } from '../../src/replication/replica.js';
import { DELTA_CAPABILITY, REPLICATION_CHANNEL } from '../../src/replication/protocol.js';
import type { WriteOutcome } from '../../src/replication/pending-writes.js';
import { ReplicaSync } from '../../src/replication/sync.js';
import { SESSIONS_CHANNEL } from '../../src/sessions/protocol.js';
import { GameSessions } from '../../src/sessions/registry.js';
import { SimMesh, type SimNetwork } from './network.js';
import { Proc, type World } from './world.js';

export interface WriteTrace {
  node: string;
  at: number;
  record: GameRecord;
  outcome?: WriteOutcome['kind'];
  /** Sent for the peers to save (its owner's database did not answer). */
  persist: boolean;
  /** A peer saved it (a write sent with `persist`). */
  saved?: boolean;
  /** Written to the database by a claim whose answer was lost: never sent to anyone. */
  replyLost?: true;
  /** For such a claim: the version it continues (its node never logged the claim). */
  base?: Version;
}

export interface LogEntry {
  node: string;
  at: number;
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface SimNodeDeps {
  world: World;
  net: SimNetwork;
  snapshots: Snapshots;
  leases: NodeLeases;
  results: { record(r: GameResult): Promise<boolean> };
  metrics: Metrics;
  /** Ready nodes, as DNS lists them (Swarm lists a task once it is healthy). */
  dns: () => string[];
  roundMs: number;
  drainWindowMs: number;
  writes: WriteTrace[];
  logs: LogEntry[];
  /** Game codes handed out by the world (unique per run, deterministic). */
  nextCode: () => string;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export class SimNode {
  readonly proc: Proc;
  readonly mesh: SimMesh;
  readonly replica = new Replica<GameState>();
  readonly sync: ReplicaSync<GameState>;
  readonly sessions: GameSessions;
  /** Results of games that finished while the database was away, waiting for it. */
  readonly results: ResultOutbox;
  state: NodeState = 'starting';
  /** When it turned ready (DNS lists it only once its health check has passed after that). */
  readyAt: number | undefined;
  readonly healthDelayMs: number;
  readonly logger: Logger;
  #draining = false;

  constructor(
    readonly id: string,
    readonly d: SimNodeDeps,
  ) {
    const world = d.world;
    this.proc = new Proc(world, id);
    this.healthDelayMs = world.rng.int(200, 2500);
    // About one node in three is of a release that takes whole records only (no deltas), so
    // schedules mix both ways of shipping a write; chosen from the id, not the world's random
    // stream, which replayed seeds depend on.
    const caps = id.charCodeAt(id.length - 1) % 3 === 0 ? [] : [DELTA_CAPABILITY];
    this.mesh = new SimMesh(d.net, id, this.proc, '1.0.0', readableSchemas(), caps);
    d.net.add(this.mesh);
    const logs = d.logs;
    this.logger = pino(
      { level: 'debug', base: { node: id }, timestamp: false },
      {
        write(line: string) {
          const entry = JSON.parse(line) as LogEntry;
          entry.at = world.now;
          logs.push(entry);
        },
      },
    );
    this.sync = new ReplicaSync({
      replica: this.replica,
      channel: this.mesh.channel(REPLICATION_CHANNEL),
      logger: this.logger,
      clock: this.proc.clock,
      checkContent: (record) => checkStoredState(record.state, record.schema, checkGameState),
      checkChanged: (record, changed) =>
        record.schema === GAME_SCHEMA
          ? checkGameStateMembers(record.state, changed)
          : checkStoredState(record.state, record.schema, checkGameState),
    });
    // Every write this node makes, with what became of it, for the checker.
    const write = this.sync.write.bind(this.sync);
    this.sync.write = (record: GameRecord, persist?: boolean) => {
      const trace: WriteTrace = { node: id, at: world.now, record, persist: persist === true };
      d.writes.push(trace);
      return write(record, persist).then((outcome) => {
        trace.outcome = outcome.kind;
        if (outcome.kind === 'acked' && outcome.saved) trace.saved = true;
        return outcome;
      });
    };
    const rng = world.rng;
    this.results = new ResultOutbox(d.results, { logger: this.logger, clock: this.proc.clock });
    this.sessions = new GameSessions({
      nodeId: id,
      version: '1.0.0',
      replica: this.replica,
      sync: this.sync,
      channel: this.mesh.channel(SESSIONS_CHANNEL),
      // Results of games that finish while the database is away wait in memory, as on a node
      // (and are lost with the process, as there).
      results: this.results,
      snapshots: d.snapshots,
      leases: d.leases,
      logger: this.logger,
      metrics: d.metrics,
      clock: this.proc.clock,
      random: {
        code: () => d.nextCode(),
        seed: () => rng.int(0, 2 ** 31 - 1),
        id: () => `g-${Array.from({ length: 8 }, () => LETTERS[rng.int(0, 25)]).join('')}`,
      },
      roundMs: d.roundMs,
      selfState: () => this.state,
      clockHealthy: () => !this.mesh.isSuspect(),
      orphanGraceMs: d.net.opts.downAfterMs,
    });
  }

  get world(): World {
    return this.d.world;
  }

  get alive(): boolean {
    return !this.proc.dead && this.state !== 'stopped';
  }

  #setState(next: NodeState): void {
    if (this.state === next) return;
    if ((this.state === 'draining' || this.state === 'stopped') && next !== 'stopped') return;
    this.state = next;
    this.mesh.setState(next);
    this.logger.info({ to: next }, `node ${this.id} is ${next}`);
  }

  /** Starts the node inside its own process (as src/node.ts start does). */
  start(): void {
    this.world.after(0, () => void this.#start(), this.proc, `start:${this.id}`);
  }

  async #start(): Promise<void> {
    const clock = this.proc.clock;
    // Opening the database, migrating and listening take a moment.
    await sleep(clock, this.world.rng.int(50, 600));
    // Until the database answers the node does not join (the real one retries opening it).
    for (;;) {
      if (this.proc.dead || this.#draining) return;
      try {
        await this.d.leases.fresh();
        break;
      } catch {
        await sleep(clock, 500);
      }
    }
    this.#setState('joining');
    await this.sessions.startLease();
    this.sync.start();
    this.mesh.start();
    // DNS names ready nodes; leases also name the ones starting with us.
    const leased = (await this.d.leases.fresh(this.d.net.opts.downAfterMs).catch(() => []))
      .filter((l) => l.state !== 'draining' && l.state !== 'stopped')
      .map((l) => l.nodeId);
    const peers = [...new Set([...this.d.dns(), ...leased])].filter((id) => id !== this.id);
    this.mesh.want(peers);
    this.#pollDns();
    // Wait (bounded) until every peer DNS named answered the handshake.
    const deadline = clock.now() + Math.max(2000, this.d.net.opts.downAfterMs);
    while (
      clock.now() < deadline &&
      !peers.every((p) => this.mesh.livePeers().some((m) => m.id === p))
    )
      await sleep(clock, 50);
    await this.sync.catchUp(Math.max(2000, this.d.net.opts.downAfterMs));
    if (this.#drainBegun()) return;
    await this.sessions.resumeFromSnapshots();
    if (this.#drainBegun()) return;
    this.#setState('ready');
    this.readyAt = this.world.now;
    this.sessions.start();
    this.sessions.sweep();
  }

  #pollDns(): void {
    const clock = this.proc.clock;
    const poll = (): void => {
      if (this.state === 'stopped' || this.proc.dead) return;
      this.mesh.want(this.d.dns());
      clock.setTimeout(poll, this.mesh.livePeers().length === 0 ? 1000 : 5000);
    };
    clock.setTimeout(poll, 1000);
  }

  /** SIGTERM: hand games off, keep serving for the drain window, stop. */
  drain(onClosed: () => void): void {
    this.world.after(0, () => void this.#drain(onClosed), this.proc, `drain:${this.id}`);
  }

  /** Read through a call, so a check after an await is not taken for the one before it. */
  #drainBegun(): boolean {
    return this.#draining;
  }

  async #drain(onClosed: () => void): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const clock = this.proc.clock;
    this.#setState('draining');
    const started = clock.now();
    // The node's budget (SHUTDOWN_TIMEOUT_MS 8 s): 3.5 s for handoffs, then the drain window,
    // while what the database did not take yet waits for it until 5.5 s (src/node.ts).
    await this.sessions.handOffAll(3500);
    onClosed();
    const saveBy = started + 5500;
    await Promise.all([
      sleep(clock, this.d.drainWindowMs),
      this.sessions.saveUnsaved(saveBy),
      this.results.settle(saveBy),
    ]);
    this.mesh.stop();
    this.stop();
  }

  stop(): void {
    this.#setState('stopped');
    this.sessions.stop();
    void this.sessions.releaseLease();
    this.mesh.stop();
    this.sync.stop();
    this.world.kill(this.proc);
  }

  /** SIGKILL. */
  kill(): void {
    this.state = 'stopped';
    this.world.kill(this.proc);
    this.d.net.killed(this.id);
  }
}
