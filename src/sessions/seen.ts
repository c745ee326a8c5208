// What a game page has shown, as a short token the page sends back when its live socket
// reconnects (`?seen=`): the epoch of the run it saw (a takeover or a handoff starts a new one)
// and the round, with ".end" once the game was over. A node whose copy of the game is behind the
// token (a replica that missed the owner's last writes while they were cut apart, and that cannot
// read the database to tell) does not show it: the page keeps what it has and reconnects, so
// rounds a player saw never come back.

import type { GameState } from '../game/types.js';

export interface Seen {
  epoch: number;
  round: number;
  over: boolean;
}

/** The token of a state as a page shows it: epoch of the record it comes from, round, end. */
export function seenToken(epoch: number, state: Pick<GameState, 'round' | 'status'>): string {
  return `${epoch}.${state.round}${state.status === 'finished' ? '.end' : ''}`;
}

const TOKEN = /^(\d{1,15})\.(\d{1,6})(\.end)?$/;

/** A token from outside (a page's query string); null when it is not one. */
export function parseSeen(text: unknown): Seen | null {
  if (typeof text !== 'string') return null;
  const m = TOKEN.exec(text);
  if (!m) return null;
  return { epoch: Number(m[1]), round: Number(m[2]), over: m[3] !== undefined };
}

/**
 * True when a copy (its record's epoch, its state) is older than what the page saw: an earlier
 * run, an earlier round of the same run, or still playing the round the page saw end the game.
 * A later epoch is never behind: every adoption continues from the newest write it can find.
 */
export function isBehind(
  epoch: number,
  state: Pick<GameState, 'round' | 'status'>,
  seen: Seen,
): boolean {
  if (epoch !== seen.epoch) return epoch < seen.epoch;
  if (state.round !== seen.round) return state.round < seen.round;
  return seen.over && state.status !== 'finished';
}
