import { describe, expect, it } from 'vitest';
import { createNonce } from '../../../src/cluster/auth.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  MESH_PROTOCOL,
  closeReason,
  decodeFrame,
  encodeFrame,
  type MeshMessage,
} from '../../../src/cluster/protocol.js';

const hello = {
  type: 'hello',
  nodeId: 'a1',
  address: '127.0.0.2:4000',
  version: '1.2.3',
  protocol: MESH_PROTOCOL,
  schemas: [1, 2],
  state: 'joining',
  nonce: createNonce(),
};

describe('protocol', () => {
  it('round-trips every envelope', () => {
    const messages: MeshMessage[] = [
      hello as MeshMessage,
      { type: 'auth', proof: 'ab'.repeat(32) },
      { type: 'accept' },
      { type: 'hb', state: 'ready', t: 123, ack: 100 },
      { type: 'state', state: 'draining' },
      { type: 'app', ch: 'replication', body: { ops: [1, 2, 3] } },
      { type: 'bye', reason: 'node stopping' },
    ];
    for (const message of messages) {
      const frame = encodeFrame(message);
      expect(frame).toBeDefined();
      // ws@7 hands strings, ws@8 Buffers: both decode.
      expect(decodeFrame(frame)).toMatchObject({ ok: true, message });
      expect(decodeFrame(Buffer.from(frame!))).toMatchObject({ ok: true, message });
      expect(decodeFrame([Buffer.from(frame!)])).toMatchObject({ ok: true, message });
    }
  });

  it('rejects frames that are not JSON objects', () => {
    for (const frame of ['not json', '[1,2]', 'null', '"hb"', '{"type":']) {
      const decoded = decodeFrame(frame);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(decoded.code).toBe(CloseCode.badMessage);
    }
    expect(decodeFrame(42)).toMatchObject({ ok: false, code: CloseCode.badMessage });
  });

  it('names an unknown message type', () => {
    expect(decodeFrame('{"type":"gossip"}')).toMatchObject({
      ok: false,
      code: CloseCode.badMessage,
      reason: 'unknown message type "gossip"',
    });
    expect(decodeFrame('{"t":1}')).toMatchObject({
      ok: false,
      reason: 'unknown message type undefined',
    });
  });

  it('says which field of a known message is wrong', () => {
    const decoded = decodeFrame(JSON.stringify({ type: 'hb', state: 'sleeping', t: 1 }));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(/^invalid hb message: state/);
    expect(decodeFrame(JSON.stringify({ ...hello, nonce: 'short' }))).toMatchObject({ ok: false });
    expect(decodeFrame(JSON.stringify({ ...hello, address: 'no-port' }))).toMatchObject({
      ok: false,
    });
    expect(decodeFrame(JSON.stringify({ type: 'app', ch: 'x'.repeat(33), body: 1 }))).toMatchObject(
      { ok: false },
    );
    expect(decodeFrame(JSON.stringify({ type: 'app', ch: '', body: 1 }))).toMatchObject({
      ok: false,
    });
    expect(decodeFrame(JSON.stringify({ type: 'auth', proof: 'XYZ' }))).toMatchObject({
      ok: false,
    });
  });

  it('flags an incompatible protocol with its own close code, even if the rest changed', () => {
    expect(
      decodeFrame(JSON.stringify({ type: 'hello', protocol: MESH_PROTOCOL + 1, whatever: true })),
    ).toMatchObject({
      ok: false,
      code: CloseCode.incompatibleProtocol,
    });
  });

  it('rejects oversized frames before parsing them', () => {
    const big = Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20);
    const decoded = decodeFrame(big);
    expect(decoded).toMatchObject({
      ok: false,
      code: CloseCode.tooBig,
      bytes: MAX_FRAME_BYTES + 1,
    });
    const bigText = JSON.stringify({ type: 'app', ch: 'x', body: 'y'.repeat(MAX_FRAME_BYTES) });
    expect(decodeFrame(bigText)).toMatchObject({ ok: false, code: CloseCode.tooBig });
  });

  it('does not throw on bodies JSON cannot encode', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(encodeFrame({ type: 'app', ch: 'x', body: circular })).toBeUndefined();
    expect(encodeFrame({ type: 'app', ch: 'x', body: 10n })).toBeUndefined();
  });

  it('keeps close reasons within 123 bytes', () => {
    expect(Buffer.byteLength(closeReason('é'.repeat(200)))).toBeLessThanOrEqual(123);
    expect(closeReason('bad secret')).toBe('bad secret');
  });
});
