// Moving games between nodes: handing every owned game to a ready peer on drain, accepting a
// peer's handoff, taking over the games of an owner that is gone, and resuming games from the
// ledger when nobody runs them (a cold start of the whole cluster, or a resumer that died
// before anyone else learned of the game). Which node adopts is decided by pure placement;
// that exactly one does is decided by the ledger's compare-and-set.

import type { Clock } from '../clock.js';
import type { SnapshotHead } from '../db/index.js';
import type { MeshChannel, NodeState } from '../cluster/types.js';
import { checkGameState } from '../game/schema.js';
import type { GameState } from '../game/types.js';
import { canRead, checkStoredState, readableSchemas } from '../game/upgrade.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { compareVersion } from '../replication/record.js';
import { recordOf, type GameRecord } from './game-record.js';
import type { Replica } from '../replication/replica.js';
import type { ReplicaSync } from '../replication/sync.js';
import type { AdoptReason, GameSession } from './game-session.js';
import type { Ledger } from './ledger.js';
import { rankFor, type Candidate } from './placement.js';
import type { PeerRequests } from './requests.js';

export interface TransferDeps {
  nodeId: string;
  version: string;
  clock: Clock;
  replica: Replica<GameState>;
  sync: ReplicaSync<GameState>;
  channel: MeshChannel;
  requests: PeerRequests;
  ledger: Ledger;
  logger: Logger;
  metrics: Metrics;
  selfState(): NodeState;
  /** How long an owner must be missing before its games are taken over. */
  orphanGraceMs: number;
  /** Games running here. */
  running(key: string): GameSession | undefined;
  owned(): GameSession[];
  /** Adopts `base` here (claim, then write); the adopted record, or null. */
  adopt(base: GameRecord, reason: AdoptReason): Promise<GameRecord | null>;
  /** Records a finished game's result (idempotent). */
  settleFinished(state: GameState): Promise<void>;
}

/**
 * How long a finished game's saved row is kept: well past the replicas' tombstones (10 min), so
 * a copy of the game that lagged on some node finds the finished game there, not a gap.
 */
export const FINISHED_ROW_KEEP_MS = 30 * 60_000;

/** Longest wait for one peer's answer to a handoff. */
const HANDOFF_ATTEMPT_MS = 3000;

export interface HandoffReport {
  /** Games a peer adopted. */
  handed: number;
  /** Games no peer took: their latest write is in the ledger for the next node. */
  kept: number;
}

export class Transfers {
  /** When this node first noticed each missing owner. */
  readonly #missingSince = new Map<string, number>();
  readonly #warned = new Set<string>();
  /** Finished games whose result is being recorded, or was, here (see resumeFromLedger). */
  readonly #settling = new Set<string>();
  #sweeping = false;

  constructor(private readonly d: TransferDeps) {}

  peerDown(id: string): void {
    this.#missingSince.set(id, this.d.clock.now() - this.d.orphanGraceMs);
  }

  candidates(): Candidate[] {
    const self: Candidate = {
      id: this.d.nodeId,
      state: this.d.selfState(),
      schemas: readableSchemas(),
      version: this.d.version,
    };
    return [
      self,
      ...this.d.channel
        .peers()
        .map((p) => ({ id: p.id, state: p.state, schemas: p.schemas, version: p.version })),
    ];
  }

