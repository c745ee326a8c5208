// Anti-entropy's bookkeeping, apart from the process that sends and receives: splitting a
// digest into messages that fit the size limit, batching records under it, and the exchanges
// still waiting for a peer's answer (each resolves true once every part was answered, false on
// timeout, on the peer going down, or when replication stops).

import type { Clock, TimerHandle } from '../clock.js';
import {
  serialisedBytes,
  type DigestMessage,
  type RecordsMessage,
  type ReplicationLogger,
} from './protocol.js';
import type { StoreRecord } from './record.js';
import type { DigestEntry } from './replica.js';

/** Room kept for the envelope around records or digest entries. */
export const ENVELOPE_BYTES = 1024;
/** Upper bound of one serialised digest entry: 4-letter key, 64-char owner, two safe ints. */
const DIGEST_ENTRY_BYTES = 128;

/** Our digest in key ranges that each fit one message (at least one message, maybe empty). */
export function digestMessages(
  entries: DigestEntry[],
  maxMessageBytes: number,
  nextId: () => string,
): DigestMessage[] {
  const perMessage = Math.max(
    1,
    Math.floor((maxMessageBytes - ENVELOPE_BYTES) / DIGEST_ENTRY_BYTES),
  );
  const messages: DigestMessage[] = [];
  for (let i = 0; i === 0 || i < entries.length; i += perMessage) {
    const slice = entries.slice(i, i + perMessage);
    const next = entries[i + perMessage];
    const message: DigestMessage = { type: 'digest', id: nextId(), entries: slice };
    const first = slice[0];
    if (i > 0 && first !== undefined) message.from = first[0];
    if (next !== undefined) message.to = next[0];
    messages.push(message);
  }
  return messages;
}

/**
 * Records as messages under the size limit, all answering `id`; `want` rides on the last.
 * A record too large for any message is left out and returned in `skipped`.
 */
export function recordsMessages(
  id: string,
  records: StoreRecord[],
  maxMessageBytes: number,
  want?: string[],
): { messages: RecordsMessage[]; skipped: { key: string; bytes: number }[] } {
  const base = serialisedBytes({ type: 'records', id, records: [], want, part: 1e6, parts: 1e6 });
  const budget = maxMessageBytes - base - 16;
  const batches: StoreRecord[][] = [];
  const skipped: { key: string; bytes: number }[] = [];
  let batch: StoreRecord[] = [];
  let used = 0;
  for (const record of records) {
    const size = serialisedBytes(record) + 1;
    if (size > budget) {
      skipped.push({ key: record.key, bytes: size });
      continue;
    }
    if (used + size > budget) {
      batches.push(batch);
      batch = [];
      used = 0;
    }
    batch.push(record);
    used += size;
  }
  batches.push(batch);
  const messages = batches.map((records, i): RecordsMessage => {
    const message: RecordsMessage = { type: 'records', id, records };
    if (i === batches.length - 1 && want !== undefined && want.length > 0) message.want = want;
    if (batches.length > 1) {
      message.part = i;
      message.parts = batches.length;
    }
    return message;
  });
  return { messages, skipped };
}

interface Exchange {
  peer: string;
  /** Digest parts not yet fully answered, by message id (kept to be sent again). */
  parts: Map<string, DigestMessage>;
  /** For each digest part, the indices of the records messages received so far. */
  received: Map<string, Set<number>>;
  timer: TimerHandle;
  resolve: (answered: boolean) => void;
}

/** The exchanges in progress, by the id of each of their digest parts. */
export class Exchanges {
  readonly #byPart = new Map<string, Exchange>();
  readonly #clock: Clock;
  readonly #logger: ReplicationLogger;

  constructor(clock: Clock, logger: ReplicationLogger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Peers with an exchange in progress. */
  busy(): Set<string> {
    return new Set([...this.#byPart.values()].map((e) => e.peer));
  }

  /**
   * Opens an exchange with `peer` whose digest went out as `parts`. `send` sends each part and
   * says whether it went; one that does not ends the exchange unanswered.
   */
  open(
    peer: string,
    parts: DigestMessage[],
    timeoutMs: number,
    send: (part: DigestMessage) => boolean,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const exchange: Exchange = {
        peer,
        parts: new Map(parts.map((m) => [m.id, m])),
        received: new Map(),
        timer: this.#clock.setTimeout(() => {
          this.#logger.debug({ peer }, `anti-entropy with ${peer} timed out`);
          this.#end(exchange, false);
        }, timeoutMs),
        resolve,
      };
      for (const id of exchange.parts.keys()) this.#byPart.set(id, exchange);
      for (const part of parts) if (!send(part)) return this.#end(exchange, false);
    });
  }

  /** A records message from `from` answering part `id` (one of `parts` pieces, numbered `part`). */
  answered(id: string, from: string, part = 0, parts = 1): void {
    const exchange = this.#byPart.get(id);
    if (exchange === undefined || exchange.peer !== from) return;
    // Count distinct pieces: messages may arrive reordered or twice.
    const got = exchange.received.get(id) ?? new Set<number>();
    exchange.received.set(id, got);
    got.add(part);
    if (got.size < parts) return;
    this.#byPart.delete(id);
    exchange.parts.delete(id);
    if (exchange.parts.size === 0) this.#end(exchange, true);
  }

  /**
   * The link to `peer` changed (see MeshChannel.onPeerRelink): what went on the old one may be
   * lost. Sends the parts of its exchanges not yet answered again; an answer that comes twice
   * is counted once.
   */
  resend(peer: string, send: (part: DigestMessage) => boolean): number {
    let sent = 0;
    for (const exchange of new Set(this.#byPart.values())) {
      if (exchange.peer !== peer) continue;
      for (const part of exchange.parts.values()) if (send(part)) sent++;
    }
    return sent;
  }

  peerDown(peer: string): void {
    for (const exchange of new Set(this.#byPart.values()))
      if (exchange.peer === peer) this.#end(exchange, false);
  }

  endAll(): void {
    for (const exchange of new Set(this.#byPart.values())) this.#end(exchange, false);
  }

  #end(exchange: Exchange, answered: boolean): void {
    for (const id of exchange.parts.keys()) this.#byPart.delete(id);
    exchange.parts.clear();
    this.#clock.clearTimeout(exchange.timer);
    exchange.resolve(answered);
  }
}
