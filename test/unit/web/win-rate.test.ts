// The win rate the profile and the leaderboard show.

import { describe, expect, it } from 'vitest';
import { winRate } from '../../../src/web/app.js';

describe('winRate', () => {
  it('rounds, but says 100 % only for every game won and 0 % only for none', () => {
    expect(winRate(0, 0)).toBe('—');
    expect(winRate(1, 3)).toBe('33%');
    expect(winRate(2, 3)).toBe('67%');
    expect(winRate(3, 3)).toBe('100%');
    expect(winRate(0, 5)).toBe('0%');
    expect(winRate(199, 200)).toBe('99%');
    expect(winRate(1, 201)).toBe('1%');
  });
});
