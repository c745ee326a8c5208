// Password hashing at OWASP's cost takes ~128 MiB and a few hundred milliseconds of a libuv
// thread-pool thread each time, and the pool (4 threads) also reads the static files and the
// DNS answers. Without a gate, a burst of logins (each with another username, so no per-account
// limit applies) queued behind each other in the pool and kept a page's script waiting 21 s.
// Here at most `concurrency` hashes run at once and at most `waiting` more wait their turn;
// past that, the request is answered 503 at once (HashingBusy) instead of queueing without end.

import type { NextFunction, Request } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import pLimit from 'p-limit';
import type { WebDeps } from './deps.js';

type Passwords = WebDeps['passwords'];

/** Thrown when the hashing queue is full: the web layer answers 503 with Retry-After. */
export class HashingBusy extends Error {
  readonly code = 'EHASHBUSY';
  readonly status = 503;
  constructor() {
    super('too many password checks waiting');
  }
}

export interface GateLimits {
  /** Hashes at once: 2 leaves half of libuv's default pool of 4 to files and DNS. */
  concurrency: number;
  /** Hashes waiting for a turn before a request is refused. */
  waiting: number;
}

export const DEFAULT_GATE: GateLimits = { concurrency: 2, waiting: 32 };

/** `passwords` with every hash (hash, verify, dummyVerify) passing through one gate. */
export function gatePasswords(passwords: Passwords, limits: GateLimits = DEFAULT_GATE): Passwords {
  const limit = pLimit(limits.concurrency);
  const gated =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      if (limit.activeCount >= limits.concurrency && limit.pendingCount >= limits.waiting)
        return Promise.reject(new HashingBusy());
      return limit(() => fn(...args));
    };
  return {
    hash: gated((password: string) => passwords.hash(password)),
    verify: gated((password: string, stored: string) => passwords.verify(password, stored)),
    dummyVerify: gated((password: string) => passwords.dummyVerify(password)),
    needsRehash: (stored) => passwords.needsRehash(stored),
  };
}

/**
 * Requests that check a password (login, sign-up, a password change) in progress from one client
 * address at once: past `perAddress`, the next is answered like a full queue (HashingBusy, 503)
 * at once. The rate limits count wrong passwords only, so without this one address sending right
 * ones many at a time (one account's, over and over) could fill the gate's queue and turn every
 * other player's login away; with it (8 by default, PASSWORD_CHECKS_PER_ADDRESS), one address
 * holds at most a quarter of the queue.
 */
export function passwordChecksPerAddress(
  perAddress: number,
): (
  req: Pick<Request, 'ip'>,
  res: { once(event: 'close', listener: () => void): unknown },
  next: NextFunction,
) => void {
  const inProgress = new Map<string, number>();
  return (req, res, next) => {
    const address = ipKeyGenerator(req.ip ?? '');
    const now = inProgress.get(address) ?? 0;
    if (now >= perAddress) return next(new HashingBusy());
    inProgress.set(address, now + 1);
    res.once('close', () => {
      const left = (inProgress.get(address) ?? 1) - 1;
      if (left > 0) inProgress.set(address, left);
      else inProgress.delete(address);
    });
    next();
  };
}
