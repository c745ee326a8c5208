import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GameState } from '../../../src/game/types.js';
import { compareVersion } from '../../../src/replication/record.js';
import { Snapshots, type Snapshot } from '../../../src/db/snapshots.js';
import { tempDb, type TempDb } from './helpers.js';

/** The snapshot layer treats state as opaque JSON; a marker is enough to tell versions apart. */
function snap(epoch: number, owner: string, seq: number, overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    code: 'KEPS',
    gameId: 'game-1',
    owner,
    epoch,
    seq,
    schema: 1,
    state: { id: 'game-1', code: 'KEPS', round: seq, marker: `${epoch}/${owner}/${seq}` } as unknown as GameState,
    ...overrides,
  };
}

describe('Snapshots', () => {
  let tmp: TempDb;
  let snapshots: Snapshots;

  beforeEach(() => {
    tmp = tempDb();
    snapshots = new Snapshots(tmp.open(), { now: () => 42 });
  });
  afterEach(() => tmp.cleanup());

  it('saves and lists snapshots with parsed state', () => {
    const s = snap(1, 'a1', 3);
    expect(snapshots.save(s)).toBe(true);
    expect(snapshots.all()).toEqual([{ ...s, updatedAt: 42 }]);
  });

  it('overwrites only with a newer version: epoch, then owner, then seq', () => {
    snapshots.save(snap(2, 'b', 5));
    expect(snapshots.save(snap(2, 'b', 4))).toBe(false); // older seq
    expect(snapshots.save(snap(1, 'z', 99))).toBe(false); // older epoch
    expect(snapshots.save(snap(2, 'a', 99))).toBe(false); // rival adopter that loses the tie
    expect(snapshots.save(snap(2, 'b', 5))).toBe(false); // the same version again
    expect(snapshots.all()[0]!.state).toMatchObject({ marker: '2/b/5' });
    expect(snapshots.save(snap(2, 'b', 6))).toBe(true);
    expect(snapshots.save(snap(3, 'a', 0))).toBe(true);
    expect(snapshots.all()[0]).toMatchObject({ epoch: 3, owner: 'a', seq: 0 });
  });

  it('keeps the newest version whatever the order of saves, across handles (property)', () => {
    const other = new Snapshots(tmp.open());
    const version = fc.record({
      epoch: fc.integer({ min: 0, max: 3 }),
      owner: fc.constantFrom('a1', 'b2', 'c3'),
      seq: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 20 }), (versions) => {
        snapshots.remove('KEPS', 'game-1');
        versions.forEach((v, i) => (i % 2 ? other : snapshots).save(snap(v.epoch, v.owner, v.seq)));
        const newest = [...versions].sort(compareVersion).at(-1)!;
        const saved = snapshots.all();
        expect(saved).toHaveLength(1);
        expect(saved[0]).toMatchObject(newest);
      }),
      { numRuns: 100 },
    );
  });

  it('removes a snapshot only for the game it belongs to', () => {
    snapshots.save(snap(1, 'a', 1));
    expect(snapshots.remove('KEPS', 'another-game')).toBe(false);
    expect(snapshots.all()).toHaveLength(1);
    expect(snapshots.remove('KEPS', 'game-1')).toBe(true);
    expect(snapshots.all()).toEqual([]);
  });

  it('keeps games apart by code', () => {
    snapshots.save(snap(1, 'a', 1));
    snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
    expect(snapshots.all().map((s) => s.code)).toEqual(['KEPS', 'ZORB']);
  });

  it('skips a row whose state cannot be parsed', () => {
    snapshots.save(snap(1, 'a', 1));
    snapshots.save(snap(1, 'a', 1, { code: 'ZORB', gameId: 'game-2' }));
    tmp.open().prepare(`UPDATE snapshots SET state = '{broken' WHERE code = 'ZORB'`).run();
    expect(snapshots.all().map((s) => s.code)).toEqual(['KEPS']);
  });
});
