// Leases across hosts whose clocks disagree: a lease is stamped and aged by the database's one
// clock (the PostgreSQL server's; on SQLite, the one host's), so a node whose own clock is set
// an hour wrong still sees a live owner's lease alive, and a dead owner's run out on time.

import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SteeredClock, systemClock, type Clock } from '../../../src/clock.js';
import type { StorageTarget } from '../../../src/db/index.js';
import { Ledger } from '../../../src/sessions/ledger.js';
import { waitFor } from '../../support/node-process.js';
import { ENGINES, engineFixture, silentLogger } from '../db/helpers.js';

const HOUR = 60 * 60 * 1000;
const LEASE_MS = 1500;

/** A logger that keeps the text of every warning it is given. */
function warningLog(): { warnings: string[]; logger: Logger } {
  const warnings: string[] = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => void warnings.push(String(JSON.parse(line).msg)) },
  );
  return { warnings, logger };
}

/** This machine's clock set `offsetMs` wrong. */
function clockOff(offsetMs: number): Clock {
  return { ...systemClock, now: () => Date.now() + offsetMs };
}

describe.each(ENGINES)('node leases on %s, with clocks an hour apart', (engine) => {
  const fx = engineFixture(engine);
  let target: StorageTarget;

  beforeAll(() => fx.setup());
  afterAll(() => fx.teardown());
  afterEach(() => fx.closeAll());

  /** The ledger of node `nodeId`, on its own handle of the database, with its clock. */
  async function node(nodeId: string, clock: Clock, logger: Logger = silentLogger) {
    const storage = await fx.openMigrated(target);
    return new Ledger({
      nodeId,
      snapshots: storage.snapshots,
      leases: storage.leases,
      clock,
      logger,
      leaseMs: LEASE_MS,
    });
  }

  it("sees a live owner's lease alive, and a stopped owner's run out, whatever its own clock says", async () => {
    target = await fx.fresh();
    const owner = await node('owner', systemClock);
    const aheadClock = clockOff(HOUR);
    const behindClock = clockOff(-HOUR);
    const ahead = await node('ahead', aheadClock);
    const behind = await node('behind', behindClock);

    const sent = Date.now(); // the database stamps the renewal no earlier
    await owner.renew('127.0.0.2:1', 'ready');
    expect(owner.leaseFresh()).toBe(true);
    // A clock an hour ahead would see the lease an hour old if it compared its time with the
    // owner's stamp; one an hour behind would see it alive for an hour after the owner died.
    expect(await ahead.ownerAlive('owner')).toBe(true);
    expect(await behind.ownerAlive('owner')).toBe(true);
    expect(await ahead.renewedSince('owner', aheadClock.now() - 5000)).toBe(true);
    expect(await behind.renewedSince('owner', behindClock.now() - 5000)).toBe(true);
    expect(await behind.renewedSince('owner', behindClock.now() + 5000)).toBe(false);
    const live = await ahead.liveNodes();
    expect(live !== 'unavailable' && live.map((l) => l.nodeId)).toEqual(['owner']);

    // The owner stops renewing: both see its lease run out once it lasted, not before.
    await waitFor(
      async () => !(await behind.ownerAlive('owner')) && !(await ahead.ownerAlive('owner')),
      10_000,
      "the stopped owner's lease to run out for both",
      20,
    );
    // (Both clocks count whole milliseconds: a millisecond either way.)
    expect(Date.now() - sent).toBeGreaterThanOrEqual(LEASE_MS - 1);
    expect(await ahead.liveNodes()).toEqual([]);
    expect(owner.leaseFresh()).toBe(false);
  });

  it("measures how far each node's clock is from the database's, and warns once when over a second", async () => {
    target = await fx.fresh();
    const { warnings, logger } = warningLog();
    const inStep = await node('in-step', systemClock, logger);
    const ahead = await node('ahead', clockOff(HOUR), logger);
    expect(ahead.clockOffsetMs).toBeNull();
    for (let i = 0; i < 3; i++) {
      await inStep.renew('127.0.0.2:1', 'ready');
      await ahead.renew('127.0.0.3:1', 'ready');
    }
    expect(Math.abs(inStep.clockOffsetMs!)).toBeLessThan(500);
    expect(Math.abs(ahead.clockOffsetMs! - HOUR)).toBeLessThan(500);
    expect(warnings).toEqual([
      "this node's clock is 3600.0 s ahead of the database's: rounds of the games it runs end by its clock; synchronise this host's clock (NTP)",
    ]);
  });

  it("keeps the database's time on a host an hour ahead (a steered clock), and trusts its lease only as long as it lasts", async () => {
    target = await fx.fresh();
    const { warnings, logger } = warningLog();
    const clock = new SteeredClock(() => Date.now() + HOUR);
    const ahead = await node('ahead', clock, logger);
    const other = await node('other', systemClock);
    expect(clock.now() - Date.now()).toBeGreaterThan(HOUR - 1000);

    const sent = Date.now();
    await ahead.renew('127.0.0.3:1', 'ready');
    // One step to the database's time; the host's offset is still what is reported.
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(300);
    expect(Math.abs(ahead.clockOffsetMs! - HOUR)).toBeLessThan(500);
    expect(warnings).toEqual([
      "this node's clock is 3600.0 s ahead of the database's: the node keeps time by the database; synchronise this host's clock (NTP)",
    ]);
    // Its own lease: trusted now, and no longer once others may take it as run out (the renewal
    // was timed before the step: an hour would have been added to its trust otherwise).
    expect(ahead.leaseFresh()).toBe(true);
    expect(await other.ownerAlive('ahead')).toBe(true);
    await waitFor(() => !ahead.leaseFresh(), 5000, 'its own lease to be no longer trusted', 20);
    expect(Date.now() - sent).toBeLessThan(LEASE_MS);
    // Later renewals agree with the step: no more steps, no more warnings.
    const correction = clock.correctionMs;
    await ahead.renew('127.0.0.3:1', 'ready');
    expect(clock.correctionMs).toBe(correction);
    expect(warnings).toHaveLength(1);
  });
});
