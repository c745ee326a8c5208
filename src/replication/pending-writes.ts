// Writes shipped to peers and not yet settled: which peers each was sent to, which of them are
// still live and silent, and the timer that gives up on them. Settling one resolves the promise
// its writer is waiting on, exactly once.

import type { Clock, TimerHandle } from '../clock.js';
import type { ReplicationLogger } from './protocol.js';
import type { Version } from './record.js';

/**
 * What became of a write. `acked` is always present (empty unless a peer applied it).
 * - acked: a peer that is still live holds the record. For a write sent with `persist`,
 *   `saved` says whether one of them saved it (the first such ack settles it; otherwise every
 *   peer answered and none could).
 * - alone: there was no live peer to send it to; only this node holds it. Whether that is
 *   enough to acknowledge anything is the caller's decision (see sessions/ledger.ts).
 * - timed-out: peers exist but none acknowledged in time, or all went down.
 * - fenced: a newer version of the key exists (this node is no longer the owner).
 * - rejected: the record was not written at all (invalid, too large, sync stopped).
 */
export type WriteOutcome =
  | { kind: 'acked'; acked: string[]; saved?: boolean }
  | { kind: 'alone'; acked: [] }
  | { kind: 'timed-out'; acked: []; timedOut: true }
  | { kind: 'fenced'; acked: []; fenced: true; current: Version }
  | { kind: 'rejected'; acked: []; reason: string };

export function timedOut(): WriteOutcome {
  return { kind: 'timed-out', acked: [], timedOut: true };
}

export function fenced(current: Version): WriteOutcome {
  return { kind: 'fenced', acked: [], fenced: true, current };
}

export function rejected(reason: string): WriteOutcome {
  return { kind: 'rejected', acked: [], reason };
}

/**
 * What a peer did with a write it was asked to save: saved (its database holds that version, or a
 * later one of the same owner and epoch), could not (no database), or found a newer version.
 */
export type PersistResult = 'saved' | 'unavailable' | { newer: Version };

/** A write waiting for its first acknowledgement. */
export interface PendingWrite {
  readonly key: string;
  /** The written record's epoch. */
  readonly epoch: number;
}

interface Entry extends PendingWrite {
  /** Peers the op was sent to; only their acks count. */
  sentTo: ReadonlySet<string>;
  /** Of those, the ones still live and silent. */
  waiting: Set<string>;
  /** The message that carried the write, to send again to a peer whose link changed. */
  message: unknown;
  /** Sent to be saved by a peer: only an ack that says it was saved settles it early. */
  persist: boolean;
  /** Peers that applied it but did not save it (a write sent to be saved). */
  held: string[];
  timer: TimerHandle;
  resolve: (outcome: WriteOutcome) => void;
}

export class PendingWrites {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #logger: ReplicationLogger;
  readonly #timeoutMs: number;

  /** @param timeoutMs how long a write waits for a first acknowledgement. */
  constructor(clock: Clock, logger: ReplicationLogger, timeoutMs: number) {
    this.#clock = clock;
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Waits for the write `id`, sent to `sentTo` as `message`, until it is settled or times out.
   */
  wait(
    id: string,
    write: PendingWrite,
    sentTo: string[],
    message: unknown,
    persist = false,
  ): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve) => {
      const { key, epoch } = write;
      const timer = this.#clock.setTimeout(() => this.#timedOut(id), this.#timeoutMs);
      this.#entries.set(id, {
        key,
        epoch,
        sentTo: new Set(sentTo),
        waiting: new Set(sentTo),
        message,
        persist,
        held: [],
        timer,
        resolve,
      });
    });
  }

  /**
   * The write `id`, if it is still pending and was sent to `peer` (only its senders' acks count).
   */
  sentTo(id: string, peer: string): PendingWrite | undefined {
    const entry = this.#entries.get(id);
    return entry?.sentTo.has(peer) ? entry : undefined;
  }

  /** The message (the whole record) of the write `id` while it is pending. */
  message(id: string): unknown {
    return this.#entries.get(id)?.message;
  }

  /** The messages of the writes still waiting for `peer`'s answer. */
  waitingOn(peer: string): unknown[] {
    const out: unknown[] = [];
    for (const entry of this.#entries.values())
      if (entry.waiting.has(peer)) out.push(entry.message);
    return out;
  }

  /**
   * `peer` applied the write `id` (and says whether it saved it): that settles it, unless it was
   * sent to be saved and was not; then it settles once every peer it waits for has answered.
   */
  answered(id: string, peer: string, saved: boolean): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    if (!entry.persist) return this.settle(id, { kind: 'acked', acked: [peer] });
    if (saved) return this.settle(id, { kind: 'acked', acked: [peer], saved: true });
    if (!entry.held.includes(peer)) entry.held.push(peer);
    entry.waiting.delete(peer);
    if (entry.waiting.size === 0)
      this.settle(id, { kind: 'acked', acked: [...entry.held], saved: false });
  }

  /** The peer went down: a write it was the last silent peer of times out now. */
  peerDown(peer: string): void {
    for (const [id, entry] of [...this.#entries]) {
      if (entry.waiting.delete(peer) && entry.waiting.size === 0) {
        this.#logger.warn(
          { key: entry.key, peer },
          `write of ${entry.key}: last waiting peer went down`,
        );
        this.settle(id, timedOut());
      }
    }
  }

  settle(id: string, outcome: WriteOutcome): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#clock.clearTimeout(entry.timer);
    entry.resolve(outcome);
  }

  /** Every pending write times out (replication stops). */
  settleAll(): void {
    for (const id of [...this.#entries.keys()]) this.settle(id, timedOut());
  }

  #timedOut(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#logger.warn(
      { key: entry.key, waiting: [...entry.waiting], ms: this.#timeoutMs },
      `write of ${entry.key} not acknowledged within ${this.#timeoutMs} ms`,
    );
    this.settle(id, timedOut());
  }
}
