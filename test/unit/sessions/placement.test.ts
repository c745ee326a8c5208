import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eligible, placeGame, rankFor, type Candidate } from '../../../src/sessions/placement.js';

const code = fc.stringMatching(/^[A-Z]{4}$/);
const member = fc.record({
  id: fc.stringMatching(/^[a-z0-9]{1,8}$/),
  state: fc.constantFrom('starting', 'joining', 'ready', 'draining', 'stopped'),
  schemas: fc.constantFrom([1], [1, 2], [1, 2, 3]),
});
const members = fc.uniqueArray(member, { selector: (m) => m.id, maxLength: 8 });

describe('placeGame', () => {
  it('always picks a ready member that can read the schema, or nobody when none can', () => {
    fc.assert(
      fc.property(code, members, fc.constantFrom<number>(1, 2, 3), (key, ms, schema) => {
        const chosen = placeGame(key, ms, schema);
        const ok = ms.filter(
          (m) => m.state === 'ready' && (m.schemas as readonly number[]).includes(schema),
        );
        if (ok.length === 0) expect(chosen).toBeNull();
        else expect(ok.map((m) => m.id)).toContain(chosen);
      }),
    );
  });

  it('gives every node the same answer whatever order it lists the members in', () => {
    fc.assert(
      fc.property(code, members, fc.constantFrom(1, 2), fc.integer(), (key, ms, schema, seed) => {
        const shuffled = [...ms].sort(() => 0).reverse();
        const rotated = ms.length
          ? [
              ...ms.slice(seed % ms.length < 0 ? 0 : seed % ms.length),
              ...ms.slice(0, Math.abs(seed % ms.length)),
            ]
          : ms;
        const a = placeGame(key, ms, schema);
        expect(placeGame(key, shuffled, schema)).toBe(a);
        expect(placeGame(key, rotated, schema)).toBe(a);
      }),
    );
  });

  it('moves only the games of a member that leaves (rendezvous property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(code, { minLength: 1, maxLength: 40 }),
        fc.uniqueArray(fc.stringMatching(/^[a-z]{2,6}$/), { minLength: 2, maxLength: 6 }),
        (keys, ids) => {
          const all: Candidate[] = ids.map((id) => ({ id, state: 'ready', schemas: [1] }));
          const gone = ids[0]!;
          const rest = all.filter((c) => c.id !== gone);
          for (const k of keys) {
            const before = placeGame(k, all, 1);
            if (before !== gone) expect(placeGame(k, rest, 1)).toBe(before);
          }
        },
      ),
    );
  });

  it('never places on a draining member', () => {
    const ms: Candidate[] = [
      { id: 'a', state: 'draining', schemas: [1] },
      { id: 'b', state: 'ready', schemas: [1] },
    ];
    for (const k of ['KEPS', 'ABCD', 'ZZZZ', 'QWER']) expect(placeGame(k, ms, 1)).toBe('b');
    expect(eligible(ms, 1).map((c) => c.id)).toEqual(['b']);
  });

  it('spreads games over members', () => {
    const ms: Candidate[] = ['n1', 'n2', 'n3'].map((id) => ({ id, state: 'ready', schemas: [1] }));
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = String.fromCharCode(
        65 + (i % 26),
        65 + (((i / 26) % 26) | 0),
        65 + (((i / 676) % 26) | 0),
        65 + (((i / 17576) % 26) | 0),
      );
      const id = placeGame(key, ms, 1)!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of ['n1', 'n2', 'n3']) expect(counts.get(id)).toBeGreaterThan(800);
  });

  it('prefers the newest release during a rolling update, whatever the hash says', () => {
    const ms: Candidate[] = [
      { id: 'old1', state: 'ready', schemas: [1, 2], version: '0.9.3' },
      { id: 'old2', state: 'ready', schemas: [1, 2], version: '0.9.3' },
      { id: 'new1', state: 'ready', schemas: [1, 2], version: '0.10.0' },
    ];
    for (const k of ['KEPS', 'ABCD', 'ZZZZ', 'QWER', 'MNOP'])
      expect(placeGame(k, ms, 1)).toBe('new1');
    expect(
      placeGame(
        'KEPS',
        ms.map((m) => ({ ...m, version: '1.0.0' })),
        1,
      ),
    ).not.toBeNull();
  });

  it('ranks every eligible member exactly once', () => {
    fc.assert(
      fc.property(code, members, (key, ms) => {
        const ranked = rankFor(key, ms, 1);
        expect(new Set(ranked).size).toBe(ranked.length);
        expect(ranked.length).toBe(eligible(ms, 1).length);
      }),
    );
  });
});
