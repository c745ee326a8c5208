import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Replica, compareRecords, type DigestEntry } from '../../../src/replication/replica.js';
import { compareVersion, type StoreRecord as GameRecord } from '../../../src/replication/record.js';
import { contents, record } from './helpers.js';

describe('Replica', () => {
  it('keeps the greater version per key and reports what happened', () => {
    const r = new Replica();
    expect(r.apply(record('KEPS', 1, 'a', 1))).toBe('applied');
    expect(r.apply(record('KEPS', 1, 'a', 1))).toBe('duplicate');
    expect(r.apply(record('KEPS', 1, 'a', 0))).toBe('stale');
    expect(r.apply(record('KEPS', 1, 'a', 2))).toBe('applied');
    // A higher epoch wins whatever its seq; the owner id breaks a tie between rival adopters.
    expect(r.apply(record('KEPS', 2, 'a', 0))).toBe('applied');
    expect(r.apply(record('KEPS', 2, 'b', 0))).toBe('applied');
    expect(r.apply(record('KEPS', 2, 'a', 99))).toBe('stale');
    expect(r.apply(record('KEPS', 1, 'z', 99))).toBe('stale');
    expect(r.get('KEPS')).toMatchObject({ epoch: 2, owner: 'b', seq: 0 });
    expect(r.size).toBe(1);
  });

  it('hides tombstones from get() and live() but keeps them for ordering', () => {
    const r = new Replica();
    r.apply(record('AAAA', 1, 'a', 1));
    r.apply(record('BBBB', 1, 'a', 1));
    expect(r.apply(record('AAAA', 1, 'a', 2, { tombstone: true }))).toBe('applied');
    expect(r.get('AAAA')).toBeUndefined();
    expect(r.getAny('AAAA')?.state).toBeNull();
    expect(r.live().map((x) => x.key)).toEqual(['BBBB']);
    expect(r.size).toBe(2);
    expect(r.tombstones).toBe(1);
    // A late write from before the game finished cannot bring it back.
    expect(r.apply(record('AAAA', 1, 'a', 1))).toBe('stale');
    expect(r.get('AAAA')).toBeUndefined();
    // A new game reusing the code starts above the tombstone's epoch.
    expect(r.apply(record('AAAA', 2, 'b', 0))).toBe('applied');
    expect(r.tombstones).toBe(0);
    expect(r.get('AAAA')?.owner).toBe('b');
  });

  it('get() of an absent key is undefined', () => {
    const r = new Replica();
    expect(r.get('NOPE')).toBeUndefined();
    expect(r.getAny('NOPE')).toBeUndefined();
    expect(r.live()).toEqual([]);
  });

  it('digests every key, tombstones included, sorted by key', () => {
    const r = new Replica();
    r.apply(record('CCCC', 3, 'c', 7));
    r.apply(record('AAAA', 1, 'a', 1, { tombstone: true }));
    r.apply(record('BBBB', 2, 'b', 0));
    expect(r.digest()).toEqual([
      ['AAAA', 1, 'a', 1],
      ['BBBB', 2, 'b', 0],
      ['CCCC', 3, 'c', 7],
    ]);
    expect(r.digest({ from: 'BBBB', to: 'CCCC' })).toEqual([['BBBB', 2, 'b', 0]]);
  });

  it('compare() finds what each side has newer', () => {
    const r = new Replica();
    r.apply(record('AAAA', 1, 'a', 5)); // newer here
    r.apply(record('BBBB', 1, 'a', 1)); // newer there
    r.apply(record('CCCC', 1, 'a', 1)); // equal
    r.apply(record('DDDD', 1, 'a', 1)); // absent there
    const remote: DigestEntry[] = [
      ['AAAA', 1, 'a', 4],
      ['BBBB', 2, 'b', 0],
      ['CCCC', 1, 'a', 1],
      ['EEEE', 1, 'b', 0], // absent here
    ];
    const { newerHere, newerThere } = r.compare(remote);
    expect(newerHere.map((x) => x.key).sort()).toEqual(['AAAA', 'DDDD']);
    expect(newerThere.sort()).toEqual(['BBBB', 'EEEE']);
    // With a range, keys outside it are not taken as missing remotely.
    const ranged = r.compare([['AAAA', 1, 'a', 5]], { to: 'BBBB' });
    expect(ranged).toEqual({ newerHere: [], newerThere: [] });
    // A key named more than once (only a peer that misbehaves does) is answered once.
    const twice = r.compare([
      ['AAAA', 1, 'a', 4],
      ['AAAA', 1, 'a', 4],
      ['EEEE', 1, 'b', 0],
      ['EEEE', 1, 'b', 0],
    ]);
    expect(twice.newerHere.map((x) => x.key).sort()).toEqual(['AAAA', 'BBBB', 'CCCC', 'DDDD']);
    expect(twice.newerThere).toEqual(['EEEE']);
  });

  it('compact() drops only tombstones older than the TTL', () => {
    const r = new Replica();
    r.apply(record('AAAA', 1, 'a', 1, { tombstone: true, at: 1000 }));
    r.apply(record('BBBB', 1, 'a', 1, { tombstone: true, at: 5000 }));
    r.apply(record('CCCC', 1, 'a', 1, { at: 0 }));
    expect(r.compact(6000, 2000)).toEqual(['AAAA']);
    expect(r.getAny('AAAA')).toBeUndefined();
    expect(r.getAny('BBBB')).toBeDefined();
    expect(r.get('CCCC')).toBeDefined();
    expect(r.tombstones).toBe(1);
    expect(r.compact(7001, 2000)).toEqual(['BBBB']);
    expect(r.size).toBe(1);
    expect(r.tombstones).toBe(0);
  });

  it('stores one record per key however many writes it sees', () => {
    const r = new Replica();
    for (let seq = 0; seq < 1000; seq++) r.apply(record('KEPS', 1, 'a', seq));
    expect(r.size).toBe(1);
    expect(r.all()).toHaveLength(1);
  });
});

