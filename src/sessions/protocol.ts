// Messages on the "sessions" mesh channel: commands forwarded to a game's owner, game
// creation on a ready peer, and handoffs of games from a draining node. Validated on arrival.

import { z } from 'zod';
import { commandResultSchema, commandSchema } from './commands.js';
import type { GameState } from '../game/types.js';
import { recordSchema } from '../replication/protocol.js';
import type { GameRecord } from './game-record.js';

export const SESSIONS_CHANNEL = 'sessions';

const id = z.string().min(1).max(64);
const code = z.string().regex(/^[A-Z]{4}$/);

export const sessionsMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('command'), id, code, command: commandSchema }),
  z.object({ type: z.literal('result'), id, result: commandResultSchema }),
  z.object({
    type: z.literal('create'),
    id,
    creator: z.object({ id: z.string().min(1).max(64), name: z.string().min(1).max(32) }),
  }),
  z.object({
    type: z.literal('created'),
    id,
    ok: z.boolean(),
    code: code.optional(),
    message: z.string().max(300).optional(),
  }),
  z.object({ type: z.literal('handoff'), id, record: recordSchema }),
  z.object({
    type: z.literal('handoff-result'),
    id,
    ok: z.boolean(),
    epoch: z.number().int().nonnegative().optional(),
    reason: z.string().max(300).optional(),
  }),
]);

export type SessionsMessage = z.infer<typeof sessionsMessage>;

type WireRecord = z.infer<typeof recordSchema>;

/**
 * A record that arrived from a peer, typed as a game record. Only the envelope is checked
 * here; the receiver checks the state (checkStoredState) before it uses it.
 */
export function receivedRecord(record: WireRecord): GameRecord {
  return { ...record, state: record.state as GameState | null };
}
