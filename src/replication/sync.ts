// The process around a Replica: ships local writes to peers as operations (whole records, or to
// a peer that takes them, deltas: the members of the state that changed since the writer's
// write before), applies theirs, acknowledges, and repairs whatever was lost by anti-entropy
// (digest exchange) on peer-up, on demand (catchUp) and periodically. Owns the timers; the
// Replica stays pure. The writes waiting for acknowledgements (pending-writes.ts) and the
// exchanges waiting for answers (anti-entropy.ts) are kept apart; this file routes messages
// between them and the replica.
//
// Longer than ~400 lines: each kind of message changes the replica and the writes or exchanges
// waiting on it in one step, and reads best in one place.

import { every, systemClock, type Clock } from '../clock.js';
import type { Member, MeshChannel } from '../cluster/types.js';
import { ENVELOPE_BYTES, Exchanges, digestMessages, recordsMessages } from './anti-entropy.js';
import {
  PendingWrites,
  fenced,
  rejected,
  type PendingWrite,
  type PersistResult,
  type WriteOutcome,
} from './pending-writes.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DELTA_CAPABILITY,
  acceptMessage,
  isMemberName,
  checkRecord,
  opBytesIfOver,
  type AckMessage,
  type DeltaMessage,
  type DigestMessage,
  type OpMessage,
  type RecordsMessage,
  type ReplicationLogger,
} from './protocol.js';
import { compareVersion, type StoreRecord } from './record.js';
import { compareRecords, versionOf, type DigestEntry, type Replica } from './replica.js';

export interface ReplicaSyncOptions<S extends object = object> {
  replica: Replica<S>;
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
  checkContent?: (record: StoreRecord) => string | undefined;
  /**
   * Checks only the members `changed` of a state built from a delta (the others are those of a
   * version that was checked when it arrived); default: checkContent on the whole state.
   */
  checkChanged?: (record: StoreRecord, changed: readonly string[]) => string | undefined;
}

const DEFAULTS = {
  antiEntropyMs: 5000,
  ackTimeoutMs: 2000,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  tombstoneTtlMs: 10 * 60_000,
};

/**
 * Called whenever the local replica changed. `current` and `previous` are live records, or
 * undefined for a tombstone or absence; `applied` is the record that was applied.
 */
