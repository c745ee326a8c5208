// The messages of the "replication" mesh channel and their validation. Anything a peer sends
// is checked here before the replica sees it; an invalid message is dropped with a log line,
// never thrown.

import { jsonText } from '../json-text.js';
import { z } from 'zod';
import type { StoreRecord } from './record.js';
import type { DigestEntry } from './replica.js';

export const REPLICATION_CHANNEL = 'replication';

/**
 * The capability (in the mesh hello) of a node that takes a write as a delta: the members of the
 * state that changed since the version before it. A node without it is sent whole records.
 */
export const DELTA_CAPABILITY = 'replication-delta';

/** Default limit of one serialised message (256 KiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** pino-compatible subset: `logger.warn({ obj }, 'message')`. */
export interface ReplicationLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const KEY_FORM = /^[A-Z]{4}$/;
const key = z.string().regex(KEY_FORM, 'a game code is four capital letters');
/** Longest owner (node id) and op id a message may carry, in UTF-16 units. */
const OWNER_MAX = 64;
const ID_MAX = 128;
const owner = z.string().min(1).max(OWNER_MAX);
/**
 * Epochs and sequence numbers stay far below Number.MAX_SAFE_INTEGER: an epoch grows by one per
 * adoption from the creation second (about 2^31), so 2^48 is never reached honestly, and a
 * record near the limit (which no node could adopt) is refused at the door.
 */
export const MAX_COUNTER = 2 ** 48;
const counter = z.int().nonnegative().max(MAX_COUNTER);
const id = z.string().min(1).max(ID_MAX);

const isState = (v: unknown): v is object | null =>
  v === null || (typeof v === 'object' && !Array.isArray(v));
const state = z.custom<object | null>(isState, 'state must be an object or null');

const isCounter = (v: unknown): boolean =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_COUNTER;

export const versionSchema = z.object({ epoch: counter, owner, seq: counter });

export const recordSchema = z.object({
  key,
  owner,
  epoch: counter,
  seq: counter,
  schema: z.int().positive(),
  state,
  at: z.number(),
});

const digestEntry = z.tuple([key, counter, owner, counter]);

const range = { from: key.optional(), to: key.optional() };

/**
 * Set on a write whose owner could not save it (its database does not answer): a peer saves it
 * before it acknowledges it and says in the ack whether it did (`saved`).
 */
const persist = z.literal(true).optional();

export const opMessage = z.object({ type: z.literal('op'), id, record: recordSchema, persist });

const MEMBER_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
/** A member name of a state: a word, never one that would reach an object's prototype. */
const member = z.string().regex(MEMBER_NAME, 'a member name is a word');

/** Whether a delta can name this member of a state (else the record goes whole). */
export function isMemberName(name: string): boolean {
  return MEMBER_NAME.test(name);
}

/**
 * A write as the change from the version before it: the record of `seq`, whose state is the
 * state of (epoch, owner, `base`) with `set` assigned and `unset` removed. A peer that does not
 * hold exactly that version answers "missing" and is sent the whole record.
 */
export const deltaMessage = z.object({
  type: z.literal('delta'),
  id,
  key,
  owner,
  epoch: counter,
  seq: counter,
  base: counter,
  schema: z.int().positive(),
  at: z.number(),
  // Checked on the keys as received: a record schema leaves out "__proto__" without a word.
  set: z
    .custom<object>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        !Array.isArray(v) &&
        Object.keys(v).every((k) => MEMBER_NAME.test(k)),
      'set must be an object whose member names are words',
    )
    .pipe(z.record(member, z.unknown())),
  unset: z.array(member).max(64).optional(),
  persist,
});

export const ackMessage = z.object({
  type: z.literal('ack'),
  id,
  /** 'missing': a delta's base version is not held here (only ever sent for a delta). */
  result: z.enum(['applied', 'duplicate', 'stale', 'missing']),
  /** With 'missing': the delta's key. */
  key: key.optional(),
  /** With 'stale': the version of the newer record the peer holds. */
  current: versionSchema.optional(),
  /** The answer to a write sent with `persist`: whether the peer's database now holds it. */
  saved: z.boolean().optional(),
});

export const digestMessage = z.object({
  type: z.literal('digest'),
  id,
  entries: z.array(digestEntry),
  /** The key range this digest covers (a large store is sent as several ranges). */
  ...range,
});

export const recordsMessage = z.object({
  type: z.literal('records'),
  id,
  records: z.array(recordSchema),
  /** Keys the sender wants from the receiver (newer there). */
  want: z.array(key).optional(),
  /** A large answer is split: this is part `part` (from 0) of `parts` messages with this id. */
  part: z.int().nonnegative().optional(),
  parts: z.int().positive().optional(),
});

export const replicationMessage = z.discriminatedUnion('type', [
  opMessage,
  deltaMessage,
  ackMessage,
  digestMessage,
  recordsMessage,
]);

export type OpMessage = Omit<z.infer<typeof opMessage>, 'record'> & { record: StoreRecord };
export type DeltaMessage = z.infer<typeof deltaMessage>;
export type AckMessage = z.infer<typeof ackMessage>;
export type DigestMessage = Omit<z.infer<typeof digestMessage>, 'entries'> & {
  entries: DigestEntry[];
};
export type RecordsMessage = Omit<z.infer<typeof recordsMessage>, 'records'> & {
  records: StoreRecord[];
};
export type ReplicationMessage =
  OpMessage | DeltaMessage | AckMessage | DigestMessage | RecordsMessage;

export type RejectCode = 'too-large' | 'not-json' | 'invalid';

export type ParseResult =
  | { ok: true; message: ReplicationMessage; bytes: number }
  | { ok: false; code: RejectCode; reason: string; bytes: number };

