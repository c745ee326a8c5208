// Records keyed by player id are built as dictionaries for V8 (src/game/records.ts) but must be
// the same plain objects as before to everything else: the rules, JSON, comparisons, the mesh.

import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { idRecord, idRecordOf, withEntry } from '../../../src/game/records.js';

/** What the rules built before: a spread with the new key defined last. */
const spread = <T>(r: Readonly<Record<string, T>>, k: string, v: T): Record<string, T> => ({
  ...r,
  [k]: v,
});

const anyKey = fc.oneof(
  fc.nat({ max: 5000 }).map(String), // account ids
  fc.constantFrom('0', '007', '4294967295', '-1', '1.5', '__proto__', 'constructor', 'toString'),
  fc.string({ minLength: 1, maxLength: 8 }),
);

describe('records keyed by player id', () => {
  it('are plain, empty, extensible objects', () => {
    const r = idRecord<number>();
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(Object.keys(r)).toEqual([]);
    expect(JSON.stringify(r)).toBe('{}');
    expect(isDeepStrictEqual(r, {})).toBe(true);
    expect(Object.isExtensible(r)).toBe(true);
  });

  it('hold what a spread holds, in the same order, and leave the record they copy alone', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyKey, fc.integer()), { maxLength: 12 }), (steps) => {
        let mine: Record<string, number> = idRecord();
        let theirs: Record<string, number> = {};
        for (const [k, v] of steps) {
          const before = JSON.stringify(mine);
          const next = withEntry(mine, k, v);
          expect(JSON.stringify(mine)).toBe(before);
          mine = next;
          theirs = spread(theirs, k, v);
          expect(Object.keys(mine)).toEqual(Object.keys(theirs));
          expect(JSON.stringify(mine)).toBe(JSON.stringify(theirs));
          expect(isDeepStrictEqual(mine, theirs)).toBe(true);
          expect(Object.getPrototypeOf(mine)).toBe(Object.prototype);
          expect(Object.hasOwn(mine, k)).toBe(true);
        }
        const again = idRecordOf(Object.entries(theirs));
        expect(JSON.stringify(again)).toBe(JSON.stringify(theirs));
        expect(isDeepStrictEqual(again, theirs)).toBe(true);
      }),
    );
  });

  it('keep "__proto__" as an own key, never as the prototype', () => {
    const r = withEntry(idRecord<string>(), '__proto__', 'x');
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(Object.keys(r)).toEqual(['__proto__']);
    expect(JSON.stringify(r)).toBe('{"__proto__":"x"}');
    const of = idRecordOf([['__proto__', 'y'] as const]);
    expect(Object.getPrototypeOf(of)).toBe(Object.prototype);
    expect(JSON.stringify(of)).toBe('{"__proto__":"y"}');
  });
});
