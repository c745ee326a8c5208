// Board generation from a seed: a small labyrinth of wall tiles that never cuts the floor in two,
// a free Minotaur lair at the centre and spread-out start tiles on the rim.

import { compareHex, hexesWithin, key, neighbor, neighbors, onBoard, ring } from './hex.js';
import { createRng, deriveSeed } from './rng.js';
import { DIRECTIONS, MAX_PLAYERS, type Direction, type Hex } from './types.js';

export const DEFAULT_RADIUS = 5;
export const MIN_RADIUS = 2;
export const MAX_RADIUS = 12;
/** Share of the board's tiles that become walls (the generator stops earlier if it must). */
export const WALL_SHARE = 0.22;
export const LAIR: Hex = { q: 0, r: 0 };

const WALL_STREAM = 1;
const START_STREAM = 2;

export interface Board {
  /** Wall tiles, sorted by (r, q). */
  walls: Hex[];
  /** MAX_PLAYERS free tiles on the rim, evenly spread, in walking order round the rim. */
  starts: Hex[];
}

export function assertRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < MIN_RADIUS || radius > MAX_RADIUS) {
    throw new RangeError(
      `Board radius must be an integer from ${MIN_RADIUS} to ${MAX_RADIUS}, got ${radius}.`,
    );
  }
}

/** The start tiles of a board: evenly spaced round the rim, rotated by the seed. */
export function startTiles(seed: number, radius: number): Hex[] {
  assertRadius(radius);
  const rim = ring(radius);
  const offset = createRng(deriveSeed(seed, START_STREAM)).int(rim.length);
  const starts: Hex[] = [];
  for (let j = 0; j < MAX_PLAYERS; j++) {
    starts.push(rim[(offset + Math.floor((j * rim.length) / MAX_PLAYERS)) % rim.length] as Hex);
  }
  return starts;
}

export function generateBoard(seed: number, radius: number = DEFAULT_RADIUS): Board {
  const starts = startTiles(seed, radius);
  const tiles = hexesWithin(radius);
  // The lair and its ring stay open so the Minotaur can always leave; start tiles stay open.
  const reserved = new Set<string>([key(LAIR), ...neighbors(LAIR).map(key), ...starts.map(key)]);
  const candidates = tiles.filter((t) => !reserved.has(key(t)));
  const target = Math.round(tiles.length * WALL_SHARE);
  const walls = new Set<string>();
  const rng = createRng(deriveSeed(seed, WALL_STREAM));

  // Walls are laid as short straight segments, which reads as corridors; each tile is kept
  // only if the floor stays in one piece, so connectivity holds by construction.
  const maxAttempts = candidates.length * 8;
  for (let attempt = 0; attempt < maxAttempts && walls.size < target; attempt++) {
    let cur = candidates[rng.int(candidates.length)] as Hex;
    const dir = DIRECTIONS[rng.int(DIRECTIONS.length)] as Direction;
    const length = 2 + rng.int(3);
    for (let i = 0; i < length && walls.size < target; i++) {
      const k = key(cur);
      if (!onBoard(cur, radius) || reserved.has(k)) break;
      if (!walls.has(k)) {
        walls.add(k);
        if (!floorConnected(tiles, walls)) {
          walls.delete(k);
          break;
        }
      }
      cur = neighbor(cur, dir);
    }
  }
  return { walls: tiles.filter((t) => walls.has(key(t))).sort(compareHex), starts };
}

export function generateWalls(seed: number, radius: number = DEFAULT_RADIUS): Hex[] {
  return generateBoard(seed, radius).walls;
}

/** True when every non-wall tile of the board can reach every other through non-wall tiles. */
export function isFloorConnected(walls: readonly Hex[], radius: number): boolean {
  return floorConnected(hexesWithin(radius), new Set(walls.map(key)));
}

function floorConnected(tiles: readonly Hex[], walls: ReadonlySet<string>): boolean {
  const floor = tiles.filter((t) => !walls.has(key(t)));
  const first = floor[0];
  if (first === undefined) return true;
  const inFloor = new Set(floor.map(key));
  const seen = new Set<string>([key(first)]);
  const queue: Hex[] = [first];
  for (let i = 0; i < queue.length; i++) {
    for (const n of neighbors(queue[i] as Hex)) {
      const k = key(n);
      if (inFloor.has(k) && !seen.has(k)) {
        seen.add(k);
        queue.push(n);
      }
    }
  }
  return seen.size === floor.length;
}
