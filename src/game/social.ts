// What players do around the fighting: talk at the table, react, and call for a rematch.
// Pure like the rest of the rules; rate limits live where the clock is (the live layer).

import { playerById } from './queries.js';
import { inKeptColors, startedIfEveryoneBack } from './rules.js';
import {
  EMOTES,
  type ChatLine,
  type Emote,
  type GameState,
  type PlayerId,
  type RematchOf,
  type RuleErrorCode,
  type RuleResult,
} from './types.js';

/** Longest message, in characters (code points). */
export const CHAT_MAX_CHARS = 120;
/** Lines a game keeps; older ones drop off. */
export const CHAT_KEEP = 30;

/**
 * A message as it is kept: Unicode NFC, no control or formatting characters (which could
 * reorder or hide text), runs of whitespace as one space, trimmed; null when nothing is left.
 * Longer messages are cut at CHAT_MAX_CHARS.
 */
export function cleanMessage(text: string): string | null {
  const clean = text
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  if (!clean) return null;
  // The limit counts code points (the schema allows two UTF-16 units for each), so the cut
  // never splits a surrogate pair.
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points on purpose
  return [...clean].slice(0, CHAT_MAX_CHARS).join('');
}

export function isEmote(value: unknown): value is Emote {
  return typeof value === 'string' && (EMOTES as readonly string[]).includes(value);
}

/** A player of the game says something (in any phase: the waiting room, the fight, after it). */
export function say(state: GameState, playerId: PlayerId, text: string): RuleResult {
  const author = playerById(state, playerId);
  if (!author) return fail('not-in-game', 'Only the players of this game can talk at its table.');
  const clean = cleanMessage(text);
  if (clean === null) return fail('empty-message', 'Write something before sending.');
  const line = { n: nextLine(state), by: playerId, name: author.name };
  return ok(append(state, { ...line, kind: 'say', text: clean }));
}

/** A player of the game sends a quick reaction. */
export function react(state: GameState, playerId: PlayerId, emote: string): RuleResult {
  const author = playerById(state, playerId);
  if (!author) return fail('not-in-game', 'Only the players of this game can react.');
  if (!isEmote(emote)) return fail('bad-emote', `Reactions are ${EMOTES.join(', ')}.`);
  const line = { n: nextLine(state), by: playerId, name: author.name };
  return ok(append(state, { ...line, kind: 'react', emote }));
}

/**
 * Records, on a finished game, the game its group is invited to play next. Only the first
 * call counts: a second player calling for a rematch joins that one instead. A call that names
 * the rematch it `replaces` (one everybody left before it started, which the caller saw gone)
 * takes its place; if another took its place first, that one stands.
 */
export function offerRematch(
  state: GameState,
  playerId: PlayerId,
  code: string,
  replaces?: string,
): RuleResult {
  if (!playerById(state, playerId))
    return fail('not-in-game', 'Only the players of this game can call for a rematch.');
  if (state.status !== 'finished')
    return fail('not-finished', 'A rematch can be called once the game is over.');
  if (state.rematch && state.rematch.code !== replaces) {
    if (state.rematch.code === code) return { ok: true, state, duplicate: true };
    return fail(
      'rematch-exists',
      `${nameOf(state, state.rematch.by)} has already opened a rematch: game ${state.rematch.code}.`,
    );
  }
  return ok({ ...state, rematch: { code, by: playerId } });
}

/**
 * Marks an open game as the rematch of `previous`: it starts by itself once every player of
 * the previous game is back (see joinGame), at once if they all joined before the mark (given
 * `now`). Only its creator can do this, once.
 */
export function markRematch(
  state: GameState,
  playerId: PlayerId,
  previous: { code: string; players: PlayerId[]; colors?: number[] },
  now?: number,
): RuleResult {
  if (state.createdBy !== playerId)
    return fail('not-creator', 'Only the player who opened this game can make it a rematch.');
  if (state.status !== 'open') return fail('not-open', 'This game has already started.');
  if (state.rematchOf) {
    if (state.rematchOf.code === previous.code) return { ok: true, state, duplicate: true };
    return fail(
      'rematch-exists',
      `This game is already the rematch of game ${state.rematchOf.code}.`,
    );
  }
  // Each hero keeps their colour of the game before, when it says them all (one each).
  const players = [...new Set(previous.players)];
  const colors = previous.colors;
  const rematchOf: RematchOf =
    colors && colors.length === previous.players.length && players.length === colors.length
      ? { code: previous.code, players, colors: [...colors] }
      : { code: previous.code, players };
  return startedIfEveryoneBack(inKeptColors({ ...state, rematchOf }), now);
}

function nextLine(state: GameState): number {
  return (state.chat.at(-1)?.n ?? 0) + 1;
}

function append(state: GameState, line: ChatLine): GameState {
  return { ...state, chat: [...state.chat, line].slice(-CHAT_KEEP) };
}

function nameOf(state: GameState, id: PlayerId): string {
  return playerById(state, id)?.name ?? 'Another player';
}

function ok(state: GameState): RuleResult {
  return { ok: true, state, duplicate: false };
}

function fail(code: RuleErrorCode, message: string): RuleResult {
  return { ok: false, code, message };
}

/** One social operation (as carried by a sessions command) applied to a game. */
export type SocialOp =
  | { type: 'say'; text: string }
  | { type: 'react'; emote: Emote }
  | { type: 'offer-rematch'; code: string; replaces?: string }
  | { type: 'mark-rematch'; of: { code: string; players: PlayerId[]; colors?: number[] } };

export function applySocial(
  state: GameState,
  playerId: PlayerId,
  op: SocialOp,
  now?: number,
): RuleResult {
  switch (op.type) {
    case 'say':
      return say(state, playerId, op.text);
    case 'react':
      return react(state, playerId, op.emote);
    case 'offer-rematch':
      return offerRematch(state, playerId, op.code, op.replaces);
    case 'mark-rematch':
      return markRematch(state, playerId, op.of, now);
  }
}
