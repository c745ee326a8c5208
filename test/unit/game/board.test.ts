import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LAIR,
  generateBoard,
  generateWalls,
  isFloorConnected,
  startTiles,
} from '../../../src/game/board.js';
import { distance, hexesWithin, key, onBoard } from '../../../src/game/hex.js';
import { MAX_PLAYERS } from '../../../src/game/types.js';

describe('board', () => {
  it('is the same for the same seed and differs between seeds', () => {
    expect(generateWalls(5)).toEqual(generateWalls(5));
    expect(generateWalls(5)).not.toEqual(generateWalls(6));
  });

  it('has walls on about a fifth of a radius-5 board, sorted by (r, q)', () => {
    const walls = generateWalls(123);
    expect(walls.length).toBeGreaterThanOrEqual(15);
    expect(walls.length).toBeLessThanOrEqual(25);
    expect(walls).toEqual([...walls].sort((a, b) => a.r - b.r || a.q - b.q));
  });

  it('keeps the floor connected, the lair free and the start tiles free and spread (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 2, max: 7 }),
        (seed, radius) => {
          const { walls, starts } = generateBoard(seed, radius);
          const wallSet = new Set(walls.map(key));
          expect(isFloorConnected(walls, radius)).toBe(true);
          expect(wallSet.has(key(LAIR))).toBe(false);
          expect(walls.every((w) => onBoard(w, radius))).toBe(true);
          expect(new Set(walls.map(key)).size).toBe(walls.length);
          expect(starts).toHaveLength(MAX_PLAYERS);
          expect(new Set(starts.map(key)).size).toBe(MAX_PLAYERS);
          for (const s of starts) {
            expect(wallSet.has(key(s))).toBe(false);
            expect(distance(s, LAIR)).toBe(radius);
          }
          if (radius >= 5) {
            for (let i = 0; i < starts.length; i++) {
              for (let j = i + 1; j < starts.length; j++)
                expect(distance(starts[i]!, starts[j]!)).toBeGreaterThanOrEqual(2);
            }
            expect(walls.length / hexesWithin(radius).length).toBeGreaterThan(0.15);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the start tiles are those generateBoard reports', () => {
    expect(startTiles(99, 5)).toEqual(generateBoard(99, 5).starts);
  });

  it('detects a cut floor', () => {
    // A full ring of walls at distance 1 cuts the lair off from the rest.
    const cut = hexesWithin(1).filter((t) => distance(t, LAIR) === 1);
    expect(isFloorConnected(cut, 3)).toBe(false);
    expect(isFloorConnected(cut.slice(1), 3)).toBe(true);
  });

  it('rejects boards too small for eight start tiles', () => {
    expect(() => generateBoard(1, 1)).toThrow(RangeError);
    expect(() => generateBoard(1, 2.5)).toThrow(RangeError);
  });
});
