// The failure detector over random heartbeat schedules: live peers are never declared down,
// silent ones always are within a bounded time, and our own stalls make us suspect (never
// the peers) until a fresh round trip with every peer.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureDetector, type Verdict } from '../../../src/cluster/failure-detector.js';

const HB = 500;
const DOWN = 3000;
const GRACE = 1000;

function detector(): FailureDetector {
  return new FailureDetector({ heartbeatMs: HB, downAfterMs: DOWN, reconnectGraceMs: GRACE });
}

const downs = (vs: Verdict[]) =>
  vs.filter((v) => v.kind === 'down').map((v) => (v as { peer: string }).peer);

describe('FailureDetector', () => {
  it('never declares down a peer whose heartbeats keep arriving, whatever their jitter', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: DOWN - HB - 1 }), { minLength: 5, maxLength: 80 }),
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 80, maxLength: 80 }),
        (gaps, tickJitter) => {
          const d = detector();
          d.start(0);
          d.linkUp('b', 0);
          // Heartbeats from b arrive after the given gaps (each shorter than the down limit).
          const arrivals: number[] = [];
          let t = 0;
          for (const g of gaps) arrivals.push((t += g));
          let tick = 0;
          let i = 0;
          for (let k = 0; tick < t; k++) {
            tick += HB + (tickJitter[k % tickJitter.length] ?? 0);
            while (i < arrivals.length && (arrivals[i] as number) <= tick) {
              d.heard('b', arrivals[i] as number);
              d.heartbeat('b', { t: arrivals[i] as number });
              i++;
            }
            expect(downs(d.tick(tick))).toEqual([]);
          }
        },
      ),
    );
  });

  it('declares a silent peer down after downAfterMs, within one heartbeat', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: HB - 1 }),
        (lastHeard, phase) => {
          const d = detector();
          d.start(phase);
          d.linkUp('b', 0);
          d.heard('b', lastHeard);
          let downAt: number | undefined;
          for (let now = phase + HB; now < lastHeard + 2 * DOWN; now += HB) {
            d.heard('b', Math.min(now, lastHeard));
            if (downs(d.tick(now)).includes('b')) {
              downAt = now;
              break;
            }
          }
          expect(downAt).toBeDefined();
          expect(downAt! - lastHeard).toBeGreaterThan(DOWN);
          expect(downAt! - lastHeard).toBeLessThanOrEqual(DOWN + HB);
        },
      ),
    );
  });

  it('gives a closed link the reconnect grace, then declares the peer down unless it came back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * GRACE }), fc.boolean(), (backAfter, comesBack) => {
        const d = detector();
        d.start(0);
        d.linkUp('b', 0);
        d.linkLost('b', 100);
        let down: number | undefined;
        for (let now = HB; now <= 100 + 4 * GRACE; now += HB) {
          if (comesBack && now >= 100 + backAfter && down === undefined && d.has('b'))
            d.linkUp('b', now);
          d.heard('b', now);
          if (downs(d.tick(now)).includes('b')) {
            down = now;
            d.remove('b');
          }
        }
        const restoredInTime = comesBack && backAfter < GRACE;
        if (restoredInTime) expect(down).toBeUndefined();
        if (!comesBack) {
          expect(down).toBeDefined();
          expect(down! - 100).toBeGreaterThanOrEqual(GRACE);
          expect(down! - 100).toBeLessThan(GRACE + HB);
        }
      }),
    );
  });

  it('after its own stall it declares nobody down, and is suspect until every peer echoed a fresh heartbeat', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: DOWN, max: 30_000 }),
        fc.subarray(['b', 'c', 'd'], { minLength: 1 }),
        fc.array(fc.constantFrom('b', 'c', 'd'), { maxLength: 6 }),
        (stall, peers, echoOrder) => {
          const d = detector();
          d.start(0);
          for (const p of peers) d.linkUp(p, 0);
          expect(d.isSuspect(100)).toBe(false);
          // During the stall the overdue tick has not run yet: already suspect.
          expect(d.isSuspect(stall)).toBe(true);
          const verdicts = d.tick(stall);
          expect(verdicts.some((v) => v.kind === 'stalled')).toBe(true);
          expect(downs(verdicts)).toEqual([]);
          // Heartbeats echoing times from before the stall do not count.
          for (const p of peers) d.heartbeat(p, { t: stall, ack: stall - 1 });
          expect(d.isSuspect(stall + 1)).toBe(true);
          const echoed = new Set<string>();
          let trusted = false;
          for (const p of [...echoOrder, ...peers]) {
            if (!peers.includes(p)) continue;
            const vs = d.heartbeat(p, { t: stall + 10, ack: stall });
            echoed.add(p);
            const all = peers.every((q) => echoed.has(q));
            expect(d.isSuspect(stall + 10)).toBe(!all);
            if (vs.some((v) => v.kind === 'trusted')) {
              expect(trusted).toBe(false);
              expect(all).toBe(true);
              trusted = true;
            }
          }
          expect(trusted).toBe(true);
        },
      ),
    );
  });

  it('echoes the latest heartbeat time it received from each peer', () => {
    const d = detector();
    d.linkUp('b', 0);
    expect(d.beat('b', 10)).toEqual({ t: 10 });
    d.heartbeat('b', { t: 1234 });
    expect(d.beat('b', 20)).toEqual({ t: 20, ack: 1234 });
  });

  it('refuses settings that could declare a live peer down between two heartbeats', () => {
    expect(
      () => new FailureDetector({ heartbeatMs: 500, downAfterMs: 900, reconnectGraceMs: 0 }),
    ).toThrow(/two heartbeats/);
  });
});
