// The process around a Replica: ships local writes to peers as operations, applies theirs,
// acknowledges, and repairs whatever was lost by anti-entropy (digest exchange) on peer-up,
// on demand (catchUp) and periodically. Owns the timers; the Replica stays pure.

import { every, systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Member, MeshChannel } from '../cluster/types.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  acceptMessage,
  checkRecord,
  serialisedBytes,
  type AckMessage,
  type DigestMessage,
  type OpMessage,
  type RecordsMessage,
  type ReplicationLogger,
} from './protocol.js';
import { compareVersion, type GameRecord, type Version } from './record.js';
import { compareRecords, versionOf, type DigestEntry, type Replica } from './replica.js';

export interface ReplicaSyncOptions {
  replica: Replica;
  channel: MeshChannel;
  logger: ReplicationLogger;
  /** Wall-clock ms (defaults to the clock's). */
  now?: () => number;
  /** Time and timers (the simulator passes virtual ones). */
  clock?: Clock;
  /** Period of the background digest exchange with every peer. */
  antiEntropyMs?: number;
  /** How long write() waits for a first acknowledgement. */
  ackTimeoutMs?: number;
  /** Largest serialised message sent or accepted. */
  maxMessageBytes?: number;
  /** Tombstones older than this are dropped by the periodic compaction. */
  tombstoneTtlMs?: number;
  /**
   * Checks the content of a remote record (the replication layer only knows the envelope);
   * returns why it is unacceptable, or undefined. Refused records are not applied nor acked.
   */
  checkContent?: (record: GameRecord) => string | undefined;
}

const DEFAULTS = {
  antiEntropyMs: 5000,
  ackTimeoutMs: 2000,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  tombstoneTtlMs: 10 * 60_000,
};

/**
 * What became of a write. `acked` is always present (empty unless a peer applied it).
 * - acked: a live peer holds the record (or there was no live peer: acked is []).
 * - timed-out: peers exist but none acknowledged in time, or all went down.
 * - fenced: a newer version of the key exists (this node is no longer the owner).
 * - rejected: the record was not written at all (invalid, too large, sync stopped).
 */
export type WriteOutcome =
  | { kind: 'acked'; acked: string[] }
  | { kind: 'timed-out'; acked: []; timedOut: true }
  | { kind: 'fenced'; acked: []; fenced: true; current: Version }
  | { kind: 'rejected'; acked: []; reason: string };

/**
 * Called whenever the local replica changed. `current` and `previous` are live records, or
 * undefined for a tombstone or absence; `applied` is the record that was applied.
 */
export type ChangeHandler = (
  key: string,
  current: GameRecord | undefined,
  previous: GameRecord | undefined,
  applied: GameRecord,
) => void;

export interface CatchUpResult {
  /** Peers that answered every part of the exchange. */
  answered: string[];
  /** Peers that went down or did not answer in time. */
  missing: string[];
  ms: number;
}

export interface ReplicaSyncStats {
  records: number;
  tombstones: number;
  /** Different records received under one version: a writer reused a seq. */
  conflicts: number;
  opsIn: number;
  opsOut: number;
  acksIn: number;
  staleIn: number;
  rejectedIn: number;
  recordsIn: number;
  recordsOut: number;
  exchanges: number;
  pendingWrites: number;
  lastCatchUpMs: number | null;
  lastCatchUpAt: number | null;
}

interface PendingWrite {
  key: string;
  /** Peers the op was sent to; only their acks count. */
  sentTo: ReadonlySet<string>;
  /** Of those, the ones still live and silent. */
  waiting: Set<string>;
  timer: TimerHandle;
  resolve: (outcome: WriteOutcome) => void;
}

interface Exchange {
  peer: string;
  /** Digest parts (message ids) not yet fully answered. */
  parts: Set<string>;
  /** For each digest part, the indices of the records messages received so far. */
  received: Map<string, Set<number>>;
  timer: TimerHandle;
  resolve: (answered: boolean) => void;
}

/** Room kept for the envelope around records or digest entries. */
const ENVELOPE_BYTES = 1024;
/** Upper bound of one serialised digest entry: 4-letter key, 64-char owner, two safe ints. */
const DIGEST_ENTRY_BYTES = 128;

