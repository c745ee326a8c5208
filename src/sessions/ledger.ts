// The durable ledger of who runs each game: the database the nodes share is the arbiter of
// ownership. An owner saves every write there before acknowledging it (a save never replaces
// a newer version); a node adopts a game by compare-and-set from the version it continues;
// and a game may be claimed from another node only once that node's lease has run out. So
// an owner that was frozen, cut off or raced at a cold start finds its next save refused
// instead of acknowledging an action its successor will never see.
//
// Saves are written in groups (group commit): every save asked for in one turn of the event loop
// goes to the database in one statement, and each caller hears the outcome of its own record,
// exactly as if it had been written alone. Nothing is acknowledged before its group committed.
//
// When the database cannot be reached, saves are kept (latest per game) and written once it
// answers again; nothing is claimed meanwhile. While it is away, calls fail at once instead of
// each waiting for a timeout (a frozen server or a cut link answers nothing): the lease renewal,
// once a second, is the one call that asks whether it is back.

import { isDeepStrictEqual } from 'node:util';
import { sleep, type Clock } from '../clock.js';
import { describeOutage, outageClass, type OutageClass } from '../db/errors.js';
import type {
  NodeLease,
  Snapshot,
  SnapshotHead,
  SnapshotVersion,
  StoredSnapshot,
} from '../db/index.js';
import type { GameState } from '../game/types.js';
import type { Logger } from '../log.js';
import type { PersistResult } from '../replication/pending-writes.js';
import type { GameRecord } from './game-record.js';

export interface SnapshotStore {
  save(snapshot: Snapshot): Promise<boolean>;
  /** Saves each snapshot with save()'s rule, in one statement; returns the codes written. */
  saveMany(snapshots: readonly Snapshot[]): Promise<Set<string>>;
  claim(code: string, base: SnapshotVersion, next: Snapshot): Promise<boolean>;
  get(code: string): Promise<StoredSnapshot | null>;
  /** Every saved game's version, without its state. */
  heads(): Promise<SnapshotHead[]>;
  remove(code: string, gameId: string): Promise<boolean>;
}

/**
 * Leases stamped and aged by the database's one clock (see db/leases.ts): a node compares a
 * lease's age with durations of its own clock, never a time written by another host's.
 */
export interface LeaseStore {
  /** Renews the lease; resolves to the database's stamp (ms). */
  renew(nodeId: string, address: string, state: string): Promise<number>;
  get(nodeId: string): Promise<NodeLease | undefined>;
  /** Leases renewed within the last `withinMs`; every lease when undefined. */
  fresh(withinMs?: number): Promise<NodeLease[]>;
  release(nodeId: string): Promise<void>;
}

export type SaveResult = 'saved' | 'newer' | 'unavailable';
export type ClaimResult =
  | 'claimed'
  | 'newer'
  | 'owner-alive'
  | 'unavailable'
  /** A node that holds a lease cannot be reached over the mesh (see `claim`). */
  | { unreachable: string };

export interface LedgerOptions {
  nodeId: string;
  snapshots: SnapshotStore;
  leases: LeaseStore;
  clock: Clock;
  logger: Logger;
  /** A lease not renewed for this long has run out. */
  leaseMs: number;
  /**
   * Whether this node hears `nodeId` over the mesh now (a live peer). A takeover waits while a
   * node that holds a lease is not one (see `claim`). Default: every node is.
   */
  reachable?: (nodeId: string) => boolean;
  /** Runs the group of saves asked for meanwhile, soon (default: a 0 ms timer on the clock). */
  defer?: (flush: () => void) => void;
}

/** Saves asked for in one moment, written together: at most one record per game. */
interface SaveGroup {
  records: Map<string, GameRecord & { state: GameState }>;
  waiters: Map<string, (result: SaveResult) => void>;
}

const version = (r: { epoch: number; owner: string; seq: number }): SnapshotVersion => ({
  epoch: r.epoch,
  owner: r.owner,
  seq: r.seq,
});

/** Database calls failing: since when, and the kind of outage if known. */
export interface Failing {
  since: number;
  outage: OutageClass | null;
}

/** Whether a saved row is a write of `rec`'s run: the same owner in the same epoch. */
const sameRun = (row: { epoch: number; owner: string }, rec: GameRecord): boolean =>
  row.epoch === rec.epoch && row.owner === rec.owner;

