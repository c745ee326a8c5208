// Every password hash passes one gate: at most `concurrency` at once, at most `waiting` more in
// line, and the next is refused at once (HashingBusy, answered 503) instead of queueing on.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  gatePasswords,
  HashingBusy,
  passwordChecksPerAddress,
} from '../../../src/web/password-gate.js';

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

describe('password checks per address', () => {
  /** A request from `ip`, its answer, and what the middleware passed on. */
  function request(ip: string) {
    const res = new EventEmitter();
    const passed: unknown[] = [];
    return {
      req: { ip },
      res,
      next: (err?: unknown) => passed.push(err ?? 'next'),
      passed,
      finish: () => res.emit('close'),
    };
  }

  it('lets one address have `perAddress` in progress at once, and others theirs', () => {
    const checks = passwordChecksPerAddress(2);
    const run = (ip: string) => {
      const r = request(ip);
      checks(r.req, r.res, r.next);
      return r;
    };
    const [a1, a2, a3] = [run('203.0.113.7'), run('203.0.113.7'), run('203.0.113.7')];
    expect(a1.passed).toEqual(['next']);
    expect(a2.passed).toEqual(['next']);
    expect(a3.passed[0]).toBeInstanceOf(HashingBusy);
    // Another address is not held back by the first.
    expect(run('198.51.100.1').passed).toEqual(['next']);
    // IPv6 addresses of one /56 are one client, as for the rate limits.
    expect(run('2001:db8:0:1::1').passed).toEqual(['next']);
    expect(run('2001:db8:0:1::2').passed).toEqual(['next']);
    expect(run('2001:db8:0:1::3').passed[0]).toBeInstanceOf(HashingBusy);
    // One answered: room for the next, and only one.
    a1.finish();
    expect(run('203.0.113.7').passed).toEqual(['next']);
    expect(run('203.0.113.7').passed[0]).toBeInstanceOf(HashingBusy);
    // A refused request's own close frees nothing it never held.
    a3.finish();
    expect(run('203.0.113.7').passed[0]).toBeInstanceOf(HashingBusy);
    a2.finish();
    expect(run('203.0.113.7').passed).toEqual(['next']);
  });
});
