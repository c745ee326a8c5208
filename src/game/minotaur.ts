// The Minotaur's behaviour, a pure function of the board: pick its prey, step toward it along
// a shortest free path, then strike one neighbouring character.

import type { Rules } from './balance.js';
import { equals, key, neighbor, neighbors, onBoard } from './hex.js';
import { DIRECTIONS, type Hex, type Player } from './types.js';

/**
 * The characters the Minotaur hunts: every living one ('nearest'), or those with the least
 * health ('wounded': it smells blood). It walks toward the nearest of them.
 */
export function minotaurPrey(living: readonly Player[], hunt: Rules['hunt']): Player[] {
  if (hunt === 'nearest' || living.length === 0) return [...living];
  const least = Math.min(...living.map((p) => p.hp));
  return living.filter((p) => p.hp === least);
}

/**
 * The tile the Minotaur steps to, or null when it stays (already next to its prey, or nothing
 * is reachable). Distances come from a breadth-first search that starts at every character of
 * `prey` and spreads over free tiles (not walls, not characters), so the Minotaur follows a
 * shortest path to whichever of them is nearest; ties go to the first direction in DIRECTIONS.
 * Prey it cannot reach makes it fall back to the nearest living character.
 */
export function minotaurStep(from: Hex, living: readonly Player[], walls: ReadonlySet<string>, radius: number, prey: readonly Player[] = living): Hex | null {
  if (living.length === 0 || prey.length === 0) return null;
  const occupied = new Set(living.map((p) => key(p.pos)));
  const free = (h: Hex): boolean => {
    const k = key(h);
    return onBoard(h, radius) && !walls.has(k) && !occupied.has(k);
  };
  const dist = new Map<string, number>();
  const queue: Hex[] = [];
  for (const p of prey) {
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
  if (here === undefined) return prey.length < living.length ? minotaurStep(from, living, walls, radius) : null;
  if (here <= 1) return null;
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

/** The character the Minotaur strikes: the neighbour with the lowest hp, then the earliest joined. */
export function minotaurTarget(at: Hex, living: readonly Player[]): Player | null {
  const around = new Set(neighbors(at).map(key));
  let target: Player | null = null;
  for (const p of living) {
    if (around.has(key(p.pos)) && (target === null || p.hp < target.hp)) target = p;
  }
  return target;
}