export type ChangeHandler<S extends object = object> = (
  key: string,
  current: StoreRecord<S> | undefined,
  previous: StoreRecord<S> | undefined,
  applied: StoreRecord<S>,
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
  /** Of the writes sent, those sent as deltas (the members that changed). */
  deltasOut: number;
  /** Deltas a peer could not apply (it did not hold their base): sent again whole. */
  missingIn: number;
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

export class ReplicaSync<S extends object = object> {
  readonly replica: Replica<S>;
  readonly #channel: MeshChannel;
  readonly #logger: ReplicationLogger;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #opts: typeof DEFAULTS;
  readonly #checkContent: ((record: StoreRecord) => string | undefined) | undefined;
  readonly #checkChanged:
    ((record: StoreRecord, changed: readonly string[]) => string | undefined) | undefined;
  readonly #handlers: ChangeHandler<S>[] = [];
  readonly #writes: PendingWrites;
  readonly #exchanges: Exchanges;
  #nextId = 0;
  /** Distinguishes this process's message ids from those of an earlier run of the node. */
  readonly #incarnation: string;
  #stopTimer: (() => void) | undefined;
  #stopped = false;
  #persist: ((record: StoreRecord<S>) => Promise<PersistResult>) | undefined;
  readonly #stats = {
    opsIn: 0,
    opsOut: 0,
    deltasOut: 0,
    missingIn: 0,
    acksIn: 0,
    staleIn: 0,
    rejectedIn: 0,
    recordsIn: 0,
    recordsOut: 0,
    exchanges: 0,
    lastCatchUpMs: null as number | null,
    lastCatchUpAt: null as number | null,
  };

  constructor(options: ReplicaSyncOptions<S>) {
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
    this.#checkChanged = options.checkChanged;
    this.#incarnation = Math.floor(this.#now()).toString(36);
    this.#writes = new PendingWrites(this.#clock, this.#logger, opts.ackTimeoutMs);
    this.#exchanges = new Exchanges(this.#clock, this.#logger);
    this.#channel.onMessage((from, body, frameBytes) => this.#receive(from, body, frameBytes));
    this.#channel.onPeerUp((member) => this.#peerUp(member));
    this.#channel.onPeerDown((member) => this.#peerDown(member));
    this.#channel.onPeerRelink((member) => this.#peerRelinked(member));
  }

  /** Starts periodic anti-entropy and compaction. */
  start(): void {
    if (this.#stopTimer !== undefined || this.#stopped) return;
    this.#stopTimer = every(this.#clock, this.#opts.antiEntropyMs, () => this.#antiEntropyTick());
  }

  /**
   * How this node saves a peer's write sent with `persist` (its owner's database did not answer)
   * before acknowledging it: the ack then says whether it was saved, or names the newer version
   * the database holds. Without it, such writes are acknowledged as not saved.
   */
  persistWith(persist: (record: StoreRecord<S>) => Promise<PersistResult>): void {
    this.#persist = persist;
  }

  /** Stops timers, resolves pending writes as timed out, and ignores further messages. */
  stop(): void {
    this.#stopped = true;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    this.#writes.settleAll();
    this.#exchanges.endAll();
  }

  onChange(handler: ChangeHandler<S>): void {
    this.#handlers.push(handler);
  }

  /**
   * Applies a record locally and ships it to every live peer. Never rejects. With `persist` (the
   * writer could not save it) the peers save it first, and apply and acknowledge it once saved;
   * the outcome says whether one did (`saved`), and only then is it applied here too: replicas
   * hold only what a database holds, so no page anywhere shows a write a successor could miss.
   */
  write(record: StoreRecord<S>, persist = false): Promise<WriteOutcome> {
    if (this.#stopped) return Promise.resolve(rejected('replication is stopped'));
    const invalid = checkRecord(record);
    if (invalid !== undefined) {
      this.#logger.warn(
        { key: record.key, reason: invalid },
        `write of ${record.key} rejected: invalid record`,
      );
      return Promise.resolve(rejected(`invalid record: ${invalid}`));
    }
    const id = this.#id();
    const op: OpMessage = { type: 'op', id, record, ...(persist && { persist: true as const }) };
    const bytes = opBytesIfOver(op, this.#opts.maxMessageBytes);
    if (bytes !== null && bytes > this.#opts.maxMessageBytes) {
      this.#logger.warn(
        { key: record.key, bytes, limit: this.#opts.maxMessageBytes },
        `write of ${record.key} rejected: ${bytes} bytes exceed the message limit`,
      );
      return Promise.resolve(
        rejected(`record is ${bytes} bytes, limit ${this.#opts.maxMessageBytes}`),
      );
    }

    const previous = this.replica.getAny(record.key);
    if (
      previous !== undefined &&
      compareVersion(previous, record) === 0 &&
      compareRecords(previous, record) !== 0
    ) {
      this.#logger.warn(
        { key: record.key, version: versionOf(record) },
        `write of ${record.key} rejected: version already used`,
      );
      return Promise.resolve(
        rejected(
          `epoch ${record.epoch} seq ${record.seq} of ${record.owner} already names a different record`,
        ),
      );
    }
    const newer = previous !== undefined && compareVersion(previous, record) > 0;
    const result = newer ? 'stale' : persist ? 'later' : this.replica.apply(record);
    if (result === 'stale' && previous !== undefined) {
      this.#logger.info(
        { key: record.key, epoch: record.epoch, seq: record.seq, current: versionOf(previous) },
        `write of ${record.key} fenced: a newer version (epoch ${previous.epoch}, owner ${previous.owner}) is held`,
      );
      return Promise.resolve(fenced(versionOf(previous)));
    }
    if (result === 'applied') this.#emit(record, previous);

    const sent = this.#ship(op, previous);
    if (sent.length === 0) return Promise.resolve({ kind: 'alone', acked: [] });

    const outcome = this.#writes.wait(id, record, sent, op, persist);
    if (!persist) return outcome;
    return outcome.then((out) => {
      if (out.kind === 'acked' && out.saved) {
        const before = this.replica.getAny(record.key);
        if (this.replica.apply(record) === 'applied') this.#emit(record, before);
      }
      return out;
    });
  }

  /**
   * Sends a write to every live peer: as a delta from `previous` to a peer that takes deltas when
   * `previous` is the owner's write just before it, else whole. Returns the peers it went to.
   */
  #ship(op: OpMessage, previous: StoreRecord<S> | undefined): string[] {
    const peers = this.#channel.peers();
    const delta = peers.some((p) => p.caps.includes(DELTA_CAPABILITY))
      ? deltaOf(op, previous)
      : null;
    const sent: string[] = [];
    for (const peer of peers) {
      const asDelta = delta !== null && peer.caps.includes(DELTA_CAPABILITY);
      if (!this.#channel.send(peer.id, asDelta ? delta : op)) continue;
      sent.push(peer.id);
      if (asDelta) this.#stats.deltasOut++;
    }
    this.#stats.opsOut += sent.length;
    return sent;
  }

  /**
   * Applies a record that came from elsewhere than a peer (the durable copy in the database),
   * checked like a peer's. Peers learn it by anti-entropy.
   */
  absorb(record: StoreRecord): 'applied' | 'duplicate' | 'stale' | 'refused' {
    if (this.#stopped) return 'refused';
    return this.#applyRemote(record, 'the database');
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
    this.#logger.info(
      { answered, missing, ms },
      `catch-up with ${answered.length}/${peers.length} peers in ${ms} ms`,
    );
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
    const busy = this.#exchanges.busy();
    const idle = this.#channel.peers().filter((peer) => !busy.has(peer.id));
    const digest = idle.length > 0 ? this.replica.digest() : [];
    for (const peer of idle) void this.#exchange(peer.id, this.#opts.antiEntropyMs, digest);
    const dropped = this.compact();
    if (dropped.length > 0)
      this.#logger.debug({ keys: dropped }, `compacted ${dropped.length} tombstones`);
  }

  // ── peers ──────────────────────────────────────────────────────────────────────────────

  #peerUp(member: Member): void {
    if (this.#stopped) return;
    void this.#exchange(member.id, this.#opts.antiEntropyMs);
  }

  /**
   * The link to a live peer broke and came back (or was replaced): writes and digests sent on
   * the old one may be lost, and their answers with them. Both are sent again (a write applied
   * twice is acknowledged as a duplicate); otherwise a write would wait for its timeout and a
   * catch-up, a node's join among them, for its own.
   */
  #peerRelinked(member: Member): void {
    if (this.#stopped) return;
    let sent = 0;
    for (const message of this.#writes.waitingOn(member.id))
      if (this.#channel.send(member.id, message)) sent++;
    sent += this.#exchanges.resend(member.id, (part) => this.#channel.send(member.id, part));
    if (sent > 0)
      this.#logger.debug(
        { peer: member.id, messages: sent },
        `link to ${member.id} changed: sent ${sent} unanswered messages again`,
      );
  }

  #peerDown(member: Member): void {
    this.#writes.peerDown(member.id);
    this.#exchanges.peerDown(member.id);
  }

  // ── anti-entropy ───────────────────────────────────────────────────────────────────────

  /** Sends our digest to one peer (in key ranges that each fit a message). */
  #exchange(peer: string, timeoutMs: number, digest?: DigestEntry[]): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const parts = digestMessages(digest ?? this.replica.digest(), this.#opts.maxMessageBytes, () =>
      this.#id(),
    );
    this.#stats.exchanges++;
    return this.#exchanges.open(peer, parts, timeoutMs, (part) => this.#channel.send(peer, part));
  }

  /** Sends records (split into messages under the size limit); `want` rides on the last. */
  #sendRecords(peer: string, id: string, records: StoreRecord[], want?: string[]): void {
    const { messages, skipped } = recordsMessages(id, records, this.#opts.maxMessageBytes, want);
    for (const { key, bytes } of skipped)
      this.#logger.warn({ key, bytes }, `record ${key} too large to send; skipped`);
    for (const message of messages) {
      if (this.#channel.send(peer, message)) this.#stats.recordsOut += message.records.length;
    }
  }

  // ── incoming ───────────────────────────────────────────────────────────────────────────

  #receive(from: string, body: unknown, frameBytes?: number): void {
    if (this.#stopped) return;
    const message = acceptMessage(body, from, this.#logger, this.#opts.maxMessageBytes, frameBytes);
    if (message === undefined) {
      this.#stats.rejectedIn++;
      return;
    }
    switch (message.type) {
      case 'op':
        return this.#receiveOp(from, message);
      case 'delta':
        return this.#receiveDelta(from, message);
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
    if (message.persist) return void this.#persistOp(from, message.id, message.record);
    const result = this.#applyRemote(message.record, from);
    this.#answerOp(from, message.id, message.record, result);
  }

  /**
   * A write as the members that changed since its base version. Applied only onto exactly that
   * version (the state is then the base's with the changes, and only the changes are checked);
   * a version held already, or a newer one, is answered as a whole record would be.
   */
  #receiveDelta(from: string, message: DeltaMessage): void {
    this.#stats.opsIn++;
    const { id, key, owner, epoch, seq, base, schema, at } = message;
    const held = this.replica.getAny(key);
    const order = held === undefined ? -1 : compareVersion(held, { epoch, owner, seq });
    if (order === 0 && message.persist && held !== undefined) {
      void this.#persistOp(from, id, held);
      return;
    }
    if (order >= 0) {
      this.#answerOp(from, id, { key, owner, epoch, seq }, order === 0 ? 'duplicate' : 'stale');
      return;
    }
    if (
      held === undefined ||
      held.state === null ||
      held.epoch !== epoch ||
      held.owner !== owner ||
      held.seq !== base ||
      held.schema !== schema
    ) {
      this.#channel.send(from, { type: 'ack', id, result: 'missing', key } satisfies AckMessage);
      return;
    }
    // Spread and fromEntries define members (never an assignment that could set a prototype).
    const merged = { ...(held.state as Record<string, unknown>), ...message.set };
    const gone = message.unset ?? [];
    const state =
      gone.length === 0
        ? merged
        : Object.fromEntries(Object.entries(merged).filter(([name]) => !gone.includes(name)));
    const record: StoreRecord = { key, owner, epoch, seq, schema, state, at };
    const changed = [...Object.keys(message.set), ...gone];
    if (message.persist) return void this.#persistOp(from, id, record, changed);
    const result = this.#applyRemote(record, from, changed);
    this.#answerOp(from, id, record, result);
  }

  #answerOp(
    from: string,
    id: string,
    record: Pick<StoreRecord, 'key' | 'owner' | 'epoch' | 'seq'>,
    result: 'applied' | 'duplicate' | 'stale' | 'refused',
    extra: Pick<AckMessage, 'saved'> = {},
  ): void {
    if (result === 'refused') return;
    const ack: AckMessage = { type: 'ack', id, result, ...(result !== 'stale' && extra) };
    if (result === 'stale') {
      const held = this.replica.getAny(record.key) as StoreRecord<S>;
      ack.current = versionOf(held);
      this.#stats.staleIn++;
      this.#logger.info(
        {
          peer: from,
          key: record.key,
          epoch: record.epoch,
          owner: record.owner,
          seq: record.seq,
          current: ack.current,
        },
        `stale op for ${record.key} from ${from} refused: epoch ${record.epoch} seq ${record.seq} of ${record.owner} is older than epoch ${held.epoch} seq ${held.seq} of ${held.owner}`,
      );
    }
    this.#channel.send(from, ack);
  }

  /**
   * A write its owner could not save: checked, saved here, and only then applied (replicas hold
   * only what a database holds); the ack says whether it was saved, or names the newer version
   * the database holds. One the replica holds already is saved already.
   */
  async #persistOp(
    from: string,
    id: string,
    received: StoreRecord,
    changed?: readonly string[],
  ): Promise<void> {
    const held = this.replica.getAny(received.key);
    const order = held === undefined ? -1 : compareVersion(held, received);
    if (order > 0) {
      this.#answerOp(from, id, received, 'stale');
      return;
    }
    // A version held here is saved already, but the writer asks whether this node can save now:
    // that is how it learns, without a player acting, that its peers can save for it.
    if (order < 0 && this.#refused(received, from, changed)) return;
    let out: PersistResult = 'unavailable';
    try {
      if (this.#persist) out = await this.#persist(received as StoreRecord<S>);
    } catch (err) {
      this.#logger.warn({ key: received.key, err }, `saving ${received.key} for its owner failed`);
    }
    if (this.#stopped) return;
    if (typeof out === 'object') {
      this.#stats.staleIn++;
      const ack: AckMessage = { type: 'ack', id, result: 'stale', current: out.newer };
      this.#channel.send(from, ack);
      return;
    }
    if (out !== 'saved') {
      this.#channel.send(from, { type: 'ack', id, result: 'applied', saved: false });
      return;
    }
    const result = order === 0 ? 'duplicate' : this.#applyRemote(received, from, changed);
    this.#answerOp(from, id, received, result, { saved: true });
  }

  #receiveAck(from: string, message: AckMessage): void {
    this.#stats.acksIn++;
    const pending = this.#writes.sentTo(message.id, from);
    if (message.result === 'missing') return this.#resendWhole(from, message, pending);
    if (pending === undefined) {
      this.#logger.debug({ peer: from, id: message.id }, 'late or unknown ack ignored');
      return;
    }
    if (message.result !== 'stale') {
      // Only a peer the cluster still counts as live vouches for the write.
      if (!this.#channel.peers().some((p) => p.id === from)) return;
      this.#writes.answered(message.id, from, message.saved === true);
      return;
    }
    const current =
      message.current ?? versionOf(this.replica.getAny(pending.key) as StoreRecord<S>);
    // Our own later write in the same epoch got there first: the peer holds what follows this one.
    if (
      current.owner === this.#channel.selfId &&
      current.epoch === pending.epoch &&
      this.#channel.peers().some((p) => p.id === from)
    ) {
      // (Whether that later write is saved is not said: a write sent to be saved waits on.)
      this.#writes.answered(message.id, from, false);
      return;
    }
    // A peer holding a newer version of another owner proves this write can never win: the writer
    // is fenced.
    this.#logger.warn(
      { key: pending.key, peer: from, current },
      `write of ${pending.key} fenced by ${from}: it holds epoch ${current.epoch} of ${current.owner}`,
    );
    this.#writes.settle(message.id, fenced(current));
    // Fetch the newer record so the local replica (and its listeners) learn the new owner.
    this.#channel.send(from, { type: 'records', id: this.#id(), records: [], want: [pending.key] });
  }

  /**
   * A peer could not apply a delta (it lacks the version before it: it missed a write, or just
   * joined). While the write waits, its whole record goes under the same id (the peer's ack of it
   * counts); after, the peer gets the key's current record, as anti-entropy would send it.
   */
  #resendWhole(from: string, message: AckMessage, pending: PendingWrite | undefined): void {
    this.#stats.missingIn++;
    const whole = pending === undefined ? undefined : this.#writes.message(message.id);
    if (whole !== undefined) {
      this.#channel.send(from, whole);
      return;
    }
    const current = message.key === undefined ? undefined : this.replica.getAny(message.key);
    if (current !== undefined) this.#sendRecords(from, this.#id(), [current]);
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
      const wanted: StoreRecord[] = [];
      // Each key once, however often it is asked for: a peer naming one game thousands of times
      // in one message must not make this node send its state as many times.
      for (const key of new Set(message.want)) {
        const record = this.replica.getAny(key);
        if (record !== undefined) wanted.push(record);
      }
      if (wanted.length > 0) this.#sendRecords(from, message.id, wanted);
    }
    this.#exchanges.answered(message.id, from, message.part, message.parts);
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────

  /** Whether a record from elsewhere fails its content checks (logged and counted). */
  #refused(received: StoreRecord, from: string, changed?: readonly string[]): boolean {
    const problem =
      received.state === null
        ? undefined
        : changed !== undefined && this.#checkChanged !== undefined
          ? this.#checkChanged(received, changed)
          : this.#checkContent?.(received);
    if (problem === undefined) return false;
    this.#stats.rejectedIn++;
    this.#logger.warn(
      { peer: from, key: received.key, problem },
      `record of ${received.key} from ${from} refused: ${problem}`,
    );
    return true;
  }

  #applyRemote(
    received: StoreRecord,
    from: string,
    changed?: readonly string[],
  ): 'applied' | 'duplicate' | 'stale' | 'refused' {
    if (this.#refused(received, from, changed)) return 'refused';
    // Checked (checkContent is the owner's word for what a state of this store looks like).
    const record = received as StoreRecord<S>;
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

  #emit(applied: StoreRecord<S>, previous: StoreRecord<S> | undefined): void {
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

  #id(): string {
    return `${this.#channel.selfId}:${this.#incarnation}:${(this.#nextId++).toString(36)}`;
  }
}

