// Validation of everything a page sends over its live socket. Nothing else in the live layer
// looks at a raw message.

import { z } from 'zod';
import { DIRECTIONS, EMOTES } from '../game/types.js';

/** Largest message a page sends that gets an answer; an action is about 150 bytes. */
export const MAX_MESSAGE_BYTES = 2048;
/** Largest frame a player's socket accepts at all: a larger one closes the socket with 1009. */
export const MAX_FRAME_BYTES = 4096;

export const actMessage = z
  .object({
    type: z.literal('act'),
    actionId: z
      .string()
      .regex(/^[A-Za-z0-9-]{8,64}$/, 'actionId must be 8–64 letters, digits or dashes'),
    round: z.number().int().min(1).max(1_000_000),
    kind: z.enum(['move', 'attack', 'defend']),
    dir: z.enum(DIRECTIONS).optional(),
  })
  .strict()
  .refine((m) => m.kind === 'defend' || m.dir !== undefined, {
    error: 'move and attack need a direction',
    path: ['dir'],
  });

export const pingMessage = z.object({ type: z.literal('ping') }).strict();

/**
 * Table talk: at most 120 characters once cleaned (game/social.ts); the raw text may carry some
 * spaces more.
 */
export const sayMessage = z
  .object({
    type: z.literal('say'),
    text: z
      .string()
      .min(1, 'write something first')
      .max(240, 'messages are at most 120 characters'),
  })
  .strict();

export const reactMessage = z.object({ type: z.literal('react'), emote: z.enum(EMOTES) }).strict();

export type LiveMessage = z.infer<
  typeof actMessage | typeof pingMessage | typeof sayMessage | typeof reactMessage
>;

const BY_TYPE: { [T in LiveMessage['type']]: z.ZodType<Extract<LiveMessage, { type: T }>> } = {
  act: actMessage,
  ping: pingMessage,
  say: sayMessage,
  react: reactMessage,
};

export type ParseResult =
  { ok: true; message: LiveMessage } | { ok: false; code: string; message: string };

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Buffer.isBuffer(data)) return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (Array.isArray(data)) return (data as Buffer[]).reduce((n, b) => n + b.length, 0);
  return Infinity;
}

export function parseLiveMessage(data: unknown, isBinary = false): ParseResult {
  if (isBinary) return { ok: false, code: 'binary', message: 'Binary messages are not accepted.' };
  const size = byteLength(data);
  if (size > MAX_MESSAGE_BYTES)
    return {
      ok: false,
      code: 'too-large',
      message: `Message too large (${size} bytes, limit ${MAX_MESSAGE_BYTES}).`,
    };
  const text =
    typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: 'malformed', message: 'Message is not valid JSON.' };
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    typeof (json as { type?: unknown }).type !== 'string'
  ) {
    return { ok: false, code: 'malformed', message: 'Message needs a "type".' };
  }
  const type = (json as { type: string }).type;
  // The schema of that type alone: the union's answer to a bad field is "Invalid input" for the
  // whole message, where this one names the field and what it takes.
  const schema = Object.hasOwn(BY_TYPE, type) ? BY_TYPE[type as LiveMessage['type']] : undefined;
  if (!schema)
    return {
      ok: false,
      code: 'unknown-type',
      message: `Unknown message type "${type.slice(0, 32)}".`,
    };
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      code: 'invalid',
      message: `Invalid message: ${issue ? `${issue.path.join('.') || 'message'} ${issue.message}` : 'bad shape'}.`,
    };
  }
  return { ok: true, message: parsed.data };
}
