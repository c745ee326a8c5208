// The mesh wire protocol: where it is served, every envelope two nodes exchange, its zod
// schema, the frame size limit and the close codes. Decoding never throws; it says what was
// wrong and how to close.

import { z } from 'zod';
import { stringifyReusing } from '../json-text.js';

export const MESH_PROTOCOL = 1;
/** Protocol versions this node can talk to (a range, so a rolling update can overlap two). */
export const MESH_PROTOCOL_MIN = 1;

/** The HTTP path of the mesh's WebSocket endpoint (never routed to players by the proxy). */
export const MESH_PATH = '/_cluster/mesh';

/** Largest frame accepted or sent (also the ws maxPayload). */
export const MAX_FRAME_BYTES = 1024 * 1024;

export const MAX_CHANNEL_NAME = 32;

/** WebSocket close codes the mesh uses; 4000–4999 is the application range. */
export const CloseCode = {
  /** Graceful leave: the node is stopping (sent after a bye). */
  goingAway: 1001,
  /** A frame over MAX_FRAME_BYTES (ws closes with this on its own when maxPayload trips). */
  tooBig: 1009,
  badSecret: 4001,
  incompatibleProtocol: 4002,
  badMessage: 4003,
  /** Two links to the same peer: the one not chosen by the tie-break is closed. */
  duplicateLink: 4004,
  handshakeTimeout: 4005,
  /** A node dialled itself (its own address came back from DNS under another name). */
  selfConnection: 4006,
  /** The peer was silent past downAfterMs and is declared down. */
  peerDown: 4007,
  /** Another node has this node's id (NODE_ID set alike on several): they cannot link. */
  sameNodeId: 4008,
  /**
   * The peer read so slowly that what waited for it passed the link's bound (MAX_BUFFERED_BYTES):
   * the link is dropped, and the peers catch up by digest once a new one is up.
   */
  slowReader: 4009,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export const nodeStateSchema = z.enum(['starting', 'joining', 'ready', 'draining', 'stopped']);
const nodeId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'node id must be 1–64 of [A-Za-z0-9._:-]');
const address = z
  .string()
  .max(255)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'address must be host:port');
const capability = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a capability is 1–32 of [a-z0-9-]');
const nonce = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'nonce must be 32 bytes base64url');

export const helloSchema = z.object({
  type: z.literal('hello'),
  nodeId,
  address,
  version: z.string().min(1).max(64),
  protocol: z.number().int().positive(),
  schemas: z.array(z.number().int().nonnegative()).max(64),
  /**
   * What the node's channels can do beyond the protocol version (e.g. "replication-delta").
   * Absent from an older release's hello: it can do none of them. Unknown names are ignored.
   */
  caps: z.array(capability).max(16).optional(),
  state: nodeStateSchema,
  nonce,
});
export const authSchema = z.object({
  type: z.literal('auth'),
  proof: z.string().regex(/^[0-9a-f]{64}$/, 'proof must be 64 hex characters'),
});
/**
 * Sent by the acceptor once it verified the initiator's proof; the link is then up on both ends.
 */
export const acceptSchema = z.object({ type: z.literal('accept') });
export const heartbeatSchema = z.object({
  type: z.literal('hb'),
  state: nodeStateSchema,
  /** Sender's clock when sent. */
  t: z.number(),
  /** The latest `t` the sender received from the receiver: a round-trip proof of freshness. */
  ack: z.number().optional(),
});
export const stateSchema = z.object({ type: z.literal('state'), state: nodeStateSchema });
export const appSchema = z.object({
  type: z.literal('app'),
  ch: z.string().min(1).max(MAX_CHANNEL_NAME),
  body: z.unknown(),
});
export const byeSchema = z.object({
  type: z.literal('bye'),
  reason: z.string().max(200).optional(),
});

export const meshMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  authSchema,
  acceptSchema,
  heartbeatSchema,
  stateSchema,
  appSchema,
  byeSchema,
]);

export type Hello = z.infer<typeof helloSchema>;
export type MeshMessage = z.infer<typeof meshMessageSchema>;
const MESSAGE_TYPES = new Set<string>(['hello', 'auth', 'accept', 'hb', 'state', 'app', 'bye']);

export type Decoded =
  | { ok: true; message: MeshMessage; bytes: number }
  | { ok: false; reason: string; code: CloseCodeValue; bytes: number };

export function isCompatibleProtocol(protocol: number): boolean {
  return protocol >= MESH_PROTOCOL_MIN && protocol <= MESH_PROTOCOL;
}

function frameText(
  data: unknown,
): { text: string; bytes: number } | { error: string; bytes: number } {
  if (typeof data === 'string') return { text: data, bytes: Buffer.byteLength(data) };
  let buf: Buffer;
  if (Buffer.isBuffer(data)) buf = data;
  else if (data instanceof ArrayBuffer) buf = Buffer.from(data);
  else if (Array.isArray(data) && data.every((d) => Buffer.isBuffer(d))) buf = Buffer.concat(data);
  else return { error: 'frame is not text or bytes', bytes: 0 };
  if (buf.length > MAX_FRAME_BYTES) return { text: '', bytes: buf.length };
  return { text: buf.toString('utf8'), bytes: buf.length };
}

/** Parses and validates one frame (string from ws@7, Buffer/ArrayBuffer/Buffer[] from ws@8). */
export function decodeFrame(data: unknown): Decoded {
  const frame = frameText(data);
  const bytes = frame.bytes;
  if ('error' in frame)
    return { ok: false, reason: frame.error, code: CloseCode.badMessage, bytes };
  if (bytes > MAX_FRAME_BYTES) {
    return {
      ok: false,
      reason: `frame of ${bytes} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
      code: CloseCode.tooBig,
      bytes,
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(frame.text);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON', code: CloseCode.badMessage, bytes };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'frame is not a JSON object', code: CloseCode.badMessage, bytes };
  }
  const { type, protocol } = raw as { type?: unknown; protocol?: unknown };
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) {
    const shown = typeof type === 'string' ? `"${type.slice(0, 32)}"` : String(type);
    return {
      ok: false,
      reason: `unknown message type ${shown}`,
      code: CloseCode.badMessage,
      bytes,
    };
  }
  // Checked before the schema: a future protocol may change the rest of the hello.
  if (type === 'hello' && typeof protocol === 'number' && !isCompatibleProtocol(protocol)) {
    return {
      ok: false,
      reason: `incompatible protocol ${protocol} (this node speaks ${MESH_PROTOCOL_MIN}–${MESH_PROTOCOL})`,
      code: CloseCode.incompatibleProtocol,
      bytes,
    };
  }
  const parsed = meshMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return {
      ok: false,
      reason: `invalid ${type} message: ${where}${issue?.message ?? 'invalid'}`,
      code: CloseCode.badMessage,
      bytes,
    };
  }
  return { ok: true, message: parsed.data, bytes };
}

/**
 * Serialises an envelope (JSON.stringify's text; a game state already serialised for its save is
 * not serialised again); undefined when the body cannot be JSON-encoded.
 */
export function encodeFrame(message: MeshMessage): string | undefined {
  try {
    return stringifyReusing(message);
  } catch {
    return undefined;
  }
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
export function closeReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}