  #isLivePeer(id: string): boolean {
    return this.d.channel.peers().some((p) => p.id === id);
  }

  // ── drain ───────────────────────────────────────────────────────────────────────────

  /**
   * Hands every owned game to a ready peer, 16 at a time. A game's queue is held while it
   * moves, so the old owner applies nothing after the successor's record was written.
   */
  async handOffAll(deadline: number): Promise<HandoffReport> {
    const queue = this.d.owned().filter((g) => g.running);
    const report: HandoffReport = { handed: 0, kept: 0 };
    const worker = async (): Promise<void> => {
      for (let g = queue.shift(); g; g = queue.shift()) {
        const out = await this.#handOff(g, deadline);
        if (out === 'handed') report.handed++;
        else if (out === 'kept') report.kept++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    return report;
  }

  #handOff(game: GameSession, deadline: number): Promise<'handed' | 'kept' | 'gone'> {
    return game.exclusive(async () => {
      // Stopped meanwhile (fenced, dropped): there is nothing left to hand over.
      const { state } = game.record;
      if (!game.running || !state) return 'gone';
      // Held from here on: the record handed over is the one read above.
      game.pauseForHandoff();
      // Adopted without the database and still not claimed: not handed on (the next owner would
      // claim from a version the database never held). Left to the next node, which continues
      // from the saved row; nothing of this run was acknowledged.
      if (!(await game.claimIfUnclaimed())) {
        game.end('stopped');
        this.d.logger.info(
          { game: game.key, round: state.round },
          `game ${game.key} left for the next node (adopted while the database was away, not claimed)`,
        );
        return 'kept';
      }
      const started = this.d.clock.now();
      const peers = this.d.channel
        .peers()
        .map((p) => ({ id: p.id, state: p.state, schemas: p.schemas, version: p.version }));
      const targets = rankFor(game.key, peers, game.record.schema);
      for (const [i, target] of targets.entries()) {
        // Whatever the peers do, the drain ends inside its budget: the time left is shared
        // by the peers still to try.
        const left = deadline - this.d.clock.now();
        if (left <= 0) break;
        const timeout = Math.min(HANDOFF_ATTEMPT_MS, left / (targets.length - i));
        game.handingTo.add(target);
        const reply = await this.d.requests.ask(
          target,
          { type: 'handoff', id: this.d.requests.newId(), record: game.record },
          timeout,
        );
        if (reply?.type === 'handoff-result' && reply.ok) {
          game.end('handed-off');
          this.d.metrics.handoffSeconds.observe((this.d.clock.now() - started) / 1000);
          const { round } = state;
          this.d.logger.info(
            { game: game.key, to: target, epoch: reply.epoch, round },
            `game ${game.key} handed to node ${target} (epoch ${reply.epoch}, round ${round})`,
          );
          return 'handed';
        }
        // A peer that adopted the game but whose answer was lost shows in the replica.
        const held = this.d.replica.getAny(game.key);
        if (held && held.owner === target && compareVersion(held, game.record) > 0) {
          game.end('handed-off');
          this.d.logger.info(
            { game: game.key, to: target, epoch: held.epoch },
            `game ${game.key} handed to node ${target} (epoch ${held.epoch}; its answer was lost)`,
          );
          return 'handed';
        }
        this.d.logger.warn(
          {
            game: game.key,
            to: target,
            reason: reply?.type === 'handoff-result' ? reply.reason : 'no answer',
          },
          `handoff of ${game.key} to ${target} failed`,
        );
      }
      // Nobody took it: its latest write goes to the ledger; stop running it here.
      await game.leaveInDatabase();
      game.end('stopped');
      this.d.logger.info(
        { game: game.key, round: state.round },
        `game ${game.key} left in the database for the next node (no ready peer took it)`,
      );
      return 'kept';
    });
  }

  /** A draining peer offers us a game. */
  async acceptHandoff(
    record: GameRecord,
  ): Promise<{ ok: true; epoch: number } | { ok: false; reason: string }> {
    const state = this.d.selfState();
    if (state !== 'ready') return { ok: false, reason: `node is ${state}` };
    if (!canRead(record.schema))
      return { ok: false, reason: `schema ${record.schema} unreadable here` };
    const problem =
      record.state === null
        ? 'a tombstone'
        : checkStoredState(record.state, record.schema, checkGameState);
    if (problem) return { ok: false, reason: `invalid record: ${problem}` };
    const held = this.d.replica.getAny(record.key);
    if (held && compareVersion(held, record) > 0) {
      // We already hold something newer (e.g. we adopted it already): confirm if it is ours.
      if (held.owner === this.d.nodeId && this.d.running(record.key)?.running)
        return { ok: true, epoch: held.epoch };
      return { ok: false, reason: 'a newer version exists' };
    }
    const started = this.d.clock.now();
    const adopted = await this.d.adopt(record, 'handoff');
    if (!adopted) return { ok: false, reason: 'adoption failed' };
    // From the request's arrival: the game was held a little before (its old owner paused it to
    // ask, and the request crossed the network), which the draining node's own metric counts.
    this.d.metrics.handoffAdoptionSeconds.observe((this.d.clock.now() - started) / 1000);
    return { ok: true, epoch: adopted.epoch };
  }

  // ── takeover ────────────────────────────────────────────────────────────────────────

  /**
   * Finds games whose owner is gone and adopts the ones placement gives to this node. Every
   * node runs the same pure placement over the same membership, so one of them adopts; the
   * ledger makes sure only one does, and only once the owner's lease ran out.
   */
  sweep(): void {
    if (this.d.selfState() !== 'ready' || this.#sweeping) return;
    const now = this.d.clock.now();
    const live = new Set(this.d.channel.peers().map((p) => p.id));
    const seen = new Set<string>();
    const candidates = this.candidates();
    const mine: string[] = [];
    for (const rec of this.d.replica.live()) {
      if (rec.owner === this.d.nodeId) {
        // Ours by the replica but not running here: an earlier run of this node id owned it.
        // Only this node knows that (to its peers the owner is alive), so it takes the game
        // over itself, whatever placement would pick.
        if (!this.d.running(rec.key)?.running && canRead(rec.schema)) mine.push(rec.key);
        continue;
      }
      if (live.has(rec.owner)) continue;
      if (this.#orphanForMe(rec, now, candidates, seen)) mine.push(rec.key);
    }
    for (const id of [...this.#missingSince.keys()])
      if (live.has(id)) this.#missingSince.delete(id);
    if (mine.length === 0) return;
    this.#sweeping = true;
    void this.#takeOver(mine).finally(() => {
      this.#sweeping = false;
    });
  }

  /**
   * Adopts orphaned games. First asks every surviving peer for what it holds (the dead
   * owner's last write may have reached only one of them), then continues from the newest of
   * the replica's record and the ledger's.
   */
  async #takeOver(keys: string[]): Promise<void> {
    if (this.d.channel.peers().length > 0) await this.d.sync.catchUp(1500);
    for (const key of keys) {
      const rec = this.d.replica.get(key);
      if (!rec?.state || this.d.running(key)?.running) continue;
      if (rec.owner !== this.d.nodeId && this.#isLivePeer(rec.owner)) continue;
      const base = await this.#newest(rec);
      if (base) await this.d.adopt(base, 'takeover');
    }
  }

  /** The newer of a replica record and the ledger's copy of the game; null if unknown. */
  async #newest(rec: GameRecord): Promise<GameRecord | null> {
    const row = await this.d.ledger.row(rec.key);
    if (row === 'unavailable') return null;
    if (!row || row.gameId !== (rec.state?.id ?? row.gameId) || compareVersion(row, rec) <= 0)
      return rec;
    return recordOf(row);
  }

  #orphanForMe(rec: GameRecord, now: number, candidates: Candidate[], seen: Set<string>): boolean {
    if (!seen.has(rec.owner)) {
      seen.add(rec.owner);
      if (!this.#missingSince.has(rec.owner)) this.#missingSince.set(rec.owner, now);
    }
    const since = this.#missingSince.get(rec.owner) ?? now;
    if (rec.owner !== this.d.nodeId && now - since < this.d.orphanGraceMs) return false;
    const ranked = rankFor(rec.key, candidates, rec.schema);
    if (ranked.length === 0) {
      if (!this.#warned.has(rec.key)) {
        this.#warned.add(rec.key);
        this.d.logger.warn(
          { game: rec.key, schema: rec.schema },
          `game ${rec.key}: no ready node can read schema ${rec.schema}; leaving it`,
        );
      }
      return false;
    }
    return ranked[0] === this.d.nodeId;
  }

  // ── games only the ledger knows ─────────────────────────────────────────────────────

  /**
   * Resumes games from the ledger that no live node runs: after the whole cluster stopped,
   * or when the node that resumed a game died before anyone else learned of it. Nodes
   * starting together find each other by their leases (DNS lists only ready nodes) and split
   * the games by placement; the ledger's compare-and-set settles any overlap.
   */
  async resumeFromLedger(): Promise<number> {
    const heads = await this.d.ledger.heads();
    if (heads === 'unavailable') return 0;
    const leases = await this.d.ledger.liveNodes();
    if (leases === 'unavailable') return 0;
    // A draining node runs nothing it could not hand over: what it left here is ours to resume.
    const alive = new Set(
      leases.filter((l) => l.state !== 'draining' && l.state !== 'stopped').map((l) => l.nodeId),
    );
    // Members: the live peers, plus nodes that hold a lease but are not yet in the mesh
    // (starting together with us), counted as ready so that the games split between us.
    const candidates = this.candidates().map((c) =>
      c.id === this.d.nodeId ? { ...c, state: 'ready' } : c,
    );
    for (const l of leases) {
      if (
        candidates.some((c) => c.id === l.nodeId) ||
        (l.state !== 'starting' && l.state !== 'joining' && l.state !== 'ready')
      )
        continue;
      candidates.push({
        id: l.nodeId,
        state: 'ready',
        schemas: readableSchemas(),
        version: this.d.version,
      });
    }
    let resumed = 0;
    const now = this.d.clock.now();
    for (const head of heads) {
      // Most rows are games running here or on a live node: known without reading the state.
      // A row not written for FINISHED_ROW_KEEP_MS may be a finished game's, to prune: read it.
      if (now - head.updatedAt <= FINISHED_ROW_KEEP_MS && this.#runningSomewhere(head, alive))
        continue;
      const snap = await this.d.ledger.row(head.code);
      if (snap === 'unavailable') break;
      if (snap === undefined) continue;
      if (snap.state.status === 'finished' && now - snap.updatedAt > FINISHED_ROW_KEEP_MS) {
        this.#settling.delete(snap.gameId);
        if (rankFor(snap.code, candidates, snap.schema)[0] === this.d.nodeId)
          await this.d.ledger.remove(snap.code, snap.gameId);
        continue;
      }
      if (this.#runningSomewhere(snap, alive)) continue;
      const held = this.d.replica.getAny(snap.code);
      if (snap.state.status === 'finished') {
        // Its owner may have stopped between saving the final state and recording the result
        // (which it does once a peer or the database confirmed the write): the result is
        // recorded here, once per process (recording is idempotent). The row stays until it is
        // pruned above; the game's page is shown from its result.
        if (rankFor(snap.code, candidates, snap.schema)[0] === this.d.nodeId)
          this.#settle(snap.state);
        continue;
      }
      if (held && compareVersion(held, snap) >= 0) continue; // the replica is as new or newer
      const problem = checkStoredState(snap.state, snap.schema, checkGameState);
      if (problem) {
        if (!this.#warned.has(`snap:${snap.code}`)) {
          this.#warned.add(`snap:${snap.code}`);
          this.d.logger.warn(
            { game: snap.code, problem },
            `saved game ${snap.code} not resumed: ${problem}`,
          );
        }
        continue;
      }
      if (rankFor(snap.code, candidates, snap.schema)[0] !== this.d.nodeId) continue;
      if (await this.d.adopt(recordOf(snap), 'cold-start')) resumed++;
    }
    if (resumed) this.d.logger.info({ resumed }, `resumed ${resumed} games from the database`);
    return resumed;
  }

  /**
   * Whether the saved game `row` runs here or on a live node: its owner is alive (even if we
   * cannot reach it yet), or this node's replica names a live peer as its owner.
   */
  #runningSomewhere(row: SnapshotHead, alive: ReadonlySet<string>): boolean {
    if (this.d.running(row.code)?.running) return true;
    if (row.owner !== this.d.nodeId && (alive.has(row.owner) || this.#isLivePeer(row.owner)))
      return true;
    const held = this.d.replica.getAny(row.code);
    return held !== undefined && this.#isLivePeer(held.owner);
  }

  #settle(state: GameState): void {
    if (this.#settling.has(state.id)) return;
    this.#settling.add(state.id);
    this.d.settleFinished(state).then(
      () => undefined,
      (err: unknown) => {
        this.#settling.delete(state.id);
        this.d.logger.error(
          { err, game: state.code },
          `could not settle finished game ${state.code}`,
        );
      },
    );
  }
}
