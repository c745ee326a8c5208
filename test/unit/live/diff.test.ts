import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffPartials, partialsMessage } from '../../../src/live/diff.js';

describe('diffPartials', () => {
  it('sends everything on the first render', () => {
    const r = new Map([
      ['a', '<p>1</p>'],
      ['b', '<p>2</p>'],
    ]);
    expect(diffPartials(null, r).changed).toEqual([
      ['a', '<p>1</p>'],
      ['b', '<p>2</p>'],
    ]);
  });

  it('sends only partials whose HTML changed', () => {
    const prev = new Map([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    const next = new Map([
      ['a', '1'],
      ['b', '20'],
      ['c', '3'],
    ]);
    expect(diffPartials(prev, next).changed).toEqual([['b', '20']]);
  });

  it('applying the changes to the previous map always gives the new one', () => {
    const html = fc.string({ maxLength: 20 });
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), html),
        fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), html),
        (p, n) => {
          const prev = new Map(Object.entries(p));
          const next = new Map(Object.entries(n));
          const { changed, next: state } = diffPartials(prev, next);
          const merged = new Map(prev);
          for (const [id, h] of changed) merged.set(id, h);
          for (const [id, h] of next) expect(merged.get(id)).toBe(h);
          expect(state).toBe(next);
          // Nothing unchanged is ever sent.
          for (const [id, h] of changed) expect(prev.get(id)).not.toBe(h);
        },
      ),
    );
  });

  it('wraps changes as htmx partials targeting each id', () => {
    expect(partialsMessage([['game-board', '<svg></svg>']])).toBe(
      '<hx-partial hx-target="#game-board" hx-swap="innerMorph"><svg></svg></hx-partial>',
    );
  });
});
