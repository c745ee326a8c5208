// The Minotaur's behaviour, a pure function of the board: step toward the nearest living
// character along a shortest free path, and strike one neighbouring character.

import { equals, key, neighbor, neighbors, onBoard } from './hex.js';
import { DIRECTIONS, type Hex, type Player } from './types.js';

/**
 * The tile the Minotaur steps to, or null when it stays (already next to a character, or no
 * character is reachable). Distances come from a breadth-first search that starts at every living
 * character and spreads over free tiles (not walls, not other characters), so the Minotaur follows
 * a shortest path to whichever character is nearest; ties go to the first direction in DIRECTIONS.
 */
export function minotaurStep(
  from: Hex,
  living: readonly Player[],
  walls: ReadonlySet<string>,
  radius: number,
): Hex | null {
  if (living.length === 0) return null;
  const occupied = new Set(living.map((p) => key(p.pos)));
  const free = (h: Hex): boolean => {
    const k = key(h);
    return onBoard(h, radius) && !walls.has(k) && !occupied.has(k);
  };
  const dist = new Map<string, number>();
  const queue: Hex[] = [];
  for (const p of living) {
    dist.set(key(p.pos), 0);
    queue.push(p.pos);
  }
  for (let i = 0; i < queue.length; i++) {
    const cur = queue[i] as Hex;
    const d = dist.get(key(cur)) as number;
    for (const n of neighbors(cur)) {
      const k = key(n);
      // The Minotaur's own tile is free for this search: the path may end there.
      if (!dist.has(k) && (free(n) || equals(n, from))) {
        dist.set(k, d + 1);
        queue.push(n);
      }
    }
  }
  const here = dist.get(key(from));
  if (here === undefined || here <= 1) return null;
  let best: Hex | null = null;
  let bestDist = here;
  for (const dir of DIRECTIONS) {
    const n = neighbor(from, dir);
    const d = dist.get(key(n));
    if (d !== undefined && d < bestDist && free(n)) {
      best = n;
      bestDist = d;
    }
  }
  return best;
}

/**
 * The character the Minotaur strikes: the neighbour with the lowest hp, then the earliest joined.
 */
export function minotaurTarget(at: Hex, living: readonly Player[]): Player | null {
  const around = new Set(neighbors(at).map(key));
  let target: Player | null = null;
  for (const p of living) {
    if (around.has(key(p.pos)) && (target === null || p.hp < target.hp)) target = p;
  }
  return target;
}

/**
 * The character the Minotaur is after: the nearest one by a free path from where it stands
 * (the one its steps lead to). Null when nobody can be reached.
 */
export function minotaurQuarry(
  from: Hex,
  living: readonly Player[],
  walls: ReadonlySet<string>,
  radius: number,
): Player | null {
  const at = new Map(living.map((p) => [key(p.pos), p]));
  const seen = new Set<string>([key(from)]);
  const queue: Hex[] = [from];
  for (let i = 0; i < queue.length; i++) {
    for (const n of neighbors(queue[i] as Hex)) {
      const k = key(n);
      if (seen.has(k) || !onBoard(n, radius) || walls.has(k)) continue;
      seen.add(k);
      const p = at.get(k);
      if (p) return p;
      queue.push(n);
    }
  }
  return null;
}
