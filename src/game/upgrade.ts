// Reading game states written by older releases. Each step lifts a state by one schema
// version; a node reads every schema from 1 up to GAME_SCHEMA and refuses newer ones.

import { GAME_SCHEMA, type GameState } from './types.js';

type Step = (old: Record<string, unknown>) => Record<string, unknown>;

/** STEPS[n] lifts a state of schema n to schema n + 1. */
const STEPS: Record<number, Step> = {
  // Schema 2 counts the damage each character dealt, for the end-of-game screens. Games that
  // started under schema 1 begin counting when they are upgraded.
  1: (old) => ({
    ...old,
    players: (old.players as Record<string, unknown>[]).map((p) => ({
      ...p,
      dealt: typeof p.dealt === 'number' ? p.dealt : 0,
    })),
  }),
  // Schema 3 can hold a round for players who are away after an outage, and adds table talk
  // and rematches; older games have had none of them.
  2: (old) => ({ ...old, hold: null, chat: [], rematch: null, rematchOf: null }),
};

const READABLE: readonly number[] = Object.freeze(
  Array.from({ length: GAME_SCHEMA }, (_, i) => i + 1),
);

export function readableSchemas(): number[] {
  return [...READABLE];
}

export function canRead(schema: number): boolean {
  return READABLE.includes(schema);
}

export class SchemaError extends Error {
  readonly code = 'GAME_SCHEMA_UNREADABLE';
}

export function upgradeState(state: unknown, schema: number): GameState {
  if (!Number.isInteger(schema) || schema < 1 || schema > GAME_SCHEMA) {
    throw new SchemaError(
      `game state schema ${schema} cannot be read by this release (reads 1–${GAME_SCHEMA})`,
    );
  }
  let s = state as Record<string, unknown>;
  for (let v = schema; v < GAME_SCHEMA; v++) {
    const step = STEPS[v];
    if (!step) throw new SchemaError(`no upgrade from game schema ${v} to ${v + 1}`);
    s = step(s);
  }
  return { ...(s as unknown as GameState), schema: GAME_SCHEMA };
}

/**
 * Checks a stored or received state of any schema: one this release cannot read is left
 * alone (a newer node may own it), one it can read must upgrade to a valid current state.
 */
export function checkStoredState(
  state: unknown,
  schema: number,
  check: (s: unknown) => string | undefined,
): string | undefined {
  if (!canRead(schema)) return undefined;
  try {
    return check(upgradeState(state, schema));
  } catch (e) {
    return (e as Error).message;
  }
}
