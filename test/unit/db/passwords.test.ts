import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

// Wrap timingSafeEqual so the tests can see that every comparison goes through it.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const { hashPassword, verifyPassword, verifyNoAccount, needsRehash, OWASP_SCRYPT } =
  await import('../../../src/db/passwords.js');

// Low cost, passed explicitly, keeps the suite fast; one test checks the default is OWASP's.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

describe('passwords', () => {
  it('stores a self-describing scrypt string with a 16-byte salt and 32-byte key', async () => {
    const stored = await hashPassword('labyrinth', FAST);
    const [scheme, N, r, p, salt, key] = stored.split('$');
    expect([scheme, N, r, p]).toEqual(['scrypt', '1024', '8', '1']);
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(key!, 'base64')).toHaveLength(32);
  });

  it("uses OWASP's cost (N=2^17, r=8, p=1) unless told otherwise", async () => {
    expect(OWASP_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
    const stored = await hashPassword('labyrinth');
    expect(stored.startsWith('scrypt$131072$8$1$')).toBe(true);
    expect(await verifyPassword('labyrinth', stored)).toBe(true);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same', FAST)).not.toBe(await hashPassword('same', FAST));
  });

  it('verifies the right password and rejects a wrong one, comparing in constant time', async () => {
    const stored = await hashPassword('thread-of-ariadne', FAST);
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect(await verifyPassword('thread-of-ariadne', stored)).toBe(true);
    expect(await verifyPassword('thread-of-ariadme', stored)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('matches the same password typed in composed or decomposed Unicode', async () => {
    const stored = await hashPassword('caf\u00e9', FAST);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });

  it('never matches a malformed or tampered stored string', async () => {
    const stored = await hashPassword('x', FAST);
    expect(await verifyPassword('x', 'plain-text')).toBe(false);
    expect(await verifyPassword('x', stored.replace('scrypt$1024', 'scrypt$1000'))).toBe(false);
    expect(await verifyPassword('x', stored.replace('scrypt$1024', `scrypt$${2 ** 30}`))).toBe(
      false,
    );
    expect(await verifyPassword('x', stored.slice(0, -8))).toBe(false);
  });

  it('does the full work for an unknown username and answers false', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect(await verifyNoAccount('guess', FAST)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('flags hashes below the current cost for rehashing', async () => {
    expect(needsRehash(await hashPassword('x', FAST))).toBe(true);
    expect(needsRehash(await hashPassword('x', FAST), FAST)).toBe(false);
    expect(needsRehash('garbage')).toBe(true);
  });

  it('rejects an invalid explicit cost', async () => {
    await expect(hashPassword('x', { N: 1000, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });
});
