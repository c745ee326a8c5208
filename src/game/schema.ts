// The shape of a current-schema game state as a validator, for states that arrive from
// outside this process (peers, snapshots): a malformed state is refused, never rendered.

import { z } from 'zod';
import { CHAT_KEEP, CHAT_MAX_CHARS } from './social.js';
import { DIRECTIONS, EMOTES, GAME_SCHEMA, MAX_PLAYERS } from './types.js';

const int = z.number().int();
const hex = z.object({ q: int.min(-64).max(64), r: int.min(-64).max(64) });
const id = z.string().min(1).max(64);
const dir = z.enum(DIRECTIONS);
const action = z.object({
  id,
  round: int.min(0),
  kind: z.enum(['move', 'attack', 'defend']),
  dir: dir.optional(),
});

const playerName = z.string().min(1).max(64);
const player = z.object({
  id,
  name: playerName,
  color: int.min(0).max(MAX_PLAYERS - 1),
  hp: int.min(0).max(100),
  pos: hex,
  alive: z.boolean(),
  eliminatedRound: int.min(0).nullable(),
  dealt: int.min(0),
});

const code = z.string().regex(/^[A-Z]{4}$/);
const chatLine = z.discriminatedUnion('kind', [
  z.object({
    n: int.min(1),
    by: id,
    name: playerName.optional(),
    kind: z.literal('say'),
    text: z
      .string()
      .min(1)
      .max(CHAT_MAX_CHARS * 2),
  }),
  z.object({
    n: int.min(1),
    by: id,
    name: playerName.optional(),
    kind: z.literal('react'),
    emote: z.enum(EMOTES),
  }),
]);

export const gameStateSchema = z.object({
  schema: z.literal(GAME_SCHEMA),
  id,
  code,
  seed: int,
  createdBy: id,
  createdAt: z.number(),
  status: z.enum(['open', 'playing', 'finished']),
  radius: int.min(1).max(20),
  walls: z.array(hex).max(2000),
  players: z.array(player).max(MAX_PLAYERS),
  minotaur: z.object({ pos: hex }),
  round: int.min(0),
  roundMs: z.number().positive(),
  deadline: z.number().nullable(),
  hold: z.object({ until: z.number(), waiting: z.array(id).max(MAX_PLAYERS) }).nullable(),
  submitted: z.record(z.string(), action),
  previous: z.record(z.string(), z.string().max(64)),
  events: z.array(z.looseObject({ kind: z.string() })).max(200),
  maxRounds: int.min(1),
  winner: id.nullable(),
  finishedAt: z.number().nullable(),
  chat: z.array(chatLine).max(CHAT_KEEP),
  rematch: z.object({ code, by: id }).nullable(),
  rematchOf: z
    .object({
      code,
      players: z.array(id).max(MAX_PLAYERS),
      colors: z
        .array(int.min(0).max(MAX_PLAYERS - 1))
        .max(MAX_PLAYERS)
        .optional(),
    })
    .nullable(),
});

/**
 * Why the members `names` of a current-schema state are unacceptable, or undefined: what
 * checkGameState says of a state whose other members were checked before. Names the state does
 * not have in its shape are left alone, as checkGameState leaves them.
 */
export function checkGameStateMembers(
  state: unknown,
  names: readonly string[],
): string | undefined {
  if (typeof state !== 'object' || state === null)
    return 'invalid game state: state: not an object';
  const shape = gameStateSchema.shape as Record<string, z.ZodType>;
  for (const name of names) {
    if (!Object.hasOwn(shape, name)) continue;
    const r = (shape[name] as z.ZodType).safeParse((state as Record<string, unknown>)[name]);
    if (r.success) continue;
    const issue = r.error.issues[0];
    return `invalid game state: ${[name, ...(issue?.path ?? [])].join('.')}: ${issue?.message ?? 'bad shape'}`;
  }
  return undefined;
}

/** Why a (current-schema) state is unacceptable, or undefined when it is fine. */
export function checkGameState(state: unknown): string | undefined {
  const r = gameStateSchema.safeParse(state);
  if (r.success) return undefined;
  const issue = r.error.issues[0];
  return `invalid game state: ${issue ? `${issue.path.join('.') || 'state'}: ${issue.message}` : 'bad shape'}`;
}
