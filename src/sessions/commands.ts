// What a player can ask of a game, and what comes back. Commands travel from the node the
// player is connected to, to the node that owns the game, so they are plain JSON.

import { z } from 'zod';
import { DIRECTIONS, EMOTES } from '../game/types.js';
import type { PlayerAction } from '../game/types.js';
import type { SocialOp } from '../game/social.js';

export type Command =
  | { kind: 'join'; player: { id: string; name: string } }
  | { kind: 'leave'; playerId: string }
  | { kind: 'start'; playerId: string }
  | { kind: 'act'; playerId: string; action: PlayerAction }
  | { kind: 'social'; playerId: string; op: SocialOp };


export type CommandResult =
  | { ok: true; duplicate: boolean }
  | { ok: false; code: string; message: string; retry?: boolean };

const playerId = z.string().min(1).max(64);
const gameCode = z.string().regex(/^[A-Z]{4}$/);
const action = z.object({
  id: z.string().min(1).max(64),
  round: z.number().int().min(0).max(1_000_000),
  kind: z.enum(['move', 'attack', 'defend']),
  dir: z.enum(DIRECTIONS as [string, ...string[]]).optional(),
});

export const commandSchema: z.ZodType<Command> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('join'), player: z.object({ id: playerId, name: z.string().min(1).max(32) }) }),
  z.object({ kind: z.literal('leave'), playerId }),
  z.object({ kind: z.literal('start'), playerId }),
  z.object({ kind: z.literal('act'), playerId, action }),
  z.object({
    kind: z.literal('social'),
    playerId,
    op: z.discriminatedUnion('type', [
      z.object({ type: z.literal('say'), text: z.string().min(1).max(500) }),
      z.object({ type: z.literal('react'), emote: z.enum(EMOTES) }),
      z.object({ type: z.literal('offer-rematch'), code: gameCode }),
      z.object({ type: z.literal('mark-rematch'), of: z.object({ code: gameCode, players: z.array(playerId).max(8) }) }),
    ]),
  }),
]) as z.ZodType<Command>;

export const commandResultSchema: z.ZodType<CommandResult> = z.union([
  z.object({ ok: z.literal(true), duplicate: z.boolean() }),
  z.object({ ok: z.literal(false), code: z.string().max(64), message: z.string().max(500), retry: z.boolean().optional() }),
]) as z.ZodType<CommandResult>;

export function refusal(code: string, message: string, retry = false): CommandResult {
  return retry ? { ok: false, code, message, retry } : { ok: false, code, message };
}
