// Holding a round for players who are away because of an outage: when a game resumes after
// the whole cluster restarted, or after the node running it died, its clock must not run on
// players whose pages are still reconnecting. Pure: the session passes `now`.

import { livingPlayers, playerById } from './queries.js';
import type { GameState, PlayerId, RuleResult } from './types.js';

/** Pauses the current round until every living player is back or `holdMs` passes. */
export function holdRound(state: GameState, now: number, holdMs: number): GameState {
  if (state.status !== 'playing') return state;
  const waiting = livingPlayers(state).map((p) => p.id);
  if (waiting.length === 0) return state;
  return { ...state, deadline: null, hold: { until: now + holdMs, waiting } };
}

/** Ends the hold: a full round starts now. */
export function releaseHold(state: GameState, now: number): GameState {
  if (!state.hold) return state;
  return { ...state, hold: null, deadline: now + state.roundMs };
}

/** A player's page is open again; the round starts once nobody is missing. */
export function markPresent(state: GameState, playerId: PlayerId, now: number): RuleResult {
  const hold = state.hold;
  if (!hold || !hold.waiting.includes(playerId)) return { ok: true, state, duplicate: true };
  if (!playerById(state, playerId))
    return { ok: false, code: 'not-in-game', message: 'You are not playing in this game.' };
  const waiting = hold.waiting.filter((id) => id !== playerId);
  const next: GameState = { ...state, hold: { ...hold, waiting } };
  return {
    ok: true,
    state: waiting.length === 0 ? releaseHold(next, now) : next,
    duplicate: false,
  };
}

/** The hold has run out (or everyone is back): the round clock should start. */
export function isHoldOver(state: GameState, now: number): boolean {
  return state.hold !== null && (now >= state.hold.until || state.hold.waiting.length === 0);
}

/** Whether this player's open page should tell the game it is back. */
export function awaitsPlayer(state: GameState, playerId: PlayerId): boolean {
  return state.hold !== null && state.hold.waiting.includes(playerId);
}
