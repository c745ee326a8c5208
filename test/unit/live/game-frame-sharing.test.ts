// How much a frame compares: a part of a state is compared in depth only when it is an object
// the frame has not seen, and who has chosen never is (it is new only when someone chose). A
// busy node frames every state of every game it runs, so a depth comparison repeated at every
// write was a measurable share of its allocation.

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GameState } from '../../../src/game/types.js';
import { GameFrames } from '../../../src/live/game-frame.js';
import { playedGame } from './corpus.js';

const compared = vi.hoisted(() => ({ parts: [] as unknown[] }));

vi.mock('node:util', async (original) => {
  const util = await original<typeof import('node:util')>();
  return {
    ...util,
    isDeepStrictEqual: (a: unknown, b: unknown) => {
      compared.parts.push(b);
      return util.isDeepStrictEqual(a, b);
    },
  };
});

afterEach(() => {
  compared.parts.length = 0;
});

describe('GameFrames, on the node that runs the game', () => {
  it('compares a part made anew by a round once, not again at each write of the round', () => {
    const states = playedGame(11, 5).map((s) => s.state);
    // A resolved round whose heroes or Minotaur are new objects equal to the last round's: the
    // frame keeps the last round's, and the round's next states carry the new ones.
    const at = states.findIndex(
      (s, k) =>
        k > 0 &&
        s.round === states[k - 1]!.round + 1 &&
        ((s.players !== states[k - 1]!.players &&
          JSON.stringify(s.players) === JSON.stringify(states[k - 1]!.players)) ||
          (s.minotaur !== states[k - 1]!.minotaur &&
            JSON.stringify(s.minotaur) === JSON.stringify(states[k - 1]!.minotaur))),
    );
    expect(at).toBeGreaterThan(0);
    const round = states.slice(at + 1).filter((s) => s.round === states[at]!.round);
    expect(round.length).toBeGreaterThan(1);
    const frames = new GameFrames();
    for (const s of states.slice(0, at + 1)) frames.frame(s, 0).page('2', 'tok');
    compared.parts.length = 0;
    for (const s of round) frames.frame(s, 0).page('2', 'tok');
    // Within the round only who has chosen changes, and it is not compared.
    expect(round.every((s) => s.players === states[at]!.players)).toBe(true);
    expect(compared.parts).toEqual([]);
  });

  it('never compares who has chosen', () => {
    const frames = new GameFrames();
    const seen = new Set<unknown>();
    const states: GameState[] = playedGame(7, 4).map((s) => s.state);
    for (const s of states) {
      frames.frame(s, 0).page('1', 'tok');
      seen.add(s.submitted);
    }
    expect(compared.parts.some((p) => seen.has(p))).toBe(false);
    // It does compare other parts (the check above could fail).
    expect(compared.parts.length).toBeGreaterThan(0);
  });
});
