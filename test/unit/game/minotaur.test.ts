import { describe, expect, it } from 'vitest';
import { key } from '../../../src/game/hex.js';
import { minotaurQuarry, minotaurStep, minotaurTarget } from '../../../src/game/minotaur.js';
import type { Hex, Player } from '../../../src/game/types.js';
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
