import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { equals, key, neighbor, neighbors, onBoard } from '../../../src/game/hex.js';
import { minotaurQuarry, minotaurStep, minotaurTarget } from '../../../src/game/minotaur.js';
import { DIRECTIONS, type Hex, type Player } from '../../../src/game/types.js';
import { h } from './fixtures.js';

const player = (id: string, pos: Hex, hp = 5): Player => ({
  id,
  name: id,
  color: 0,
  hp,
  pos,
  alive: true,
  eliminatedRound: null,
  dealt: 0,
});
const walls = (...hs: Hex[]) => new Set(hs.map(key));

describe('minotaurStep', () => {
  it('prefers the character nearest by path over the one nearest as the crow flies', () => {
    // 'a' is two tiles east but sits in a pocket that opens to the north-east only.
    const pocket = walls(h(1, 0), h(1, -1), h(2, -2), h(1, 1), h(2, 1));
    const a = player('a', h(2, 0));
    const b = player('b', h(-3, 0));
    // The way round the pocket is about six steps; 'b' is three steps west.
    const step = minotaurStep(h(0, 0), [a, b], pocket, 5);
    expect(step).toEqual(h(-1, 0));
  });

  it('returns null with nobody alive, when adjacent, or when walled in', () => {
    expect(minotaurStep(h(0, 0), [], walls(), 5)).toBeNull();
    expect(minotaurStep(h(0, 0), [player('a', h(0, 1))], walls(), 5)).toBeNull();
    expect(
      minotaurStep(h(5, -5), [player('a', h(0, 0))], walls(h(4, -5), h(4, -4), h(5, -4)), 5),
    ).toBeNull();
  });
});

describe('minotaurTarget', () => {
  it('strikes the weakest neighbour, then the first to join, and never a character further off', () => {
    const a = player('a', h(1, 0), 3);
    const b = player('b', h(0, 1), 3);
    const c = player('c', h(-1, 0), 4);
    const far = player('far', h(3, 0), 1);
    expect(minotaurTarget(h(0, 0), [a, b, c, far])?.id).toBe('a');
    expect(minotaurTarget(h(0, 0), [c, b, a])?.id).toBe('b');
    expect(minotaurTarget(h(0, 0), [far])).toBeNull();
  });
});

describe('minotaurQuarry', () => {
  it('is the character nearest by a free path, the one its steps lead to', () => {
    const pocket = walls(h(1, 0), h(1, -1), h(2, -2), h(1, 1), h(2, 1));
    const a = player('a', h(2, 0));
    const b = player('b', h(-3, 0));
    expect(minotaurQuarry(h(0, 0), [a, b], pocket, 5)?.id).toBe('b');
    expect(minotaurQuarry(h(0, 0), [a, b], walls(), 5)?.id).toBe('a');
    expect(minotaurQuarry(h(5, -5), [a], walls(h(4, -5), h(4, -4), h(5, -4)), 5)).toBeNull();
  });
});

// ── the grid searches against a plain search over "q,r" keys ──────────────────────────────

/** The Minotaur's step as a plain breadth-first search over string keys (the rule as stated). */
function referenceStep(
  from: Hex,
  living: readonly Player[],
  wallSet: ReadonlySet<string>,
  radius: number,
): Hex | null {
  if (living.length === 0) return null;
  const occupied = new Set(living.map((p) => key(p.pos)));
  const free = (x: Hex): boolean =>
    onBoard(x, radius) && !wallSet.has(key(x)) && !occupied.has(key(x));
  const dist = new Map<string, number>();
  const queue: Hex[] = [];
  for (const p of living) {
    dist.set(key(p.pos), 0);
    queue.push(p.pos);
  }
  for (let i = 0; i < queue.length; i++) {
    const cur = queue[i]!;
    const d = dist.get(key(cur))!;
    for (const n of neighbors(cur)) {
      if (!dist.has(key(n)) && (free(n) || equals(n, from))) {
        dist.set(key(n), d + 1);
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

function referenceQuarry(
  from: Hex,
  living: readonly Player[],
  wallSet: ReadonlySet<string>,
  radius: number,
): Player | null {
  const at = new Map(living.map((p) => [key(p.pos), p]));
  const seen = new Set<string>([key(from)]);
  const queue: Hex[] = [from];
  for (let i = 0; i < queue.length; i++) {
    for (const n of neighbors(queue[i]!)) {
      const k = key(n);
      if (seen.has(k) || !onBoard(n, radius) || wallSet.has(k)) continue;
      seen.add(k);
      const p = at.get(k);
      if (p) return p;
      queue.push(n);
    }
  }
  return null;
}

describe('the Minotaur searches the board as the rule states', () => {
  const board = fc.integer({ min: 1, max: 7 }).chain((radius) => {
    const tile = fc
      .tuple(fc.integer({ min: -radius, max: radius }), fc.integer({ min: -radius, max: radius }))
      .filter(([q, r]) => Math.abs(q + r) <= radius)
      .map(([q, r]) => h(q, r));
    return fc.record({
      radius: fc.constant(radius),
      from: tile,
      heroes: fc.uniqueArray(tile, { maxLength: 6, selector: key }),
      walls: fc.uniqueArray(tile, { maxLength: 3 * radius * radius, selector: key }),
    });
  });

  it('takes the same step and hunts the same hero as a plain search', () => {
    fc.assert(
      fc.property(board, ({ radius, from, heroes, walls: ws }) => {
        const living = heroes.filter((x) => !equals(x, from)).map((pos, i) => player(`p${i}`, pos));
        const wallSet = new Set(
          ws.filter((x) => !equals(x, from) && !living.some((p) => equals(p.pos, x))).map(key),
        );
        expect(minotaurStep(from, living, wallSet, radius)).toEqual(
          referenceStep(from, living, wallSet, radius),
        );
        expect(minotaurQuarry(from, living, wallSet, radius)).toBe(
          referenceQuarry(from, living, wallSet, radius),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
