// Axial coordinates on a pointy-top hex grid: arithmetic, neighbours, distances and board shapes.
// Written so that no -0 ever appears in a coordinate, which keeps states JSON-round-trip exact.

import { DIRECTIONS, type Direction, type Hex } from './types.js';

export const DIRECTION_VECTORS: Readonly<Record<Direction, Hex>> = {
  e: { q: 1, r: 0 },
  ne: { q: 1, r: -1 },
  nw: { q: 0, r: -1 },
  w: { q: -1, r: 0 },
  sw: { q: -1, r: 1 },
  se: { q: 0, r: 1 },
};

export function hex(q: number, r: number): Hex {
  // `+ 0` turns a -0 into 0.
  return { q: q + 0, r: r + 0 };
}

export function add(a: Hex, b: Hex): Hex {
  return hex(a.q + b.q, a.r + b.r);
}

export function equals(a: Hex, b: Hex): boolean {
  return a.q === b.q && a.r === b.r;
}

export function neighbor(h: Hex, dir: Direction): Hex {
  return add(h, DIRECTION_VECTORS[dir]);
}

export function neighbors(h: Hex): Hex[] {
  return DIRECTIONS.map((d) => neighbor(h, d));
}

export function distance(a: Hex, b: Hex): number {
  const dq = a.q - b.q;
  const dr = a.r - b.r;
  return (Math.abs(dq) + Math.abs(dr) + Math.abs(dq + dr)) / 2;
}

/** "q,r" — the key used for sets and maps of tiles. */
export function key(h: Hex): string {
  return `${h.q},${h.r}`;
}

export function isDirection(value: unknown): value is Direction {
  return typeof value === 'string' && (DIRECTIONS as readonly string[]).includes(value);
}

/** The direction from `a` to `b` when they are neighbours, otherwise null. */
export function directionBetween(a: Hex, b: Hex): Direction | null {
  for (const d of DIRECTIONS) {
    if (equals(neighbor(a, d), b)) return d;
  }
  return null;
}

export function onBoard(h: Hex, radius: number): boolean {
  return distance(h, { q: 0, r: 0 }) <= radius;
}

/** Every hex within `radius` of `center`, sorted by (r, q). */
export function hexesWithin(radius: number, center: Hex = { q: 0, r: 0 }): Hex[] {
  const out: Hex[] = [];
  for (let dr = -radius; dr <= radius; dr++) {
    const qMin = Math.max(-radius, -dr - radius);
    const qMax = Math.min(radius, -dr + radius);
    for (let dq = qMin; dq <= qMax; dq++) out.push(hex(center.q + dq, center.r + dr));
  }
  return out;
}

/** The hexes at exactly `radius` from `center`, in walking order once round the ring. */
export function ring(radius: number, center: Hex = { q: 0, r: 0 }): Hex[] {
  if (radius === 0) return [hex(center.q, center.r)];
  const out: Hex[] = [];
  const sw = DIRECTION_VECTORS.sw;
  let cur = hex(center.q + sw.q * radius, center.r + sw.r * radius);
  // Walking e, ne, nw, w, sw, se for `radius` steps each goes once round from the sw corner.
  for (const d of DIRECTIONS) {
    for (let i = 0; i < radius; i++) {
      out.push(cur);
      cur = neighbor(cur, d);
    }
  }
  return out;
}

export function compareHex(a: Hex, b: Hex): number {
  return a.r - b.r || a.q - b.q;
}
