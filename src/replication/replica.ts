// The replicated store as a pure data type: a last-writer-wins map from game code to the
// latest record, ordered by compareVersion. No clock, no timers, no I/O.
//
// An operation is a whole record. Applying one keeps the greater of it and the record held
// for its key, so operations are idempotent and commute: any order, with duplicates, yields
// the same map. Only the winner per key is stored; superseded records are dropped at once.

import { compareVersion, type StoreRecord, type Version } from './record.js';

export type ApplyResult = 'applied' | 'duplicate' | 'stale';

/** Compact summary of one key for anti-entropy: [key, epoch, owner, seq]. */
export type DigestEntry = [key: string, epoch: number, owner: string, seq: number];

/** A half-open key range [from, to); an absent bound is unbounded on that side. */
export interface KeyRange {
  from?: string | undefined;
  to?: string | undefined;
}

export interface Comparison<S extends object = object> {
  /** Records this replica holds that the remote lacks or holds an older version of. */
  newerHere: StoreRecord<S>[];
  /** Keys the remote holds a newer version of (or that this replica lacks). */
  newerThere: string[];
}

export function versionOf(record: Version): Version {
  return { epoch: record.epoch, owner: record.owner, seq: record.seq };
}

/**
 * Total order of records: by version, then (only for two different records carrying the same
 * version, which a correct owner never produces) by a deterministic tie-break, so that even
 * that misuse converges: later `at`, then higher schema, then tombstone, then state JSON.
 * Returns 0 only for records that are interchangeable.
 */
export function compareRecords(a: StoreRecord, b: StoreRecord): number {
  const order = compareVersion(a, b);
  if (order !== 0 || a === b) return order;
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.schema !== b.schema) return a.schema < b.schema ? -1 : 1;
  if (a.state === null || b.state === null) {
    return a.state === b.state ? 0 : a.state === null ? 1 : -1;
  }
  if (a.state === b.state) return 0;
  const sa = JSON.stringify(a.state);
  const sb = JSON.stringify(b.state);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

export function inRange(key: string, range: KeyRange | undefined): boolean {
  if (range === undefined) return true;
  if (range.from !== undefined && key < range.from) return false;
  if (range.to !== undefined && key >= range.to) return false;
  return true;
}

export class Replica<S extends object = object> {
  readonly #records = new Map<string, StoreRecord<S>>();
  #tombstones = 0;
  #conflicts = 0;

  /**
   * Keeps `record` if it is newer than what is held for its key. The same version is a
   * duplicate: a version names exactly one write (an owner never reuses a seq in its epoch).
   * Should two different records ever share a version, compareRecords picks the same one on
   * every replica, and `conflicts` counts it.
   */
  apply(record: StoreRecord<S>): ApplyResult {
    const held = this.#records.get(record.key);
    if (held !== undefined) {
      let order = compareVersion(record, held);
      if (order === 0) {
        order = compareRecords(record, held);
        if (order === 0) return 'duplicate';
        this.#conflicts++;
      }
      if (order < 0) return 'stale';
      if (held.state === null) this.#tombstones--;
    }
    this.#records.set(record.key, record);
    if (record.state === null) this.#tombstones++;
    return 'applied';
  }

  /** The live record of a game, or undefined when it is absent or finished (tombstone). */
  get(key: string): StoreRecord<S> | undefined {
    const record = this.#records.get(key);
    return record === undefined || record.state === null ? undefined : record;
  }

  /** Whatever is held for the key, tombstones included. */
  getAny(key: string): StoreRecord<S> | undefined {
    return this.#records.get(key);
  }

  /** Every live record (tombstones excluded). */
  live(): StoreRecord<S>[] {
    const out: StoreRecord<S>[] = [];
    for (const record of this.#records.values()) if (record.state !== null) out.push(record);
    return out;
  }

  /** Every record held, tombstones included. */
  all(): StoreRecord<S>[] {
    return [...this.#records.values()];
  }

  /** Number of keys held, tombstones included. */
  get size(): number {
    return this.#records.size;
  }

  get tombstones(): number {
    return this.#tombstones;
  }

  /** Different records seen under one version (a bug in a writer; resolved deterministically). */
  get conflicts(): number {
    return this.#conflicts;
  }

  /** Versions of every key held (tombstones included), sorted by key. */
  digest(range?: KeyRange): DigestEntry[] {
    const out: DigestEntry[] = [];
    for (const r of this.#records.values()) {
      if (inRange(r.key, range)) out.push([r.key, r.epoch, r.owner, r.seq]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /**
   * Compares a remote digest with this replica. With `range`, the remote digest is taken to
   * cover exactly that key range, so local keys outside it are not reported as missing there.
   */
  compare(remote: readonly DigestEntry[], range?: KeyRange): Comparison<S> {
    const newerHere: StoreRecord<S>[] = [];
    const newerThere: string[] = [];
    const seen = new Set<string>();
    for (const [key, epoch, owner, seq] of remote) {
      // A key named twice is answered once (a digest built by a node names each key once).
      if (seen.has(key)) continue;
      seen.add(key);
      const held = this.#records.get(key);
      if (held === undefined) {
        newerThere.push(key);
        continue;
      }
      const order = compareVersion(held, { epoch, owner, seq });
      if (order > 0) newerHere.push(held);
      else if (order < 0) newerThere.push(key);
    }
    for (const record of this.#records.values()) {
      if (!seen.has(record.key) && inRange(record.key, range)) newerHere.push(record);
    }
    return { newerHere, newerThere };
  }

  /**
   * Drops tombstones written more than `tombstoneTtlMs` before `now` and returns their keys.
   * The TTL must outlast any operation still in flight for the key (ack timeout plus a few
   * anti-entropy rounds), or a late stale write could bring a finished game back.
   */
  compact(now: number, tombstoneTtlMs: number): string[] {
    const dropped: string[] = [];
    for (const [key, record] of this.#records) {
      if (record.state === null && now - record.at > tombstoneTtlMs) {
        this.#records.delete(key);
        dropped.push(key);
      }
    }
    this.#tombstones -= dropped.length;
    return dropped;
  }
}
