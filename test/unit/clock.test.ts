// The node's steered clock: the host's time less the offset measured against the database's,
// moved only in steps it can trust.

import { describe, expect, it } from 'vitest';
import { SteeredClock, afterInput, type Clock } from '../../src/clock.js';

describe('SteeredClock', () => {
  it('reads the host clock until a measurement moves it, then the host clock less the offset', () => {
    let host = 1_000_000;
    const clock = new SteeredClock(() => host);
    expect(clock.now()).toBe(1_000_000);
    clock.steer(20_000, 4);
    expect(clock.correctionMs).toBe(20_000);
    expect(clock.now()).toBe(980_000);
    host += 1500; // durations between steps are the host's
    expect(clock.now()).toBe(981_500);
    clock.steer(-30_000, 4); // the host's clock stepped back (its own NTP, say)
    expect(clock.now()).toBe(1_011_500);
  });

  it('leaves small offsets and uncertain measurements alone', () => {
    const clock = new SteeredClock(() => 0);
    clock.steer(240, 10); // within the step
    clock.steer(-250, 0);
    clock.steer(300, 120); // within the step and half the round trip
    clock.steer(5000, 500); // a slow round trip: too uncertain
    expect(clock.correctionMs).toBe(0);
    clock.steer(300, 90);
    expect(clock.correctionMs).toBe(300);
  });
});

describe('afterInput', () => {
  it('uses setImmediate on real clocks and a 0-ms timer on a virtual one', async () => {
    const steered = new SteeredClock();
    let timers = 0;
    const original = steered.setTimeout.bind(steered);
    steered.setTimeout = (fn, ms) => (timers++, original(fn, ms));
    await new Promise<void>((resolve) => afterInput(steered)(resolve));
    expect(timers).toBe(0);

    const asked: number[] = [];
    const virtual: Clock = {
      now: () => 0,
      setTimeout: (fn, ms) => (asked.push(ms), fn(), { timer: null }),
      clearTimeout: () => undefined,
    };
    let ran = false;
    afterInput(virtual)(() => (ran = true));
    expect(asked).toEqual([0]);
    expect(ran).toBe(true);
  });
});