/**
 * `op` as a delta from `previous`, when that is the write just before it (same owner and epoch,
 * the seq before, the same schema): the top-level members of the state that are not the same
 * value (states are immutable: an unchanged member is the very same object). Null otherwise, or
 * when a member's name cannot travel in a delta.
 */
function deltaOf(op: OpMessage, previous: StoreRecord | undefined): DeltaMessage | null {
  const r = op.record;
  if (
    previous === undefined ||
    previous.state === null ||
    r.state === null ||
    previous.epoch !== r.epoch ||
    previous.owner !== r.owner ||
    previous.seq !== r.seq - 1 ||
    previous.schema !== r.schema
  )
    return null;
  const before = previous.state as Record<string, unknown>;
  const after = r.state as Record<string, unknown>;
  // A member as JSON sees it: own, and left out when undefined.
  const own = (o: Record<string, unknown>, name: string) =>
    Object.hasOwn(o, name) ? o[name] : undefined;
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = own(before, name);
    const now = own(after, name);
    if (now === was) continue;
    if (!isMemberName(name)) return null;
    if (now === undefined) unset.push(name);
    else set[name] = now;
  }
  return {
    type: 'delta',
    id: op.id,
    key: r.key,
    owner: r.owner,
    epoch: r.epoch,
    seq: r.seq,
    base: previous.seq,
    schema: r.schema,
    at: r.at,
    set,
    ...(unset.length > 0 && { unset }),
    ...(op.persist && { persist: true as const }),
  };
}
