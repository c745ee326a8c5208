// The Minotaur's behaviour, a pure function of the board: step toward the nearest living
// character along a shortest free path, and strike one neighbouring character.

import { DIRECTION_VECTORS, key, neighbor, neighbors } from './hex.js';
import { DIRECTIONS, type Hex, type Player } from './types.js';

/**
 * A board of `radius` as a square grid of (2·radius+1)² cells, for searches without string keys:
 * cell (q, r) is at (r + radius)·w + (q + radius); cells off the hexagon are never entered. A
 * round's searches ran once per round per game and per node, and were a few percent of a busy
 * node's time with "q,r" keys.
 */
interface Grid {
  radius: number;
  w: number;
  /** 1 for a wall; 2 for a tile a living character stands on. */
  blocked: Uint8Array;
}

/** The six directions' steps, in DIRECTIONS order. */
const STEPS = DIRECTIONS.map((dir) => ({ dir, ...DIRECTION_VECTORS[dir] }));

function grid(radius: number, walls: ReadonlySet<string>): Grid {
  const w = 2 * radius + 1;
  const blocked = new Uint8Array(w * w);
  const g = { radius, w, blocked };
  for (const k of walls) {
    const comma = k.indexOf(',');
    const c = cell(g, Number(k.slice(0, comma)), Number(k.slice(comma + 1)));
    if (c >= 0) blocked[c] = 1;
  }
  return g;
}

/** The cell of (q, r), or -1 off the board. */
function cell(g: Grid, q: number, r: number): number {
  const R = g.radius;
  if (!Number.isInteger(q) || !Number.isInteger(r)) return -1;
  if (q < -R || q > R || r < -R || r > R || q + r < -R || q + r > R) return -1;
  return (r + R) * g.w + (q + R);
}

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
  const g = grid(radius, walls);
  const { w, blocked } = g;
  const R = radius;
  const start = cell(g, from.q, from.r);
  if (start < 0) return null;
  for (const p of living) {
    const c = cell(g, p.pos.q, p.pos.r);
    if (c >= 0 && blocked[c] === 0) blocked[c] = 2;
  }
  const dist = new Int32Array(w * w).fill(-1);
  const queue = new Int32Array(w * w);
  let tail = 0;
  for (const p of living) {
    const c = cell(g, p.pos.q, p.pos.r);
    if (c >= 0 && dist[c] === -1) {
      dist[c] = 0;
      queue[tail++] = c;
    }
  }
  for (let head = 0; head < tail; head++) {
    const cur = queue[head] as number;
    const q = (cur % w) - R;
    const r = Math.floor(cur / w) - R;
    const d = dist[cur] as number;
    for (const step of STEPS) {
      const n = cell(g, q + step.q, r + step.r);
      // The Minotaur's own tile is free for this search: the path may end there.
      if (n >= 0 && dist[n] === -1 && (blocked[n] === 0 || n === start)) {
        dist[n] = d + 1;
        queue[tail++] = n;
      }
    }
  }
  const here = dist[start] as number;
  if (here === -1 || here <= 1) return null;
  let best: Hex | null = null;
  let bestDist = here;
  for (const step of STEPS) {
    const n = cell(g, from.q + step.q, from.r + step.r);
    if (n < 0) continue;
    const d = dist[n] as number;
    if (d !== -1 && d < bestDist && blocked[n] === 0) {
      best = neighbor(from, step.dir);
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
  const g = grid(radius, walls);
  const { w, blocked } = g;
  const R = radius;
  const start = cell(g, from.q, from.r);
  if (start < 0) return null;
  // The last character listed on a tile is the one found there.
  const at = new Int32Array(w * w).fill(-1);
  living.forEach((p, i) => {
    const c = cell(g, p.pos.q, p.pos.r);
    if (c >= 0) at[c] = i;
  });
  const seen = new Uint8Array(w * w);
  seen[start] = 1;
  const queue = new Int32Array(w * w);
  queue[0] = start;
  let tail = 1;
  for (let head = 0; head < tail; head++) {
    const cur = queue[head] as number;
    const q = (cur % w) - R;
    const r = Math.floor(cur / w) - R;
    for (const step of STEPS) {
      const n = cell(g, q + step.q, r + step.r);
      if (n < 0 || seen[n] === 1 || blocked[n] === 1) continue;
      seen[n] = 1;
      const p = living[at[n] as number];
      if (p) return p;
      queue[tail++] = n;
    }
  }
  return null;
}