// ── properties ──────────────────────────────────────────────────────────────────────────

const KEYS = ['AAAA', 'BBBB', 'CCCC', 'DDDD'];
const OWNERS = ['a', 'b', 'c'];

/** A write: a version, its record derived from it (tombstone or live chosen by the version). */
const arbRecord: fc.Arbitrary<GameRecord> = fc
  .record({
    key: fc.constantFrom(...KEYS),
    epoch: fc.nat(3),
    owner: fc.constantFrom(...OWNERS),
    seq: fc.nat(6),
  })
  .map(({ key, epoch, owner, seq }) =>
    record(key, epoch, owner, seq, {
      tombstone: (epoch * 7 + seq + owner.charCodeAt(0)) % 5 === 0,
    }),
  );

/** A delivery schedule: every op at least once, some twice or more, in a random order. */
function arbSchedule(ops: GameRecord[]): fc.Arbitrary<GameRecord[]> {
  return fc
    .array(fc.nat(ops.length === 0 ? 0 : ops.length - 1), { maxLength: ops.length * 2 })
    .chain((extra) =>
      fc.shuffledSubarray([...ops, ...extra.map((i) => ops[i] as GameRecord)], {
        minLength: ops.length + extra.length,
      }),
    );
}

function model(ops: GameRecord[]): Map<string, GameRecord> {
  const m = new Map<string, GameRecord>();
  for (const op of ops) {
    const held = m.get(op.key);
    if (held === undefined || compareVersion(op, held) > 0) m.set(op.key, op);
  }
  return m;
}

