// Builders for hand-made game states, so each rule can be tested on a board drawn for it.

import { createGame, joinGame, startGame, submitAction } from '../../../src/game/rules.js';
import {
  START_HP,
  type GameState,
  type Hex,
  type PlayerAction,
  type RuleResult,
} from '../../../src/game/types.js';

export function ok(result: RuleResult): GameState {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.state;
}

export function lobby(playerIds: string[], seed = 1): GameState {
  const [creator, ...rest] = playerIds;
  let state = createGame({
    id: 'g1',
    code: 'KEPS',
    seed,
    creator: { id: creator!, name: creator! },
    now: 1000,
    roundMs: 10_000,
  });
  for (const id of rest) state = ok(joinGame(state, { id, name: id.toUpperCase() }));
  return state;
}

export function started(playerIds: string[], seed = 1): GameState {
  return ok(startGame(lobby(playerIds, seed), playerIds[0]!, 2000));
}

export interface Placement {
  id: string;
  pos: Hex;
  hp?: number;
}

/** A playing game on an open board (no walls unless given) with characters where the test wants. */
export function arena(
  placements: Placement[],
  opts: { walls?: Hex[]; minotaur?: Hex; radius?: number; round?: number; maxRounds?: number } = {},
): GameState {
  const base = started(placements.map((p) => p.id));
  return {
    ...base,
    radius: opts.radius ?? base.radius,
    walls: opts.walls ?? [],
    minotaur: { pos: opts.minotaur ?? { q: 0, r: 0 } },
    round: opts.round ?? 1,
    maxRounds: opts.maxRounds ?? base.maxRounds,
    players: base.players.map((p, i) => ({
      ...p,
      pos: placements[i]!.pos,
      hp: placements[i]!.hp ?? START_HP,
    })),
  };
}

let counter = 0;
export function act(
  state: GameState,
  playerId: string,
  action: Omit<PlayerAction, 'id' | 'round'> & { id?: string },
): GameState {
  const full: PlayerAction = {
    id: action.id ?? `a${++counter}`,
    round: state.round,
    kind: action.kind,
    ...(action.dir ? { dir: action.dir } : {}),
  };
  return ok(submitAction(state, playerId, full));
}

export const h = (q: number, r: number): Hex => ({ q, r });