export function toSnapshot(record: GameRecord & { state: GameState }): Snapshot {
  return {
    code: record.key,
    gameId: record.state.id,
    owner: record.owner,
    epoch: record.epoch,
    seq: record.seq,
    schema: record.schema,
    state: record.state,
    at: record.at,
  };
}

/**
 * How much sooner than the lease lasts an owner stops trusting it (clocks that run at slightly
 * different rates, a pause between reading the clock and acting on it), and how often it renews
 * it: a second each for leases of 3 s and more (the default), less for shorter ones, so that a
 * renewal always lands while the last one is still trusted. (With a fixed second of each, a
 * lease of 2 s or less was never, or only now and then, trusted: a node alone left its rounds
 * running late or never resolved them.)
 */
function leaseTiming(leaseMs: number): { marginMs: number; renewMs: number } {
  const marginMs = Math.min(1000, Math.round(leaseMs / 3));
  // (At least 100 ms: a lease too short to be trusted at all must not renew in a tight loop.)
  return { marginMs, renewMs: Math.max(100, Math.min(1000, Math.floor((leaseMs - marginMs) / 2))) };
}

/**
 * A node's clock this far from the database's is logged (once, until it comes back within):
 * leases do not mind, and a steered clock keeps the database's time, but the host needs NTP.
 */
const CLOCK_OFFSET_WARN_MS = 1000;

export class Ledger {
  readonly #o: LedgerOptions;
  /** Saves that could not be written, latest per game, written when the database answers. */
  readonly #unsaved = new Map<string, GameRecord & { state: GameState }>();
  /** Since when its calls fail, and why; null while they go through. */
  #failing: Failing | null = null;
  /** When the database last answered again after an outage (null: no outage seen). */
  #backAt: number | null = null;
  /**
   * When, by this node's clock, the last successful lease renewal was sent (the database stamped
   * it no earlier), or null before the first.
   */
  #renewedAt: number | null = null;
  /**
   * This node's clock minus the database's (ms), from the last renewal: its stamp against the
   * middle of its round trip; null before the first.
   */
  #clockOffsetMs: number | null = null;
  /** The renewal in flight: a slow database must not pile renewals up (each holds a connection). */
  #renewing: Promise<void> | null = null;
  /** Groups waiting to be written, oldest first; the last one takes new saves. */
  readonly #groups: SaveGroup[] = [];
  #writing = false;
  readonly #defer: (flush: () => void) => void;
  readonly #margin: number;
  /** How often the registry renews this node's lease (see leaseTiming). */
  readonly renewEveryMs: number;

  constructor(options: LedgerOptions) {
    this.#o = options;
    const timing = leaseTiming(options.leaseMs);
    this.#margin = timing.marginMs;
    this.renewEveryMs = timing.renewMs;
    this.#defer = options.defer ?? ((flush) => void options.clock.setTimeout(flush, 0));
  }

  /** False since a database call failed, until one succeeds again. */
  get available(): boolean {
    return this.#failing === null;
  }