export class ReplicaSync {
  readonly replica: Replica;
  readonly #channel: MeshChannel;
  readonly #logger: ReplicationLogger;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #opts: typeof DEFAULTS;
  readonly #checkContent: ((record: GameRecord) => string | undefined) | undefined;
  readonly #handlers: ChangeHandler[] = [];
  readonly #writes = new Map<string, PendingWrite>();
  readonly #exchanges = new Map<string, Exchange>();
  #nextId = 0;
  /** Distinguishes this process's message ids from those of an earlier run of the node. */
  readonly #incarnation: string;
  #stopTimer: (() => void) | undefined;
  #stopped = false;
  readonly #stats = {
    opsIn: 0,
    opsOut: 0,
    acksIn: 0,
    staleIn: 0,
    rejectedIn: 0,
    recordsIn: 0,
    recordsOut: 0,
    exchanges: 0,
    lastCatchUpMs: null as number | null,
    lastCatchUpAt: null as number | null,
  };

  constructor(options: ReplicaSyncOptions) {
    const opts = {
      antiEntropyMs: options.antiEntropyMs ?? DEFAULTS.antiEntropyMs,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      tombstoneTtlMs: options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs,
    };
    for (const [name, value] of Object.entries(opts)) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(`ReplicaSync: ${name} must be a positive number, got ${value}`);
      }
    }
    if (opts.maxMessageBytes < 4 * ENVELOPE_BYTES) {
      throw new RangeError(`ReplicaSync: maxMessageBytes must be at least ${4 * ENVELOPE_BYTES}`);
    }
    this.#opts = opts;
    this.replica = options.replica;
    this.#channel = options.channel;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? (() => this.#clock.now());
    this.#checkContent = options.checkContent;
    this.#incarnation = Math.floor(this.#now()).toString(36);
    this.#channel.onMessage((from, body) => this.#receive(from, body));
    this.#channel.onPeerUp((member) => this.#peerUp(member));
    this.#channel.onPeerDown((member) => this.#peerDown(member));
  }

  /** Starts periodic anti-entropy and compaction. */
  start(): void {
    if (this.#stopTimer !== undefined || this.#stopped) return;
    this.#stopTimer = every(this.#clock, this.#opts.antiEntropyMs, () => this.#antiEntropyTick());
  }

  /** Stops timers, resolves pending writes as timed out, and ignores further messages. */
  stop(): void {
    this.#stopped = true;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    for (const id of [...this.#writes.keys()]) this.#finishWrite(id, timedOut());
    for (const exchange of new Set(this.#exchanges.values())) this.#endExchange(exchange, false);
  }

  onChange(handler: ChangeHandler): void {
    this.#handlers.push(handler);
  }

  /** Applies a record locally and ships it to every live peer. Never rejects. */
  write(record: GameRecord): Promise<WriteOutcome> {
    if (this.#stopped) return Promise.resolve(rejected('replication is stopped'));
    const invalid = checkRecord(record);
    if (invalid !== undefined) {
      this.#logger.warn({ key: record.key, reason: invalid }, `write of ${record.key} rejected: invalid record`);
      return Promise.resolve(rejected(`invalid record: ${invalid}`));
    }
    const id = this.#id();
    const op: OpMessage = { type: 'op', id, record };
    const bytes = serialisedBytes(op);
    if (bytes > this.#opts.maxMessageBytes) {
      this.#logger.warn(
        { key: record.key, bytes, limit: this.#opts.maxMessageBytes },
        `write of ${record.key} rejected: ${bytes} bytes exceed the message limit`,
      );
      return Promise.resolve(rejected(`record is ${bytes} bytes, limit ${this.#opts.maxMessageBytes}`));
    }

    const previous = this.replica.getAny(record.key);
    if (previous !== undefined && compareVersion(previous, record) === 0 && compareRecords(previous, record) !== 0) {
      this.#logger.warn({ key: record.key, version: versionOf(record) }, `write of ${record.key} rejected: version already used`);
      return Promise.resolve(rejected(`epoch ${record.epoch} seq ${record.seq} of ${record.owner} already names a different record`));
    }
    const result = this.replica.apply(record);
    if (result === 'stale' && previous !== undefined) {
      this.#logger.info(
        { key: record.key, epoch: record.epoch, seq: record.seq, current: versionOf(previous) },
        `write of ${record.key} fenced: a newer version (epoch ${previous.epoch}, owner ${previous.owner}) is held`,
      );
      return Promise.resolve(fenced(versionOf(previous)));
    }
    if (result === 'applied') this.#emit(record, previous);

    const sent = this.#channel.broadcast(op);
    this.#stats.opsOut += sent.length;
    if (sent.length === 0) return Promise.resolve({ kind: 'acked', acked: [] });

    return new Promise<WriteOutcome>((resolve) => {
      const timer = this.#clock.setTimeout(() => this.#ackTimeout(id), this.#opts.ackTimeoutMs);
      this.#writes.set(id, { key: record.key, sentTo: new Set(sent), waiting: new Set(sent), timer, resolve });
    });
  }

  /** Runs anti-entropy with every live peer; resolves when all answered or at the timeout. */
  async catchUp(timeoutMs: number): Promise<CatchUpResult> {
    const started = this.#now();
    const peers = this.#channel.peers().map((p) => p.id);
    const digest = this.replica.digest();
    const answers = await Promise.all(peers.map((peer) => this.#exchange(peer, timeoutMs, digest)));
    const ms = this.#now() - started;
    this.#stats.lastCatchUpMs = ms;
    this.#stats.lastCatchUpAt = this.#now();
    const answered = peers.filter((_, i) => answers[i]);
    const missing = peers.filter((_, i) => !answers[i]);
    this.#logger.info({ answered, missing, ms }, `catch-up with ${answered.length}/${peers.length} peers in ${ms} ms`);
    return { answered, missing, ms };
  }

  /** Drops expired tombstones now (also done by the periodic tick). */
  compact(): string[] {
    return this.replica.compact(this.#now(), this.#opts.tombstoneTtlMs);
  }

  stats(): ReplicaSyncStats {
    return {
      records: this.replica.size - this.replica.tombstones,
      tombstones: this.replica.tombstones,
      conflicts: this.replica.conflicts,
      pendingWrites: this.#writes.size,
      ...this.#stats,
    };
  }

  // ── timers ─────────────────────────────────────────────────────────────────────────────

  #antiEntropyTick(): void {
    const busy = new Set([...this.#exchanges.values()].map((e) => e.peer));
    const idle = this.#channel.peers().filter((peer) => !busy.has(peer.id));
    const digest = idle.length > 0 ? this.replica.digest() : [];
    for (const peer of idle) void this.#exchange(peer.id, this.#opts.antiEntropyMs, digest);
    const dropped = this.compact();
    if (dropped.length > 0) this.#logger.debug({ keys: dropped }, `compacted ${dropped.length} tombstones`);
  }

  #ackTimeout(id: string): void {
    const pending = this.#writes.get(id);
    if (pending === undefined) return;
    this.#logger.warn(
      { key: pending.key, waiting: [...pending.waiting], ms: this.#opts.ackTimeoutMs },
      `write of ${pending.key} not acknowledged within ${this.#opts.ackTimeoutMs} ms`,
    );
    this.#finishWrite(id, timedOut());
  }

  #exchangeTimeout(exchange: Exchange): void {
    this.#logger.debug({ peer: exchange.peer }, `anti-entropy with ${exchange.peer} timed out`);
    this.#endExchange(exchange, false);
  }

  // ── peers ──────────────────────────────────────────────────────────────────────────────

  #peerUp(member: Member): void {
    if (this.#stopped) return;
    void this.#exchange(member.id, this.#opts.antiEntropyMs);
  }

  #peerDown(member: Member): void {
    for (const [id, pending] of [...this.#writes]) {
      if (pending.waiting.delete(member.id) && pending.waiting.size === 0) {
        this.#logger.warn({ key: pending.key, peer: member.id }, `write of ${pending.key}: last waiting peer went down`);
        this.#finishWrite(id, timedOut());
      }
    }
    for (const exchange of new Set(this.#exchanges.values())) {
      if (exchange.peer === member.id) this.#endExchange(exchange, false);
    }
  }

  // ── anti-entropy ───────────────────────────────────────────────────────────────────────

  /** Sends our digest to one peer (in key ranges that each fit a message). */
  #exchange(peer: string, timeoutMs: number, digest?: DigestEntry[]): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const entries = digest ?? this.replica.digest();
    const perMessage = Math.max(
      1,
      Math.floor((this.#opts.maxMessageBytes - ENVELOPE_BYTES) / DIGEST_ENTRY_BYTES),
    );
    const messages: DigestMessage[] = [];
    for (let i = 0; i === 0 || i < entries.length; i += perMessage) {
      const slice = entries.slice(i, i + perMessage);
      const next = entries[i + perMessage];
      const message: DigestMessage = { type: 'digest', id: this.#id(), entries: slice };
      if (i > 0) message.from = (slice[0] as DigestEntry)[0];
      if (next !== undefined) message.to = next[0];
      messages.push(message);
    }
    this.#stats.exchanges++;
    return new Promise<boolean>((resolve) => {
      // One Exchange shared by every part: it resolves when all parts are answered.
      const exchange: Exchange = {
        peer,
        parts: new Set(messages.map((m) => m.id)),
        received: new Map(),
        timer: this.#clock.setTimeout(() => this.#exchangeTimeout(exchange), timeoutMs),
        resolve,
      };
      for (const id of exchange.parts) this.#exchanges.set(id, exchange);
      for (const message of messages) {
        if (!this.#channel.send(peer, message)) return this.#endExchange(exchange, false);
      }
    });
  }

  /** One part of an exchange was answered; the exchange ends when the last one is. */
  #partAnswered(id: string): void {
    const exchange = this.#exchanges.get(id);
    if (exchange === undefined) return;
    this.#exchanges.delete(id);
    exchange.parts.delete(id);
    if (exchange.parts.size === 0) this.#endExchange(exchange, true);
  }

  #endExchange(exchange: Exchange, answered: boolean): void {
    for (const part of exchange.parts) this.#exchanges.delete(part);
    exchange.parts.clear();
    this.#clock.clearTimeout(exchange.timer);
    exchange.resolve(answered);
  }

  /** Sends records (split into messages under the size limit); `want` rides on the last. */
  #sendRecords(peer: string, id: string, records: GameRecord[], want?: string[]): void {
    const base = serialisedBytes({ type: 'records', id, records: [], want, part: 1e6, parts: 1e6 });
    const budget = this.#opts.maxMessageBytes - base - 16;
    const batches: GameRecord[][] = [[]];
    let used = 0;
    for (const record of records) {
      const size = serialisedBytes(record) + 1;
      if (size > budget) {
        this.#logger.warn({ key: record.key, bytes: size }, `record ${record.key} too large to send; skipped`);
        continue;
      }
      if (used + size > budget) {
        batches.push([]);
        used = 0;
      }
      (batches[batches.length - 1] as GameRecord[]).push(record);
      used += size;
    }
    batches.forEach((batch, i) => {
      const last = i === batches.length - 1;
      const message: RecordsMessage = { type: 'records', id, records: batch };
      if (last && want !== undefined && want.length > 0) message.want = want;
      if (batches.length > 1) {
        message.part = i;
        message.parts = batches.length;
      }
      if (this.#channel.send(peer, message)) this.#stats.recordsOut += batch.length;
    });
  }

  // ── incoming ───────────────────────────────────────────────────────────────────────────

  #receive(from: string, body: unknown): void {
    if (this.#stopped) return;
    const message = acceptMessage(body, from, this.#logger, this.#opts.maxMessageBytes);
    if (message === undefined) {
      this.#stats.rejectedIn++;
      return;
    }
    switch (message.type) {
      case 'op':
        return this.#receiveOp(from, message);
      case 'ack':
        return this.#receiveAck(from, message);
      case 'digest':
        return this.#receiveDigest(from, message);
      case 'records':
        return this.#receiveRecords(from, message);
    }
  }

  #receiveOp(from: string, message: OpMessage): void {
    this.#stats.opsIn++;
    const { record } = message;
    const result = this.#applyRemote(record, from);
    if (result === 'refused') return;
    const ack: AckMessage = { type: 'ack', id: message.id, result };
    if (result === 'stale') {
      const held = this.replica.getAny(record.key) as GameRecord;
      ack.current = versionOf(held);
      this.#stats.staleIn++;
      this.#logger.info(
        { peer: from, key: record.key, epoch: record.epoch, owner: record.owner, seq: record.seq, current: ack.current },
        `stale op for ${record.key} from ${from} refused: epoch ${record.epoch} seq ${record.seq} of ${record.owner} is older than epoch ${held.epoch} seq ${held.seq} of ${held.owner}`,
      );
    }
    this.#channel.send(from, ack);
  }

  #receiveAck(from: string, message: AckMessage): void {
    this.#stats.acksIn++;
    const pending = this.#writes.get(message.id);
    if (pending === undefined || !pending.sentTo.has(from)) {
      this.#logger.debug({ peer: from, id: message.id }, 'late or unknown ack ignored');
      return;
    }
    if (message.result !== 'stale') {
      this.#finishWrite(message.id, { kind: 'acked', acked: [from] });
      return;
    }
    // A peer holding a newer version proves this write can never win: the writer is fenced.
    const current = message.current ?? versionOf(this.replica.getAny(pending.key) as GameRecord);
    this.#logger.warn(
      { key: pending.key, peer: from, current },
      `write of ${pending.key} fenced by ${from}: it holds epoch ${current.epoch} of ${current.owner}`,
    );
    this.#finishWrite(message.id, fenced(current));
    // Fetch the newer record so the local replica (and its listeners) learn the new owner.
    this.#channel.send(from, { type: 'records', id: this.#id(), records: [], want: [pending.key] });
  }

  #receiveDigest(from: string, message: DigestMessage): void {
    const { newerHere, newerThere } = this.replica.compare(message.entries, {
      from: message.from,
      to: message.to,
    });
    this.#sendRecords(from, message.id, newerHere, newerThere);
  }

  #receiveRecords(from: string, message: RecordsMessage): void {
    this.#stats.recordsIn += message.records.length;
    for (const record of message.records) this.#applyRemote(record, from);
    if (message.want !== undefined && message.want.length > 0) {
      const wanted: GameRecord[] = [];
      for (const key of message.want) {
        const record = this.replica.getAny(key);
        if (record !== undefined) wanted.push(record);
      }
      if (wanted.length > 0) this.#sendRecords(from, message.id, wanted);
    }
    const exchange = this.#exchanges.get(message.id);
    if (exchange !== undefined && exchange.peer === from) {
      // Count distinct parts: messages may arrive reordered or twice.
      const got = exchange.received.get(message.id) ?? new Set<number>();
      exchange.received.set(message.id, got);
      got.add(message.part ?? 0);
      if (got.size >= (message.parts ?? 1)) this.#partAnswered(message.id);
    }
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────

  #applyRemote(record: GameRecord, from: string): 'applied' | 'duplicate' | 'stale' | 'refused' {
    const problem = record.state === null ? undefined : this.#checkContent?.(record);
    if (problem !== undefined) {
      this.#stats.rejectedIn++;
      this.#logger.warn({ peer: from, key: record.key, problem }, `record of ${record.key} from ${from} refused: ${problem}`);
      return 'refused';
    }
    const previous = this.replica.getAny(record.key);
    const conflicts = this.replica.conflicts;
    const result = this.replica.apply(record);
    if (this.replica.conflicts !== conflicts) {
      this.#logger.warn(
        { key: record.key, version: versionOf(record) },
        `two different records of ${record.key} share epoch ${record.epoch} seq ${record.seq} of ${record.owner}; kept one deterministically`,
      );
    }
    if (result === 'applied') this.#emit(record, previous);
    return result;
  }

  #emit(applied: GameRecord, previous: GameRecord | undefined): void {
    const current = applied.state === null ? undefined : applied;
    const before = previous === undefined || previous.state === null ? undefined : previous;
    for (const handler of this.#handlers) {
      try {
        handler(applied.key, current, before, applied);
      } catch (err) {
        this.#logger.warn({ key: applied.key, err }, `change listener failed for ${applied.key}`);
      }
    }
  }

  #finishWrite(id: string, outcome: WriteOutcome): void {
    const pending = this.#writes.get(id);
    if (pending === undefined) return;
    this.#writes.delete(id);
    this.#clock.clearTimeout(pending.timer);
    pending.resolve(outcome);
  }

  #id(): string {
    return `${this.#channel.selfId}:${this.#incarnation}:${(this.#nextId++).toString(36)}`;
  }
}

function timedOut(): WriteOutcome {
  return { kind: 'timed-out', acked: [], timedOut: true };
}

function fenced(current: Version): WriteOutcome {
  return { kind: 'fenced', acked: [], fenced: true, current };
}

function rejected(reason: string): WriteOutcome {
  return { kind: 'rejected', acked: [], reason };
}
