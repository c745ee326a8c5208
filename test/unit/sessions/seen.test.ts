import { describe, expect, it } from 'vitest';
import { isBehind, parseSeen, seenToken } from '../../../src/sessions/seen.js';

describe('what a page has seen of a game', () => {
  it('writes a token a page can send back, and reads it again', () => {
    expect(seenToken(1800000004, { round: 19, status: 'playing' })).toBe('1800000004.19');
    expect(seenToken(3, { round: 0, status: 'open' })).toBe('3.0');
    expect(seenToken(5, { round: 21, status: 'finished' })).toBe('5.21.end');
    expect(parseSeen('1800000004.19')).toEqual({ epoch: 1800000004, round: 19, over: false });
    expect(parseSeen('5.21.end')).toEqual({ epoch: 5, round: 21, over: true });
  });

  it('ignores anything that is not a token', () => {
    for (const bad of [
      undefined,
      42,
      ['1.2'],
      '',
      '1',
      '1.',
      '.2',
      '1.2.3',
      '1.2.over',
      'a.b',
      '-1.2',
      '1.2 ',
      '9'.repeat(16) + '.1',
    ])
      expect(parseSeen(bad)).toBeNull();
  });

  it('finds a copy behind what the page saw: an earlier run, an earlier round, the end not reached', () => {
    const seen = { epoch: 4, round: 19, over: false };
    expect(isBehind(4, { round: 17, status: 'playing' }, seen)).toBe(true);
    expect(isBehind(3, { round: 30, status: 'playing' }, seen)).toBe(true);
    expect(isBehind(4, { round: 19, status: 'playing' }, seen)).toBe(false);
    expect(isBehind(4, { round: 20, status: 'playing' }, seen)).toBe(false);
    // A later run continues from the newest write it could find: never behind.
    expect(isBehind(5, { round: 18, status: 'playing' }, seen)).toBe(false);
    const end = { epoch: 4, round: 21, over: true };
    expect(isBehind(4, { round: 21, status: 'playing' }, end)).toBe(true);
    expect(isBehind(4, { round: 21, status: 'finished' }, end)).toBe(false);
  });
});