  /**
   * True while this node's lease is surely alive in the database: a renewal sent more recently
   * than the lease lasts (by this node's clock), less a margin for clocks that run at slightly
   * different rates. The database aged the lease from its own stamp, taken later than the
   * renewal was sent, so other nodes see it alive at least as long. While this is true, no
   * other node may claim this node's games; once it may have run out,
   * a node alone must not resolve rounds (a successor may have taken the game over).
   */
  leaseFresh(): boolean {
    if (this.#renewedAt === null) return false;
    return this.#o.clock.now() - this.#renewedAt < this.#o.leaseMs - this.#margin;
  }

  /** Since when database calls fail, and the kind of outage if known; null while they work. */
  get failing(): Failing | null {
    return this.#failing;
  }

  get unsaved(): number {
    return this.#unsaved.size;
  }

  /**
   * Saves an owner's write. `saved` also when this very version is already saved (a write
   * confirmed again); `newer` when another version at or above it is saved (we are fenced).
   */
  save(record: GameRecord): Promise<SaveResult> {
    if (!record.state) return Promise.resolve('saved');
    const rec = record as GameRecord & { state: GameState };
    return new Promise((resolve) => {
      let group = this.#groups.at(-1);
      // A game's second save of the moment waits for the next group (one row per game per
      // statement).
      if (!group || group.records.has(rec.key)) {
        group = { records: new Map(), waiters: new Map() };
        this.#groups.push(group);
        if (this.#groups.length === 1 && !this.#writing)
          this.#defer(() => void this.#writeGroups());
      }
      group.records.set(rec.key, rec);
      group.waiters.set(rec.key, resolve);
    });
  }

  /** Writes the waiting groups one after the other; saves asked for meanwhile join the next. */
  async #writeGroups(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      for (let group = this.#groups.shift(); group; group = this.#groups.shift()) {
        const results = await this.#writeGroup([...group.records.values()]);
        for (const [key, resolve] of group.waiters) resolve(results.get(key) ?? 'unavailable');
      }
    } finally {
      this.#writing = false;
    }
  }

  async #writeGroup(
    records: (GameRecord & { state: GameState })[],
  ): Promise<Map<string, SaveResult>> {
    const out = await this.#call(async () => {
      const written = await this.#o.snapshots.saveMany(records.map(toSnapshot));
      const results = new Map<string, SaveResult>();
      for (const rec of records) {
        if (written.has(rec.key)) {
          results.set(rec.key, 'saved');
          continue;
        }
        // Not written: this very version was saved before (a write confirmed again), or a newer one
        // is there.
        const held = await this.#o.snapshots.get(rec.key);
        results.set(
          rec.key,
          held && sameRun(held, rec) && held.seq === rec.seq ? 'saved' : 'newer',
        );
      }
      return results;
    });
    for (const rec of records) {
      if (out === undefined) this.#unsaved.set(rec.key, rec);
      else this.#unsaved.delete(rec.key);
    }
    return out ?? new Map();
  }

  /**
   * Adoption by compare-and-set: writes `next` if no version newer than `base` is saved.
   * With `requireDeadOwner` (a takeover, a cold start), also only if `base.owner`'s lease has
   * run out, and only while every other node that holds a lease is a live peer: an owner cut
   * off from the database alone goes on acknowledging through the peers it reaches, and a node
   * that reaches neither them nor it would continue from a saved version without those writes.
   * A live peer's writes reach us by the catch-up before a takeover; an unreachable one's may
   * not, so the claim waits (`{ unreachable: node }`).
   */
  async claim(
    base: { epoch: number; owner: string; seq: number },
    next: GameRecord,
    requireDeadOwner: boolean,
  ): Promise<ClaimResult> {
    if (!next.state) return 'newer';
    const rec = next as GameRecord & { state: GameState };
    const out = await this.#call(async (): Promise<ClaimResult> => {
      if (requireDeadOwner) {
        // (A base of our own is an earlier run of this node id: its writes may be out of reach
        // too.)
        if (base.owner !== this.#o.nodeId && (await this.#leaseAlive(base.owner)))
          return 'owner-alive';
        const holder = await this.#unreachableHolder();
        if (holder !== null) return { unreachable: holder };
      }
      return (await this.#o.snapshots.claim(rec.key, version(base), toSnapshot(rec)))
        ? 'claimed'
        : 'newer';
    });
    return out ?? 'unavailable';
  }

  /** The saved record of a game, undefined when none, or 'unavailable'. */
  async row(code: string): Promise<StoredSnapshot | undefined | 'unavailable'> {
    const out = await this.#call(async () => ({ row: await this.#o.snapshots.get(code) }));
    return out === undefined ? 'unavailable' : (out.row ?? undefined);
  }

  /** Every saved game's version (no state), or 'unavailable'. */
  async heads(): Promise<SnapshotHead[] | 'unavailable'> {
    return (await this.#call(() => this.#o.snapshots.heads())) ?? 'unavailable';
  }

  async remove(code: string, gameId: string): Promise<void> {
    await this.#call(() => this.#o.snapshots.remove(code, gameId));
  }

  /** Whether `nodeId` holds a live lease; 'unavailable' when the database does not answer. */
  async ownerAlive(nodeId: string): Promise<boolean | 'unavailable'> {
    const out = await this.#call(() => this.#leaseAlive(nodeId));
    return out ?? 'unavailable';
  }

  /**
   * Whether `nodeId` renewed its lease as a node running games after `since`, a time of this
   * node's clock (it was alive then, whatever the mesh says); 'unavailable' when the database
   * does not answer. The lease's age is the database's; the time since `since` is ours.
   */
  async renewedSince(nodeId: string, since: number): Promise<boolean | 'unavailable'> {
    const out = await this.#call(async () => {
      const elapsed = this.#o.clock.now() - since;
      const lease = await this.#o.leases.get(nodeId);
      return { alive: lease?.state === 'ready' && lease.ageMs < elapsed };
    });
    return out === undefined ? 'unavailable' : out.alive;
  }

  /**
   * A peer's write that its owner could not save (sent with `persist`), saved here before this
   * node acknowledges it: 'saved' when the database now holds that version (or a later one of the
   * same owner and epoch), the newer version when another owner's is there (the writer is
   * fenced), 'unavailable' when the database does not answer.
   */
  async persistCopy(rec: GameRecord): Promise<PersistResult> {
    if (!rec.state) return 'unavailable';
    const snapshot = toSnapshot(rec as GameRecord & { state: GameState });
    const out = await this.#call(async (): Promise<{ held: PersistResult }> => {
      if ((await this.#o.snapshots.saveMany([snapshot])).size > 0) return { held: 'saved' };
      const row = await this.#o.snapshots.get(rec.key);
      if (!row) return { held: 'unavailable' };
      const ours = sameRun(row, rec) && row.seq >= rec.seq;
      return { held: ours ? 'saved' : { newer: version(row) } };
    });
    return out?.held ?? 'unavailable';
  }

  /**
   * Whether the database holds `rec` itself, its version and its state: a claim whose answer was
   * lost (the connection dropped after the statement ran) may have been written.
   */
  async holds(rec: GameRecord): Promise<boolean | 'unavailable'> {
    const out = await this.#call(async () => ({ row: await this.#o.snapshots.get(rec.key) }));
    if (out === undefined) return 'unavailable';
    const { row } = out;
    // As the database gives it back: members left undefined are not there, and order is its own.
    const state: unknown = rec.state && JSON.parse(JSON.stringify(rec.state));
    return !!row && sameRun(row, rec) && row.seq === rec.seq && isDeepStrictEqual(row.state, state);
  }

  /** Nodes with a live lease (including ones still starting, which DNS does not list yet). */
  async liveNodes(): Promise<NodeLease[] | 'unavailable'> {
    return (await this.#call(() => this.#o.leases.fresh(this.#o.leaseMs))) ?? 'unavailable';
  }

  /**
   * Renews our lease and writes whatever could not be saved before. Also how an outage ends:
   * this call asks the database even while it is known to be away. One at a time.
   */
  renew(address: string, state: string): Promise<void> {
    this.#renewing ??= (async () => {
      try {
        const { clock } = this.#o;
        const at = clock.now();
        const stamp = await this.#try(() => this.#o.leases.renew(this.#o.nodeId, address, state));
        if (stamp !== undefined) {
          const correction = clock.correctionMs ?? 0;
          this.#measureClock(at, stamp, clock.now());
          // A steered clock that stepped now reads `step` ms less: so do the times kept on it.
          const step = (clock.correctionMs ?? 0) - correction;
          this.#renewedAt = Math.max(this.#renewedAt ?? at, at) - step;
        }
        if (this.available && this.#unsaved.size > 0) await this.flush();
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }

  /** This node's clock minus the database's, in ms (see #clockOffsetMs). */
  get clockOffsetMs(): number | null {
    return this.#clockOffsetMs;
  }

  /**
   * A renewal sent at `sent` and answered at `back` (our clock) was stamped `stamp` (its). A
   * clock that follows the database's is steered by it; the offset kept and logged is the
   * host's (what that clock takes off it, and what is left).
   */
  #measureClock(sent: number, stamp: number, back: number): void {
    const was = this.#clockOffsetMs;
    const { clock } = this.#o;
    const left = (sent + back) / 2 - stamp;
    const offset = left + (clock.correctionMs ?? 0);
    clock.steer?.(left, back - sent);
    this.#clockOffsetMs = offset;
    const off = Math.abs(offset) > CLOCK_OFFSET_WARN_MS;
    if (off === (was !== null && Math.abs(was) > CLOCK_OFFSET_WARN_MS)) return;
    const fields = { offsetMs: Math.round(offset), roundTripMs: Math.round(back - sent) };
    if (off)
      this.#o.logger.warn(
        fields,
        `this node's clock is ${(Math.abs(offset) / 1000).toFixed(1)} s ${offset > 0 ? 'ahead of' : 'behind'} the database's: ${clock.steer ? 'the node keeps time by the database' : 'rounds of the games it runs end by its clock'}; synchronise this host's clock (NTP)`,
      );
    else if (was !== null)
      this.#o.logger.info(fields, "this node's clock is within 1 s of the database's again");
  }

  async release(): Promise<void> {
    await this.#try(() => this.#o.leases.release(this.#o.nodeId));
  }

  /** Writes saves that failed while the database was unreachable (never over a newer version). */
  async flush(): Promise<number> {
    let written = 0;
    for (const [key, rec] of [...this.#unsaved]) {
      const out = await this.#call(() => this.#o.snapshots.save(toSnapshot(rec)));
      if (out === undefined) break;
      if (this.#unsaved.get(key) === rec) this.#unsaved.delete(key);
      if (out) written++;
    }
    return written;
  }

  /**
   * The last thing a stopping node does with its games: writes what could not be saved, asking
   * the database again every `pauseMs` (even while it is known to be away) until everything is
   * written or `deadline` passes. Returns how many games' latest writes are still unsaved.
   */
  async saveUnsaved(deadline: number, pauseMs = 250): Promise<number> {
    while (this.#unsaved.size > 0 && this.#o.clock.now() < deadline) {
      const [key, rec] = this.#unsaved.entries().next().value as [
        string,
        GameRecord & { state: GameState },
      ];
      const out = await this.#try(() => this.#o.snapshots.save(toSnapshot(rec)));
      if (out !== undefined) {
        if (this.#unsaved.get(key) === rec) this.#unsaved.delete(key);
        await this.flush();
        continue;
      }
      await sleep(this.#o.clock, Math.min(pauseMs, Math.max(0, deadline - this.#o.clock.now())));
    }
    return this.#unsaved.size;
  }

  /** True when every other node holding a lease is a live peer (false without the database). */
  async everyHolderReachable(): Promise<boolean> {
    return (await this.#call(() => this.#unreachableHolder())) === null;
  }

  /**
   * Another node that holds a lease (running games, or draining them, so possibly holding an
   * owner's acknowledged writes) and that the mesh does not reach; null when there is none.
   * Nodes still starting hold no game yet.
   */
  async #unreachableHolder(): Promise<string | null> {
    const reachable = this.#o.reachable;
    if (!reachable) return null;
    // Leases that ran out during an outage count as held for the grace after it (as the owner's).
    const within = this.#justBack(this.#o.clock.now()) ? undefined : this.#o.leaseMs;
    for (const lease of await this.#o.leases.fresh(within)) {
      if (lease.nodeId === this.#o.nodeId || reachable(lease.nodeId)) continue;
      if (lease.state === 'ready' || lease.state === 'draining') return lease.nodeId;
    }
    return null;
  }

  /**
   * A fresh lease of a node that still runs games (a draining node hands over or leaves what it
   * has).
   */
  async #leaseAlive(nodeId: string): Promise<boolean> {
    const lease = await this.#o.leases.get(nodeId);
    if (lease === undefined || lease.state === 'draining' || lease.state === 'stopped')
      return false;
    return lease.ageMs < this.#o.leaseMs || this.#justBack(this.#o.clock.now());
  }

  /**
   * Just after an outage every lease looks run out: nobody could renew. A node may be alive and
   * still acknowledging through its peers; it renews (and writes what it kept) within a renewal
   * of the database's return, so until one lease period (and the margin) after that return, a
   * lease that ran out still counts as held.
   */
  #justBack(now: number): boolean {
    return this.#backAt !== null && now - this.#backAt < this.#o.leaseMs + this.#margin;
  }

  /** A database call, or undefined at once while the database is known to be away. */
  #call<T>(run: () => Promise<T>): Promise<T | undefined> {
    return this.available ? this.#try(run) : Promise.resolve(undefined);
  }

  /** Runs a database call; undefined (logged once per outage) when it fails. */
  async #try<T>(run: () => Promise<T>): Promise<T | undefined> {
    try {
      const out = await run();
      if (!this.available) {
        this.#failing = null;
        this.#backAt = this.#o.clock.now();
        this.#o.logger.info({ unsaved: this.#unsaved.size }, 'database reachable again');
      }
      return out;
    } catch (err) {
      if (this.available) {
        const outage = outageClass(err);
        this.#failing = { since: this.#o.clock.now(), outage };
        this.#o.logger.error(
          { err, outage },
          `database unavailable${outage ? ` (${describeOutage(outage)})` : ''}: running games continue from memory; saves are kept until it answers`,
        );
      }
      return undefined;
    }
  }
}
