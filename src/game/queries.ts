// Read helpers over a game state for the rules and the views: who is alive, what is on a tile.

import { equals, hexesWithin, key, onBoard } from './hex.js';
import type { GameState, Hex, Player, PlayerAction, PlayerId } from './types.js';

export type TileKind = 'wall' | 'floor';

export function livingPlayers(state: GameState): Player[] {
  return state.players.filter((p) => p.alive);
}

export function playerById(state: GameState, id: PlayerId): Player | undefined {
  return state.players.find((p) => p.id === id);
}

/** Every tile of the board, sorted by (r, q). */
export function allTiles(state: GameState): Hex[] {
  return hexesWithin(state.radius);
}

export function wallKeys(state: GameState): Set<string> {
  return new Set(state.walls.map(key));
}

/** 'wall' for wall tiles and for anything off the board (nothing can stand there either). */
export function tileKind(state: GameState, hex: Hex): TileKind {
  if (!onBoard(hex, state.radius)) return 'wall';
  return state.walls.some((w) => equals(w, hex)) ? 'wall' : 'floor';
}

/** The action a player submitted this round, if any. Own properties only, so a player id such as
 *  "constructor" cannot pick up something from Object.prototype. */
export function submittedBy(state: GameState, id: PlayerId): PlayerAction | undefined {
  return Object.hasOwn(state.submitted, id) ? state.submitted[id] : undefined;
}

/** The id of the action a player had applied in the previous round, if any. */
export function previousBy(state: GameState, id: PlayerId): string | undefined {
  return Object.hasOwn(state.previous, id) ? state.previous[id] : undefined;
}

/** True when the player raised a shield in the round resolved last (its events say so). */
export function defendedLastRound(state: GameState, id: PlayerId): boolean {
  return state.events.some((e) => e.kind === 'defend' && e.actor === id);
}
