import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DIRECTION_VECTORS,
  add,
  directionBetween,
  distance,
  hexesWithin,
  isDirection,
  key,
  neighbor,
  neighbors,
  onBoard,
  ring,
} from '../../../src/game/hex.js';
import { DIRECTIONS } from '../../../src/game/types.js';

const arbHex = fc.record({
  q: fc.integer({ min: -20, max: 20 }),
  r: fc.integer({ min: -20, max: 20 }),
});

describe('hex', () => {
  it('has the pointy-top axial direction vectors', () => {
    expect(DIRECTION_VECTORS).toEqual({
      e: { q: 1, r: 0 },
      w: { q: -1, r: 0 },
      ne: { q: 1, r: -1 },
      nw: { q: 0, r: -1 },
      se: { q: 0, r: 1 },
      sw: { q: -1, r: 1 },
    });
  });

  it('adds, keys and finds neighbours', () => {
    expect(add({ q: 1, r: 2 }, { q: -3, r: 1 })).toEqual({ q: -2, r: 3 });
    expect(key({ q: -2, r: 3 })).toBe('-2,3');
    expect(neighbor({ q: 0, r: 0 }, 'ne')).toEqual({ q: 1, r: -1 });
    expect(neighbors({ q: 2, r: 2 })).toHaveLength(6);
  });

  it('never produces -0 (so JSON round trips are exact)', () => {
    const all = [...hexesWithin(4), ...ring(3), neighbor({ q: 1, r: 0 }, 'w')];
    for (const t of all) {
      expect(Object.is(t.q, -0)).toBe(false);
      expect(Object.is(t.r, -0)).toBe(false);
    }
  });

  it('measures distance', () => {
    expect(distance({ q: 0, r: 0 }, { q: 3, r: -3 })).toBe(3);
    expect(distance({ q: 0, r: 0 }, { q: 2, r: 1 })).toBe(3);
    expect(distance({ q: -1, r: 2 }, { q: -1, r: 2 })).toBe(0);
  });

  it('counts 3r(r+1)+1 tiles within a radius, sorted by (r, q)', () => {
    for (const r of [0, 1, 2, 5]) {
      const tiles = hexesWithin(r);
      expect(tiles).toHaveLength(3 * r * (r + 1) + 1);
      expect(tiles.every((t) => onBoard(t, r))).toBe(true);
      const sorted = [...tiles].sort((a, b) => a.r - b.r || a.q - b.q);
      expect(tiles).toEqual(sorted);
      expect(new Set(tiles.map(key)).size).toBe(tiles.length);
    }
  });

  it('walks a ring of 6r tiles, each at distance r and next to the one before', () => {
    const r5 = ring(5);
    expect(r5).toHaveLength(30);
    r5.forEach((t, i) => {
      expect(distance(t, { q: 0, r: 0 })).toBe(5);
      expect(distance(t, r5[(i + 1) % r5.length]!)).toBe(1);
    });
  });

  it('directionBetween inverts neighbor and rejects non-neighbours', () => {
    fc.assert(
      fc.property(arbHex, fc.constantFrom(...DIRECTIONS), (a, d) => {
        expect(directionBetween(a, neighbor(a, d))).toBe(d);
        expect(distance(a, neighbor(a, d))).toBe(1);
      }),
    );
    expect(directionBetween({ q: 0, r: 0 }, { q: 2, r: 0 })).toBeNull();
    expect(directionBetween({ q: 0, r: 0 }, { q: 0, r: 0 })).toBeNull();
  });

  it('distance is a metric', () => {
    fc.assert(
      fc.property(arbHex, arbHex, arbHex, (a, b, c) => {
        expect(distance(a, b)).toBe(distance(b, a));
        expect(distance(a, c)).toBeLessThanOrEqual(distance(a, b) + distance(b, c));
      }),
    );
  });

  it('recognises directions', () => {
    expect(isDirection('ne')).toBe(true);
    expect(isDirection('n')).toBe(false);
    expect(isDirection(undefined)).toBe(false);
  });
});
