// What a player can ask of a game, and what comes back. Commands travel from the node the
// player is connected to, to the node that owns the game, so they are plain JSON.

import { z } from 'zod';
import { DIRECTIONS, EMOTES } from '../game/types.js';
import type { PlayerAction, RuleErrorCode } from '../game/types.js';
import type { SocialOp } from '../game/social.js';

export type Command =
  | { kind: 'join'; player: { id: string; name: string } }
  | { kind: 'leave'; playerId: string }
  | { kind: 'start'; playerId: string }
  | { kind: 'act'; playerId: string; action: PlayerAction }
  /** The player's page is open: ends their part of a round held after an outage. */
  | { kind: 'present'; playerId: string }
  /** Table talk and rematch bookkeeping. */
  | { kind: 'social'; playerId: string; op: SocialOp };

/** Why a command was refused: a rule of the game, or where the game is. */
export type RefusalCode =
  | RuleErrorCode
  /** No such game (or it has ended). */
  | 'no-game'
  /** The node asked does not run the game (any more): try where it runs now. */
  | 'not-owner'
  /** The node running the game did not answer. */
  | 'owner-unreachable'
  /** Not safely stored yet, or the game is moving: the page sends it again. */
  | 'unavailable'
  | 'internal';

const REFUSAL_CODES: ReadonlySet<string> = new Set<RefusalCode>([
  'game-full',
  'not-open',
  'not-creator',
  'not-enough-players',
  'not-playing',
  'not-in-game',
  'eliminated',
  'stale-round',
  'future-round',
  'already-submitted',
  'bad-direction',
  'not-finished',
  'rematch-exists',
  'empty-message',
  'bad-emote',
  'no-game',
  'not-owner',
  'owner-unreachable',
  'unavailable',
  'internal',
]);

export type CommandResult =
  | { ok: true; duplicate: boolean }
  | { ok: false; code: RefusalCode; message: string; retry?: boolean };

/** Refusals that mean "the game is moving between nodes": execute() tries again. */
export function isMoving(result: CommandResult): boolean {
  return !result.ok && (result.code === 'not-owner' || result.code === 'owner-unreachable');
}

const playerId = z.string().min(1).max(64);
const gameCode = z.string().regex(/^[A-Z]{4}$/);
const action = z.object({
  id: z.string().min(1).max(64),
  round: z.number().int().min(0).max(1_000_000),
  kind: z.enum(['move', 'attack', 'defend']),
  dir: z.enum(DIRECTIONS).optional(),
});

export const commandSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('join'),
    player: z.object({ id: playerId, name: z.string().min(1).max(32) }),
  }),
  z.object({ kind: z.literal('leave'), playerId }),
  z.object({ kind: z.literal('start'), playerId }),
  z.object({ kind: z.literal('act'), playerId, action }),
  z.object({ kind: z.literal('present'), playerId }),
  z.object({
    kind: z.literal('social'),
    playerId,
    op: z.discriminatedUnion('type', [
      z.object({ type: z.literal('say'), text: z.string().min(1).max(500) }),
      z.object({ type: z.literal('react'), emote: z.enum(EMOTES) }),
      z.object({
        type: z.literal('offer-rematch'),
        code: gameCode,
        replaces: gameCode.optional(),
      }),
      z.object({
        type: z.literal('mark-rematch'),
        of: z.object({
          code: gameCode,
          players: z.array(playerId).max(8),
          colors: z.array(z.number().int().min(0).max(7)).max(8).optional(),
        }),
      }),
    ]),
  }),
]);

/** A code from another release this one does not know reads as 'internal'. */
const refusalCode = z
  .string()
  .max(64)
  .transform((c): RefusalCode => (REFUSAL_CODES.has(c) ? (c as RefusalCode) : 'internal'));

export const commandResultSchema = z.union([
  z.object({ ok: z.literal(true), duplicate: z.boolean() }),
  z.object({
    ok: z.literal(false),
    code: refusalCode,
    message: z.string().max(500),
    retry: z.boolean().optional(),
  }),
]);

export function refusal(code: RefusalCode, message: string, retry = false): CommandResult {
  return retry ? { ok: false, code, message, retry } : { ok: false, code, message };
}
