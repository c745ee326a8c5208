// Password hashing with scrypt at OWASP's recommended cost, in a self-describing string
// (`scrypt$N$r$p$salt$hash`, base64) so the cost can be raised later without breaking logins.

import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** scrypt at N = 2^`exponent` (PASSWORD_COST), with OWASP's r and p. */
export function scryptCost(exponent: number): ScryptCost {
  return { N: 2 ** exponent, r: 8, p: 1 };
}

/** OWASP Password Storage Cheat Sheet: N=2^17, r=8, p=1. */
export const OWASP_SCRYPT: Readonly<ScryptCost> = Object.freeze(scryptCost(17));

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Refuse stored strings whose cost would exhaust memory (N=2^20, r=8 is 1 GiB). */
const MAX_N = 2 ** 20;

function scrypt(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  // scrypt needs about 128·N·r·p bytes; Node's default cap (32 MiB) is below OWASP's 128 MiB.
  const options: ScryptOptions = {
    N: cost.N,
    r: cost.r,
    p: cost.p,
    maxmem: 256 * cost.N * cost.r * cost.p,
  };
  return new Promise((resolve, reject) => {
    // The callback form runs on libuv's thread pool, so hashing never blocks the event loop.
    scryptCallback(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function checkCost(cost: ScryptCost): void {
  const { N, r, p } = cost;
  const ok =
    Number.isInteger(N) &&
    N > 1 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= 32 &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= 16;
  if (!ok) throw new RangeError(`invalid scrypt cost N=${N} r=${r} p=${p}`);
}

/**
 * Hashes a password. The cost is OWASP's unless the caller passes another one explicitly
 * (tests pass a low N to stay fast); it is recorded in the result, so verify needs no options.
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = OWASP_SCRYPT,
): Promise<string> {
  checkCost(cost);
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join(
    '$',
  );
}

interface ParsedHash {
  cost: ScryptCost;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, n, r, p, salt64, key64] = parts;
  const int = (s: string | undefined): number => (s && /^\d{1,10}$/.test(s) ? Number(s) : NaN);
  const cost = { N: int(n), r: int(r), p: int(p) };
  try {
    checkCost(cost);
  } catch {
    return null;
  }
  const salt = Buffer.from(salt64 ?? '', 'base64');
  const key = Buffer.from(key64 ?? '', 'base64');
  if (salt.length < SALT_BYTES || key.length !== KEY_BYTES) return null;
  return { cost, salt, key };
}

/** True when `password` matches `stored`. A malformed `stored` string never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed.cost);
  return timingSafeEqual(key, parsed.key);
}

/**
 * Does the same work as verifying a real password and always answers false: call it when the
 * username is unknown so the response time does not reveal which usernames exist.
 */
export async function verifyNoAccount(
  password: string,
  cost: ScryptCost = OWASP_SCRYPT,
): Promise<false> {
  checkCost(cost);
  const key = await scrypt(password, randomBytes(SALT_BYTES), cost);
  timingSafeEqual(key, Buffer.alloc(KEY_BYTES));
  return false;
}

/** True when `stored` was hashed below `cost` (or is unreadable): rehash it at next login. */
export function needsRehash(stored: string, cost: ScryptCost = OWASP_SCRYPT): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return parsed.cost.N < cost.N || parsed.cost.r < cost.r || parsed.cost.p < cost.p;
}
