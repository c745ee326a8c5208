import { describe, expect, it } from 'vitest';
import {
  createNonce,
  createProof,
  verifyProof,
  type ProofContext,
} from '../../../src/cluster/auth.js';

const secret = 'correct horse battery staple';

function contexts(): { a: ProofContext; b: ProofContext } {
  const nA = createNonce();
  const nB = createNonce();
  // a dials b: a is the initiator, b the acceptor; each proves over the other's challenge.
  const a: ProofContext = {
    role: 'initiator',
    protocol: 1,
    proverId: 'a',
    verifierId: 'b',
    proverNonce: nA,
    verifierNonce: nB,
  };
  const b: ProofContext = {
    role: 'acceptor',
    protocol: 1,
    proverId: 'b',
    verifierId: 'a',
    proverNonce: nB,
    verifierNonce: nA,
  };
  return { a, b };
}

describe('auth', () => {
  it('makes 32-byte random nonces', () => {
    const n = createNonce();
    expect(Buffer.from(n, 'base64url')).toHaveLength(32);
    expect(createNonce()).not.toBe(n);
  });

  it('lets both sides prove knowledge of the secret (mutual)', () => {
    const { a, b } = contexts();
    expect(verifyProof(secret, a, createProof(secret, a))).toBe(true);
    expect(verifyProof(secret, b, createProof(secret, b))).toBe(true);
  });

  it('rejects a proof made with the wrong secret, on either side', () => {
    const { a, b } = contexts();
    expect(verifyProof(secret, a, createProof('wrong', a))).toBe(false);
    expect(verifyProof('wrong', b, createProof(secret, b))).toBe(false);
  });

  it('rejects a proof replayed into a new handshake (fresh nonce)', () => {
    const { a } = contexts();
    const captured = createProof(secret, a);
    expect(verifyProof(secret, { ...a, verifierNonce: createNonce() }, captured)).toBe(false);
    expect(verifyProof(secret, { ...a, proverNonce: createNonce() }, captured)).toBe(false);
  });

  it('rejects a proof reflected back (role, ids and nonce order are bound)', () => {
    const { a, b } = contexts();
    const fromB = createProof(secret, b);
    expect(verifyProof(secret, a, fromB)).toBe(false);
    // Even a node claiming our own id and echoing our nonce cannot reuse our proof.
    const self: ProofContext = { ...a, verifierId: 'a', verifierNonce: a.proverNonce };
    expect(verifyProof(secret, { ...self, role: 'acceptor' }, createProof(secret, self))).toBe(
      false,
    );
  });

  it('binds the proof to the protocol version and node ids', () => {
    const { a } = contexts();
    const proof = createProof(secret, a);
    expect(verifyProof(secret, { ...a, protocol: 2 }, proof)).toBe(false);
    expect(verifyProof(secret, { ...a, proverId: 'c' }, proof)).toBe(false);
    expect(verifyProof(secret, { ...a, verifierId: 'c' }, proof)).toBe(false);
  });

  it('rejects malformed proofs without throwing', () => {
    const { a } = contexts();
    for (const bad of [
      '',
      'zz',
      'A'.repeat(64),
      createProof(secret, a).slice(2),
      42 as unknown as string,
    ]) {
      expect(verifyProof(secret, a, bad)).toBe(false);
    }
  });
});
