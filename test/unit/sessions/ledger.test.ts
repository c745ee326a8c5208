// The ledger's group commit: saves asked for in one moment go to the database in one statement,
// and each caller hears the outcome of its own record, as if it had been saved alone.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/clock.js';
import { openStorage, type Snapshot, type Storage } from '../../../src/db/index.js';
import type { GameState } from '../../../src/game/types.js';
import type { GameRecord } from '../../../src/sessions/game-record.js';
import { Ledger, type LeaseStore, type SnapshotStore } from '../../../src/sessions/ledger.js';

const logger = pino({ level: 'silent' });
const stores: Storage[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function record(key: string, epoch: number, owner: string, seq: number): GameRecord {
  return {
    key,
    owner,
    epoch,
    seq,
    schema: 3,
    at: 1,
    state: { id: `game-${key}`, code: key, round: seq } as unknown as GameState,
  };
}

/**
 * The real snapshot store on SQLite in memory, counting statements, and able to fail or hold them.
 */
async function store() {
  const storage = openStorage({ engine: 'sqlite', path: ':memory:' }, { logger });
  await storage.migrate();
  stores.push(storage);
  const calls: string[][] = [];
  const ctl = { failing: false, hold: null as Promise<void> | null };
  const snapshots: SnapshotStore = {
    save: (s) =>
      ctl.failing ? Promise.reject(new Error('database down')) : storage.snapshots.save(s),
    async saveMany(list: readonly Snapshot[]) {
      calls.push(list.map((s) => `${s.code}@${s.epoch}/${s.owner}/${s.seq}`));
      if (ctl.hold) await ctl.hold;
      if (ctl.failing) throw new Error('database down');
      return storage.snapshots.saveMany(list);
    },
    claim: (c, b, n) => storage.snapshots.claim(c, b, n),
    get: (c) => storage.snapshots.get(c),
    heads: () => storage.snapshots.heads(),
    remove: (c, g) => storage.snapshots.remove(c, g),
  };
  const ledger = new Ledger({
    nodeId: 'n1',
    snapshots,
    leases: storage.leases,
    clock: systemClock,
    logger,
    leaseMs: 3000,
  });
  return { storage, ledger, calls, ctl };
}

describe('Ledger group commit', () => {
  it('writes the saves of one moment in one statement; each caller gets its own outcome', async () => {
    const { storage, ledger, calls } = await store();
    await storage.snapshots.save({
      code: 'OLDR',
      gameId: 'game-OLDR',
      owner: 'n2',
      epoch: 5,
      seq: 0,
      schema: 3,
      state: { id: 'game-OLDR' } as unknown as GameState,
    });
    await ledger.save(record('SAME', 1, 'n1', 3));
    calls.length = 0;
    const outcomes = await Promise.all([
      ledger.save(record('KEPS', 1, 'n1', 1)), // new
      ledger.save(record('OLDR', 4, 'n1', 9)), // a newer owner saved epoch 5: fenced
      ledger.save(record('SAME', 1, 'n1', 3)), // this very version again: saved
      ledger.save(record('ZORB', 1, 'n1', 0)),
    ]);
    expect(outcomes).toEqual(['saved', 'newer', 'saved', 'saved']);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(4);
    expect(await storage.snapshots.get('OLDR')).toMatchObject({ epoch: 5, owner: 'n2' });
  });

  it('answers nobody before the statement that holds their record has finished', async () => {
    const { ledger, calls, ctl } = await store();
    let release!: () => void;
    ctl.hold = new Promise((r) => (release = r));
    let answered = false;
    const saved = ledger.save(record('KEPS', 1, 'n1', 1)).then((r) => ((answered = true), r));
    // The statement holding the record has reached the database, which holds it there.
    await expect.poll(() => calls, { timeout: 5000, interval: 5 }).toEqual([['KEPS@1/n1/1']]);
    expect(answered).toBe(false);
    release();
    expect(await saved).toBe('saved');
  });

  it("puts a game's second save of the moment in the next statement, so the later version wins", async () => {
    const { storage, ledger, calls } = await store();
    const [a, b] = await Promise.all([
      ledger.save(record('KEPS', 1, 'n1', 1)),
      ledger.save(record('KEPS', 1, 'n1', 2)),
    ]);
    expect([a, b]).toEqual(['saved', 'saved']);
    expect(calls).toEqual([['KEPS@1/n1/1'], ['KEPS@1/n1/2']]);
    expect(await storage.snapshots.get('KEPS')).toMatchObject({ seq: 2 });
  });

  it('keeps every save of a failed statement and writes them once the database answers', async () => {
    const { storage, ledger, ctl } = await store();
    ctl.failing = true;
    expect(
      await Promise.all([
        ledger.save(record('KEPS', 1, 'n1', 1)),
        ledger.save(record('ZORB', 1, 'n1', 1)),
      ]),
    ).toEqual(['unavailable', 'unavailable']);
    expect(ledger.available).toBe(false);
    expect(ledger.unsaved).toBe(2);
    ctl.failing = false;
    // While the database is known to be away only the lease renewal asks it; it then writes them.
    expect(await ledger.flush()).toBe(0);
    await ledger.renew('127.0.0.1:1', 'ready');
    expect(ledger.available).toBe(true);
    expect(ledger.unsaved).toBe(0);
    expect((await storage.snapshots.all()).map((s) => s.code)).toEqual(['KEPS', 'ZORB']);
  });

  it('a stopping node waits for the database until its deadline, then reports what is left', async () => {
    const { storage, ledger, ctl } = await store();
    ctl.failing = true;
    await ledger.save(record('KEPS', 1, 'n1', 1));
    await ledger.save(record('ZORB', 1, 'n1', 4));
    expect(ledger.unsaved).toBe(2);
    // Away past the deadline: both still unsaved when it passes, and no later.
    const t0 = Date.now();
    expect(await ledger.saveUnsaved(t0 + 300, 50)).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(2000);
    // Back within the deadline: written as soon as it answers.
    setTimeout(() => (ctl.failing = false), 200).unref();
    expect(await ledger.saveUnsaved(Date.now() + 5000, 50)).toBe(0);
    expect(ledger.available).toBe(true);
    expect((await storage.snapshots.all()).map((s) => `${s.code}@${s.seq}`)).toEqual([
      'KEPS@1',
      'ZORB@4',
    ]);
  });

  it('after an outage, counts a lease that ran out during it as alive until its owner could renew', async () => {
    let now = 1_000_000;
    const storage = openStorage({ engine: 'sqlite', path: ':memory:' }, { logger, now: () => now });
    await storage.migrate();
    stores.push(storage);
    const clock = { now: () => now, setTimeout: () => ({ timer: null }), clearTimeout: () => {} };
    const db = { down: false };
    const leases: LeaseStore = {
      renew: (...a) => (db.down ? Promise.reject(new Error('down')) : storage.leases.renew(...a)),
      get: (id) => (db.down ? Promise.reject(new Error('down')) : storage.leases.get(id)),
      fresh: (since) => storage.leases.fresh(since),
      release: (id) => storage.leases.release(id),
    };
    const ledger = new Ledger({
      nodeId: 'n2',
      snapshots: storage.snapshots,
      leases,
      clock,
      logger,
      leaseMs: 3000,
    });
    // n1 owns KEPS and renewed its lease, then the database went away for 10 s.
    await storage.leases.renew('n1', '127.0.0.2:1', 'ready');
    await storage.snapshots.save({ ...toSnap(record('KEPS', 1, 'n1', 4)) });
    const next = record('KEPS', 2, 'n2', 0);
    db.down = true;
    await ledger.renew('127.0.0.3:1', 'ready');
    expect(ledger.available).toBe(false);
    now += 10_000;
    db.down = false;
    await ledger.renew('127.0.0.3:1', 'ready');
    expect(ledger.available).toBe(true);
    // n1's lease ran out during the outage, but n1 has not had a chance to renew since.
    expect(await ledger.claim(version4(), next, true)).toBe('owner-alive');
    now += 2000;
    expect(await ledger.claim(version4(), next, true)).toBe('owner-alive');
    // A lease period (and the margin) after the database came back, n1 never renewed: dead.
    now += 2100;
    expect(await ledger.claim(version4(), next, true)).toBe('claimed');
  });
});

describe('Ledger takeover while a lease holder is out of reach', () => {
  const now = 1_000_000;
  /** The database's clock: `now`, but for renewals stamped earlier (`renewAt`). */
  let dbNow = now;

  /** n3's ledger on a fresh database, at a fixed time; `reachable`: its live peers. */
  async function n3Ledger(reachable: (id: string) => boolean) {
    const storage = openStorage(
      { engine: 'sqlite', path: ':memory:' },
      { logger, now: () => dbNow },
    );
    await storage.migrate();
    stores.push(storage);
    const clock = { now: () => now, setTimeout: () => ({ timer: null }), clearTimeout: () => {} };
    const ledger = new Ledger({
      nodeId: 'n3',
      snapshots: storage.snapshots,
      leases: storage.leases,
      clock,
      logger,
      leaseMs: 3000,
      reachable,
    });
    /** `id` renews its lease at `at` (by the database's clock). */
    const renewAt = async (id: string, address: string, state: string, at: number) => {
      dbNow = at;
      try {
        await storage.leases.renew(id, address, state);
      } finally {
        dbNow = now;
      }
    };
    return { storage, ledger, renewAt };
  }

  it("claims a dead owner's game only while every other node holding a lease is a live peer", async () => {
    const reachable = new Set<string>();
    const { storage, ledger, renewAt } = await n3Ledger((id) => reachable.has(id));
    // n1 owned KEPS and lost the database (its lease ran out); n2 still renews and may hold
    // n1's later writes, acknowledged through it; n4 is starting (it holds no game yet).
    await renewAt('n1', '127.0.0.2:1', 'ready', now - 5000);
    await renewAt('n2', '127.0.0.3:1', 'ready', now - 500);
    await renewAt('n4', '127.0.0.5:1', 'starting', now - 100);
    await storage.snapshots.save({ ...toSnap(record('KEPS', 1, 'n1', 4)) });
    const next = record('KEPS', 2, 'n3', 0);
    expect(await ledger.claim(version4(), next, true)).toEqual({ unreachable: 'n2' });
    expect((await storage.snapshots.get('KEPS'))?.owner).toBe('n1');
    // A draining node may hold them as well.
    await renewAt('n2', '127.0.0.3:1', 'draining', now - 500);
    expect(await ledger.claim(version4(), next, true)).toEqual({ unreachable: 'n2' });
    // Once n2 is a live peer, its writes reach us by the catch-up before a takeover: claimed.
    reachable.add('n2');
    expect(await ledger.claim(version4(), next, true)).toBe('claimed');
    expect((await storage.snapshots.get('KEPS'))?.owner).toBe('n3');
  });

  it('a handoff claims without asking about other nodes', async () => {
    const { storage, ledger, renewAt } = await n3Ledger(() => false);
    await renewAt('n2', '127.0.0.3:1', 'ready', now - 500);
    await storage.snapshots.save({ ...toSnap(record('KEPS', 1, 'n1', 4)) });
    expect(await ledger.claim(version4(), record('KEPS', 2, 'n3', 0), false)).toBe('claimed');
  });
});

function version4() {
  return { epoch: 1, owner: 'n1', seq: 4 };
}

function toSnap(r: GameRecord): Snapshot {
  return {
    code: r.key,
    gameId: (r.state as GameState).id,
    owner: r.owner,
    epoch: r.epoch,
    seq: r.seq,
    schema: r.schema,
    state: r.state as GameState,
    at: r.at,
  };
}

describe("Ledger.persistCopy (a peer saves an owner's write the owner could not save)", () => {
  it('saves it over an older row, counts an equal or later write of the same run as saved, and names a newer owner', async () => {
    const { storage, ledger, ctl } = await store();
    await storage.snapshots.save(toSnap(record('BHND', 1, 'n2', 3))); // the owner saved seq 3
    await storage.snapshots.save(toSnap(record('NEWR', 2, 'n3', 0))); // taken over since
    await storage.snapshots.save(toSnap(record('LATR', 1, 'n2', 8))); // a later write saved
    expect(await ledger.persistCopy(record('BHND', 1, 'n2', 9))).toBe('saved');
    expect((await storage.snapshots.get('BHND'))?.seq).toBe(9);
    expect(await ledger.persistCopy(record('BHND', 1, 'n2', 9))).toBe('saved'); // sent again
    expect(await ledger.persistCopy(record('LATR', 1, 'n2', 7))).toBe('saved');
    expect((await storage.snapshots.get('LATR'))?.seq).toBe(8);
    // An older epoch never wins: the writer learns the version that beat it.
    expect(await ledger.persistCopy(record('NEWR', 1, 'n2', 12))).toEqual({
      newer: { epoch: 2, owner: 'n3', seq: 0 },
    });
    expect((await storage.snapshots.get('NEWR'))?.epoch).toBe(2);
    // A game's first write (no row yet) is saved too: its owner asked for it.
    expect(await ledger.persistCopy(record('FRST', 1, 'n2', 0))).toBe('saved');
    expect((await storage.snapshots.get('FRST'))?.owner).toBe('n2');
    // The database away: 'unavailable', nothing thrown.
    ctl.failing = true;
    expect(await ledger.persistCopy(record('BHND', 1, 'n2', 10))).toBe('unavailable');
  });
});

describe('Ledger lease timing (how long a node trusts its own lease, and how often it renews it)', () => {
  it('renews often enough that a lease stays trusted for a whole late renewal, short leases included', async () => {
    const storage = openStorage({ engine: 'sqlite', path: ':memory:' }, { logger });
    await storage.migrate();
    stores.push(storage);
    for (const leaseMs of [1000, 1500, 2000, 3000, 10_000]) {
      let t = Date.now();
      const clock: Clock = { now: () => t, setTimeout: () => ({ timer: 0 }), clearTimeout() {} };
      const ledger = new Ledger({
        nodeId: `n${leaseMs}`,
        snapshots: storage.snapshots,
        leases: storage.leases,
        clock,
        logger,
        leaseMs,
      });
      const sent = t;
      await ledger.renew('127.0.0.2:4000', 'ready');
      // The next renewal is sent `renewEveryMs` later; one that comes a whole period late (a busy
      // event loop, a slow database) still lands while this one is trusted. Before, a lease of
      // 2 s or less was trusted for a second or less after a renewal sent every second: a node
      // alone resolved its rounds late, or never.
      t = sent + 2 * ledger.renewEveryMs - 1;
      expect(ledger.leaseFresh(), `lease ${leaseMs} ms`).toBe(true);
      // Never past the lease itself: by then another node may have taken its games over.
      t = sent + leaseMs;
      expect(ledger.leaseFresh(), `lease ${leaseMs} ms`).toBe(false);
      // The default (3 s) keeps its second of margin and its renewal a second.
      if (leaseMs >= 3000) expect(ledger.renewEveryMs).toBe(1000);
    }
  });
});
