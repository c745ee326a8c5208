import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, parseLiveMessage } from '../../../src/live/messages.js';

const act = { type: 'act', actionId: '0b6c2a52-5f1e-4b8a', round: 3, kind: 'move', dir: 'ne' };

describe('parseLiveMessage', () => {
  it('accepts a well-formed action, a message and a reaction', () => {
    expect(parseLiveMessage(JSON.stringify(act)).ok).toBe(true);
    expect(parseLiveMessage(JSON.stringify({ type: 'say', text: 'well played' }))).toEqual({
      ok: true,
      message: { type: 'say', text: 'well played' },
    });
    expect(parseLiveMessage(JSON.stringify({ type: 'react', emote: 'gg' })).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{oops', 'malformed'],
    ['no type', '{"round":1}', 'malformed'],
    ['an array', '[1,2]', 'malformed'],
    ['an unknown type', '{"type":"teleport"}', 'unknown-type'],
    ['a move without a direction', JSON.stringify({ ...act, dir: undefined }), 'invalid'],
    ['an unknown direction', JSON.stringify({ ...act, dir: 'up' }), 'invalid'],
    [
      'an extra field (e.g. a game or player id)',
      JSON.stringify({ ...act, playerId: '7' }),
      'invalid',
    ],
    ['a negative round', JSON.stringify({ ...act, round: -1 }), 'invalid'],
    ['a short action id', JSON.stringify({ ...act, actionId: 'x' }), 'invalid'],
    ['an empty message', JSON.stringify({ type: 'say', text: '' }), 'invalid'],
    [
      'a message far over the limit',
      JSON.stringify({ type: 'say', text: 'x'.repeat(241) }),
      'invalid',
    ],
    [
      'a message with extra fields',
      JSON.stringify({ type: 'say', text: 'hi', by: '7' }),
      'invalid',
    ],
    ['an unknown reaction', JSON.stringify({ type: 'react', emote: 'rocket' }), 'invalid'],
  ])('refuses %s with a clear message', (_what, text, code) => {
    const r = parseLiveMessage(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message).toMatch(/[A-Za-z].*\./);
    }
  });

  it.each([
    ['dir', { ...act, dir: 'up' }],
    ['round', { ...act, round: 1.5 }],
    ['round', { ...act, round: '1' }],
    ['kind', { ...act, kind: 'fly' }],
    ['emote', { type: 'react', emote: 'rocket' }],
    ['text', { type: 'say', text: 7 }],
  ])('names the field that is wrong (%s), not the whole message', (field, msg) => {
    const r = parseLiveMessage(JSON.stringify(msg));
    expect(!r.ok && r.message).toMatch(new RegExp(`^Invalid message: ${field} `));
  });

  it('refuses oversized and binary messages before parsing them', () => {
    const big = JSON.stringify({ ...act, pad: 'x'.repeat(MAX_MESSAGE_BYTES) });
    const r = parseLiveMessage(big);
    expect(!r.ok && r.code).toBe('too-large');
    const b = parseLiveMessage(Buffer.from(JSON.stringify(act)), true);
    expect(!b.ok && b.code).toBe('binary');
  });
});
