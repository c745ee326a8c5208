// Every password hash passes one gate: at most `concurrency` at once, at most `waiting` more in
// line, and the next is refused at once (HashingBusy, answered 503) instead of queueing on.

import { describe, expect, it } from 'vitest';
import { gatePasswords, HashingBusy } from '../../../src/web/password-gate.js';

/** Password functions whose every call waits until the test lets it finish. */
function heldPasswords() {
  const running: (() => void)[] = [];
  const started = { count: 0 };
  const held =
    <R>(value: R) =>
    (): Promise<R> =>
      new Promise((resolve) => {
        started.count++;
        running.push(() => resolve(value));
      });
  return {
    running,
    started,
    passwords: {
      hash: held('scrypt$hash'),
      verify: held(true),
      dummyVerify: held(false),
      needsRehash: () => false,
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('password gate', () => {
  it('runs at most `concurrency` hashes at once, lets `waiting` more wait, and refuses the next', async () => {
    const h = heldPasswords();
    const gate = gatePasswords(h.passwords, { concurrency: 2, waiting: 3 });
    const calls = [
      gate.verify('pw', 'stored'),
      gate.dummyVerify('pw'),
      gate.hash('pw'),
      gate.verify('pw', 'stored'),
      gate.hash('pw'),
    ];
    await tick();
    expect(h.started.count).toBe(2);
    await expect(gate.dummyVerify('pw')).rejects.toBeInstanceOf(HashingBusy);
    // One finishes: the first in line starts, and there is room in line again.
    h.running.shift()!();
    await tick();
    expect(h.started.count).toBe(3);
    const late = gate.verify('pw', 'stored');
    while (h.running.length) {
      h.running.shift()!();
      await tick();
    }
    expect(await Promise.all([...calls, late])).toEqual([
      true,
      false,
      'scrypt$hash',
      true,
      'scrypt$hash',
      true,
    ]);
    expect(h.started.count).toBe(6);
  });
});
