// Mutual challenge–response between two mesh nodes: each side proves it knows CLUSTER_SECRET
// by an HMAC-SHA256 over both nonces, both node ids, its role and the protocol version.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;

/** Which end of the WebSocket a prover is; bound into the proof so a proof cannot be reflected. */
export type Role = 'initiator' | 'acceptor';

export interface ProofContext {
  role: Role;
  protocol: number;
  /** Node id of the side producing the proof. */
  proverId: string;
  /** Node id of the side checking it. */
  verifierId: string;
  /** Nonce the prover sent in its hello. */
  proverNonce: string;
  /** Nonce the verifier sent in its hello: the challenge. */
  verifierNonce: string;
}

/** A fresh challenge: 32 random bytes, base64url (43 characters). */
export function createNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64url');
}

function transcript(ctx: ProofContext): string {
  // Fields are length-prefixed so no two different contexts serialise to the same string.
  const fields = [
    'minotaur-mesh-auth',
    String(ctx.protocol),
    ctx.role,
    ctx.proverId,
    ctx.verifierId,
    ctx.proverNonce,
    ctx.verifierNonce,
  ];
  return fields.map((f) => `${f.length}:${f}`).join('|');
}

/** The proof one side sends: hex HMAC-SHA256 of the handshake transcript under the secret. */
export function createProof(secret: string, ctx: ProofContext): string {
  return createHmac('sha256', secret).update(transcript(ctx)).digest('hex');
}

/** Constant-time check of a peer's proof; false for anything malformed. */
export function verifyProof(secret: string, ctx: ProofContext, proof: string): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  const expected = Buffer.from(createProof(secret, ctx), 'hex');
  return timingSafeEqual(expected, Buffer.from(proof, 'hex'));
}