/** Size of a value once serialised as JSON, in bytes; -1 when it cannot be serialised. */
export function serialisedBytes(value: unknown): number {
  try {
    // undefined for undefined and functions, whatever lib.d.ts says
    const text = JSON.stringify(value) as string | undefined;
    return text === undefined ? -1 : Buffer.byteLength(text, 'utf8');
  } catch {
    return -1;
  }
}

/**
 * The size of an op message as JSON, like serialisedBytes(op), with the record's state measured
 * from its kept text (the database write of the same state uses that text too).
 */
export function opBytes(op: OpMessage): number {
  const state = op.record.state;
  if (state === null) return serialisedBytes(op);
  const rest = serialisedBytes({ ...op, record: { ...op.record, state: 0 } });
  if (rest < 0) return rest;
  let text: string;
  try {
    text = jsonText(state);
  } catch {
    return -1;
  }
  // `"state":0` becomes `"state":<text>`.
  return rest - 1 + Buffer.byteLength(text, 'utf8');
}

/** The members of a record that recordSchema knows (an op's envelope bound counts on them). */
const RECORD_MEMBERS = Object.keys(recordSchema.shape).length;

/**
 * Most bytes an op's envelope (the message without its record's state) takes as JSON, for a
 * record checkRecord accepted and that has no member beyond the schema's: every character of
 * its id and owner as a six-byte escape, counters and schema at 16 digits, `at` at 24
 * characters, and the member names and punctuation (see the protocol test that builds one).
 */
export const OP_ENVELOPE_MAX_BYTES =
  '{"type":"op","id":"","record":{"key":"","owner":"","epoch":,"seq":,"schema":,"state":,"at":}}'
    .length +
  6 * (ID_MAX + OWNER_MAX + 4) +
  3 * 16 +
  24;

/**
 * An op's size as JSON when it may be over `maxBytes`, else null: the state's kept text and a
 * bound for the rest settle most writes without serialising the envelope (which took ~3 % of
 * a busy node's time, a write per action). The caller checks the record first (checkRecord).
 */
export function opBytesIfOver(op: OpMessage, maxBytes: number): number | null {
  const { state } = op.record;
  if (state === null) return opBytes(op);
  let members = 0;
  for (const name in op.record) if (Object.hasOwn(op.record, name)) members++;
  if (members !== RECORD_MEMBERS) return opBytes(op);
  let text: string;
  try {
    text = jsonText(state);
  } catch {
    return -1;
  }
  // A UTF-16 unit takes at most 3 bytes in UTF-8 (a pair, 4 for two units).
  if (OP_ENVELOPE_MAX_BYTES + 3 * text.length <= maxBytes) return null;
  if (OP_ENVELOPE_MAX_BYTES + Buffer.byteLength(text, 'utf8') <= maxBytes) return null;
  return opBytes(op);
}

/**
 * Validates a message body received from a peer. Never throws. `frameBytes`, the size of the frame
 * that carried it, bounds the body's size: within the limit, the body is not serialised again to
 * be measured (`bytes` is then that bound).
 */
export function parseMessage(
  body: unknown,
  maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  frameBytes?: number,
): ParseResult {
  const bytes =
    frameBytes !== undefined && frameBytes <= maxBytes ? frameBytes : serialisedBytes(body);
  if (bytes < 0) return { ok: false, code: 'not-json', reason: 'body is not JSON', bytes };
  if (bytes > maxBytes) {
    return { ok: false, code: 'too-large', reason: `${bytes} bytes > limit ${maxBytes}`, bytes };
  }
  const parsed = replicationMessage.safeParse(body);
  if (!parsed.success) {
    return { ok: false, code: 'invalid', reason: z.prettifyError(parsed.error), bytes };
  }
  return { ok: true, message: parsed.data, bytes };
}

/**
 * Validates a message and logs a rejection. Returns the message, or undefined when it was
 * dropped. `from` names the sending peer in the log line.
 */
export function acceptMessage(
  body: unknown,
  from: string,
  logger: ReplicationLogger,
  maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  frameBytes?: number,
): ReplicationMessage | undefined {
  const result = parseMessage(body, maxBytes, frameBytes);
  if (result.ok) return result.message;
  logger.warn(
    { peer: from, code: result.code, bytes: result.bytes, reason: result.reason },
    `replication message from ${from} dropped: ${result.code}`,
  );
  return undefined;
}

/**
 * Whether recordSchema surely accepts a record, read member by member. A node checks every
 * record it writes (one a player's action), and zod's parse of it took 3.5 % of a busy node's
 * time at 1,000 players in a CPU profile, about 25 µs a write (`BENCH_PROFILE_DIR`, players
 * benchmark); this takes 0.1 %. It is stricter than the schema where that is simpler (an owner
 * counted in UTF-16 units, not code points): what it does not accept, the schema decides, and
 * says why. A property test checks that it never accepts what the schema refuses.
 */
function surelyValid(r: StoreRecord): boolean {
  return (
    typeof r.key === 'string' &&
    KEY_FORM.test(r.key) &&
    typeof r.owner === 'string' &&
    r.owner.length >= 1 &&
    r.owner.length <= OWNER_MAX &&
    isCounter(r.epoch) &&
    isCounter(r.seq) &&
    Number.isSafeInteger(r.schema) &&
    r.schema > 0 &&
    isState(r.state) &&
    Number.isFinite(r.at)
  );
}

/** Checks a record this node is about to write; returns why it is invalid, or undefined. */
export function checkRecord(record: StoreRecord): string | undefined {
  if (surelyValid(record)) return undefined;
  const parsed = recordSchema.safeParse(record);
  return parsed.success ? undefined : z.prettifyError(parsed.error);
}