describe('Replica properties', () => {
  it('converges: the same ops in any order, with duplicates, give the same map', () => {
    const arb = fc
      .array(arbRecord, { maxLength: 40 })
      .chain((ops) =>
        fc.tuple(fc.constant(ops), arbSchedule(ops), arbSchedule(ops), arbSchedule(ops)),
      );
    fc.assert(
      fc.property(arb, ([ops, ...schedules]) => {
        const replicas = schedules.map((schedule) => {
          const r = new Replica();
          for (const op of schedule) r.apply(op);
          return r;
        });
        const expected = contents(replicas[0] as Replica);
        for (const r of replicas) expect(contents(r)).toEqual(expected);
        expect(expected).toEqual([...model(ops).values()].sort((a, b) => (a.key < b.key ? -1 : 1)));
      }),
      { numRuns: 300 },
    );
  });

  it('behaves like a plain map that keeps the max by compareVersion', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 60 }), (ops) => {
        const r = new Replica();
        const m = new Map<string, GameRecord>();
        for (const op of ops) {
          const held = m.get(op.key);
          const order = held === undefined ? 1 : compareVersion(op, held);
          const expected = order > 0 ? 'applied' : order === 0 ? 'duplicate' : 'stale';
          expect(r.apply(op)).toBe(expected);
          if (order > 0) m.set(op.key, op);
          for (const key of KEYS) {
            const want = m.get(key);
            expect(r.getAny(key)).toEqual(want);
            expect(r.get(key)).toEqual(want?.state === null ? undefined : want);
          }
          expect(r.size).toBe(m.size);
          expect(r.tombstones).toBe([...m.values()].filter((x) => x.state === null).length);
          expect(r.live().length).toBe(m.size - r.tombstones);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('converges even when a buggy writer reuses a version for different records', () => {
    const arbConflicting = fc
      .record({
        key: fc.constantFrom('AAAA', 'BBBB'),
        seq: fc.nat(2),
        at: fc.nat(2),
        tombstone: fc.boolean(),
        payload: fc.constantFrom('x', 'y', 'z'),
      })
      .map(({ key, seq, at, tombstone, payload }) =>
        record(key, 1, 'a', seq, { tombstone, at, payload }),
      );
    const arb = fc
      .array(arbConflicting, { maxLength: 30 })
      .chain((ops) => fc.tuple(fc.constant(ops), arbSchedule(ops), arbSchedule(ops)));
    fc.assert(
      fc.property(arb, ([ops, first, second]) => {
        const a = new Replica();
        const b = new Replica();
        for (const op of first) a.apply(op);
        for (const op of second) b.apply(op);
        expect(contents(a)).toEqual(contents(b));
        const m = new Map<string, GameRecord>();
        for (const op of ops) {
          const held = m.get(op.key);
          if (held === undefined || compareRecords(op, held) > 0) m.set(op.key, op);
        }
        expect(contents(a)).toEqual([...m.values()].sort((x, y) => (x.key < y.key ? -1 : 1)));
      }),
      { numRuns: 300 },
    );
  });

  it('compare() + apply repairs any two divergent replicas to equality', () => {
    fc.assert(
      fc.property(
        fc.array(arbRecord, { maxLength: 40 }),
        fc.array(arbRecord, { maxLength: 40 }),
        fc.boolean(),
        (left, right, ranged) => {
          const a = new Replica();
          const b = new Replica();
          for (const op of left) a.apply(op);
          for (const op of right) b.apply(op);
          // B sends its digest (whole, or split into two key ranges); A answers; B sends wants.
          const parts = ranged ? [{ to: 'CCCC' }, { from: 'CCCC' }] : [undefined];
          for (const range of parts) {
            const { newerHere, newerThere } = a.compare(b.digest(range), range);
            for (const rec of newerHere) b.apply(rec);
            for (const key of newerThere) a.apply(b.getAny(key) as GameRecord);
          }
          expect(contents(a)).toEqual(contents(b));
          expect(a.compare(b.digest())).toEqual({ newerHere: [], newerThere: [] });
          const expected = [...model([...left, ...right]).values()].sort((x, y) =>
            x.key < y.key ? -1 : 1,
          );
          expect(contents(a)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
