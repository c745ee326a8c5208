import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  acceptMessage,
  checkRecord,
  OP_ENVELOPE_MAX_BYTES,
  opBytes,
  opBytesIfOver,
  MAX_COUNTER,
  parseMessage,
  recordSchema,
  serialisedBytes,
} from '../../../src/replication/protocol.js';
import type { StoreRecord } from '../../../src/replication/record.js';
import { TestLogger, record } from './helpers.js';

const good = record('KEPS', 2, 'node-a', 3);

describe('replication protocol', () => {
  it('accepts each message type', () => {
    const bodies = [
      { type: 'op', id: 'a:1', record: good },
      { type: 'op', id: 'a:1', record: { ...good, state: null } },
      { type: 'ack', id: 'a:1', result: 'applied' },
      { type: 'ack', id: 'a:1', result: 'stale', current: { epoch: 3, owner: 'b', seq: 0 } },
      { type: 'digest', id: 'a:2', entries: [['KEPS', 2, 'node-a', 3]] },
      { type: 'digest', id: 'a:2', entries: [], from: 'AAAA', to: 'MMMM' },
      { type: 'records', id: 'a:2', records: [good], want: ['ABCD'] },
      { type: 'records', id: 'a:2', records: [], part: 0, parts: 3 },
    ];
    for (const body of bodies) {
      const result = parseMessage(body);
      expect(result.ok, JSON.stringify(body)).toBe(true);
    }
  });

  it.each([
    ['not an object', 'hello'],
    ['unknown type', { type: 'gossip', id: 'x' }],
    ['missing record', { type: 'op', id: 'x' }],
    ['lower-case key', { type: 'op', id: 'x', record: { ...good, key: 'keps' } }],
    ['five-letter key', { type: 'op', id: 'x', record: { ...good, key: 'KEPSS' } }],
    ['negative epoch', { type: 'op', id: 'x', record: { ...good, epoch: -1 } }],
    ['fractional seq', { type: 'op', id: 'x', record: { ...good, seq: 1.5 } }],
    ['unsafe integer epoch', { type: 'op', id: 'x', record: { ...good, epoch: 2 ** 60 } }],
    ['owner too long', { type: 'op', id: 'x', record: { ...good, owner: 'o'.repeat(65) } }],
    ['empty owner', { type: 'op', id: 'x', record: { ...good, owner: '' } }],
    ['zero schema', { type: 'op', id: 'x', record: { ...good, schema: 0 } }],
    ['array state', { type: 'op', id: 'x', record: { ...good, state: [1, 2] } }],
    ['string state', { type: 'op', id: 'x', record: { ...good, state: 'x' } }],
    ['missing at', { type: 'op', id: 'x', record: { ...good, at: undefined } }],
    ['bad ack result', { type: 'ack', id: 'x', result: 'maybe' }],
    ['bad digest entry', { type: 'digest', id: 'x', entries: [['KEPS', 1, 'a']] }],
    ['bad want key', { type: 'records', id: 'x', records: [], want: ['nope'] }],
    ['empty id', { type: 'ack', id: '', result: 'applied' }],
  ])('rejects %s', (_name, body) => {
    const result = parseMessage(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe('invalid');
  });

  it('rejects oversized messages against the default and a configured limit', () => {
    const big = {
      type: 'op',
      id: 'x',
      record: { ...good, state: { blob: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES) } },
    };
    const result = parseMessage(big);
    expect(result).toMatchObject({ ok: false, code: 'too-large' });
    const small = { type: 'op', id: 'x', record: { ...good, state: { blob: 'x'.repeat(2000) } } };
    expect(parseMessage(small).ok).toBe(true);
    expect(parseMessage(small, 1000)).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('takes the size of the frame that carried a body as its bound, and measures it past the limit', () => {
    const body = { type: 'op', id: 'x', record: { ...good, state: { blob: 'x'.repeat(2000) } } };
    const exact = JSON.stringify(body).length;
    // Within the limit, the frame's size stands for the body's (it is never smaller).
    expect(parseMessage(body, 4000, exact + 30)).toMatchObject({ ok: true, bytes: exact + 30 });
    // A frame past the limit: the body itself is measured, and accepted when it fits.
    expect(parseMessage(body, exact, exact + 30)).toMatchObject({ ok: true, bytes: exact });
    expect(parseMessage(body, exact - 1, exact + 30)).toMatchObject({
      ok: false,
      code: 'too-large',
      bytes: exact,
    });
  });

  it('rejects bodies that are not JSON without throwing', () => {
    const cyclic: Record<string, unknown> = { type: 'ack' };
    cyclic.self = cyclic;
    expect(parseMessage(cyclic)).toMatchObject({ ok: false, code: 'not-json' });
    expect(parseMessage({ type: 'ack', id: 'x', result: 'applied', n: 10n })).toMatchObject({
      ok: false,
      code: 'not-json',
    });
    expect(parseMessage(undefined)).toMatchObject({ ok: false, code: 'not-json' });
  });

  it('acceptMessage logs a warning naming the peer and drops the message', () => {
    const logger = new TestLogger();
    expect(acceptMessage({ type: 'nope' }, 'peer-9', logger)).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({
      level: 'warn',
      obj: { peer: 'peer-9', code: 'invalid' },
    });
    expect(logger.lines[0]?.msg).toContain('peer-9');
    expect(
      acceptMessage({ type: 'ack', id: 'x', result: 'applied' }, 'peer-9', logger),
    ).toBeDefined();
    expect(logger.lines).toHaveLength(1);
  });

  it('checkRecord explains what is wrong with a local record', () => {
    expect(checkRecord(good)).toBeUndefined();
    expect(checkRecord({ ...good, key: 'bad' })).toMatch(/four capital letters/);
  });

  it('checkRecord accepts exactly the records the schema accepts (its fast path never lets more through)', () => {
    // Each member valid most of the time, so that both answers come often.
    const mostly = <T>(valid: fc.Arbitrary<T>, ...other: fc.Arbitrary<unknown>[]) =>
      fc.oneof({ arbitrary: valid, weight: 12 }, ...other);
    const counter = mostly(
      fc.nat(),
      fc.constantFrom(-0, -1, MAX_COUNTER, MAX_COUNTER + 1, 2 ** 53, 1.5, NaN, Infinity),
      fc.double(),
      fc.string({ maxLength: 3 }),
    );
    const text = (max: number) =>
      fc.oneof(
        fc.string({ maxLength: max }),
        fc.string({ unit: 'binary', maxLength: max }),
        fc.string({ unit: 'grapheme', maxLength: max }),
      );
    const anyRecord = fc.record(
      {
        key: mostly(fc.stringMatching(/^[A-Z]{4}$/), text(6), fc.constant(1234)),
        owner: mostly(
          text(70),
          // At and past the limit, in units and in code points.
          fc.constantFrom(
            'n'.repeat(64),
            'n'.repeat(65),
            '\u{1F600}'.repeat(40),
            '\u{1F600}'.repeat(65),
          ),
          fc.constant(null),
        ),
        epoch: counter,
        seq: counter,
        schema: mostly(
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: -2, max: 0 }),
          fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53, 0.5, NaN),
        ),
        state: mostly(
          fc.oneof(fc.constant(null), fc.object({ maxDepth: 1 })),
          fc.array(fc.integer(), { maxLength: 3 }),
          fc.integer(),
          fc.string({ maxLength: 3 }),
        ),
        at: mostly(
          fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
          fc.constantFrom(Infinity, -Infinity, NaN, '1'),
        ),
      },
      { requiredKeys: ['key', 'owner', 'epoch', 'seq', 'schema', 'at'] },
    );
    let accepted = 0;
    fc.assert(
      fc.property(anyRecord, (r) => {
        const ok = checkRecord(r as unknown as StoreRecord) === undefined;
        if (ok) accepted++;
        expect(ok).toBe(recordSchema.safeParse(r).success);
      }),
      { numRuns: 5000, seed: 4711 },
    );
    // Both answers were reached, and often.
    expect(accepted).toBeGreaterThan(500);
    expect(accepted).toBeLessThan(4500);
  });

  it('opBytes measures an op exactly as its JSON text', () => {
    const states = [
      { players: [{ name: 'Zoë ☃', hp: 3 }], note: 'quotes " and \\ and \u2028' },
      { a: [], b: {}, c: null },
    ];
    for (const state of states) {
      const op = { type: 'op' as const, id: 'n1:7', record: { ...good, state } };
      expect(opBytes(op)).toBe(serialisedBytes(op));
      expect(opBytes(op)).toBe(Buffer.byteLength(JSON.stringify(op), 'utf8'));
    }
    const tombstone = { type: 'op' as const, id: 'n1:8', record: { ...good, state: null } };
    expect(opBytes(tombstone)).toBe(Buffer.byteLength(JSON.stringify(tombstone), 'utf8'));
  });

  it('opBytesIfOver settles a write by a bound that the largest envelope a check lets through stays within', () => {
    // Every character of the id and owner escaped (\u0001: six bytes), the largest counters and
    // schema, and the longest text of a number.
    const worst = {
      ...good,
      owner: '\u0001'.repeat(64),
      epoch: 2 ** 48,
      seq: 2 ** 48,
      schema: Number.MAX_SAFE_INTEGER,
      at: -2.2250738585072014e-308,
      state: { a: 1 },
    };
    expect(checkRecord(worst)).toBeUndefined();
    const op = { type: 'op' as const, id: '\u0001'.repeat(128), record: worst };
    const envelope = opBytes(op) - Buffer.byteLength(JSON.stringify(worst.state), 'utf8');
    expect(envelope).toBeGreaterThan(OP_ENVELOPE_MAX_BYTES * 0.9);
    expect(envelope).toBeLessThanOrEqual(OP_ENVELOPE_MAX_BYTES);

    // Far under the limit: no need to know the size.
    const small = { type: 'op' as const, id: 'n1:9', record: good };
    expect(opBytesIfOver(small, DEFAULT_MAX_MESSAGE_BYTES)).toBeNull();
    // Near or over it: the exact size, which the caller compares.
    const big = { ...small, record: { ...good, state: { text: 'é'.repeat(2000) } } };
    const exact = Buffer.byteLength(JSON.stringify(big), 'utf8');
    expect(opBytesIfOver(big, exact - 1)).toBe(exact);
    expect(opBytesIfOver(big, exact + OP_ENVELOPE_MAX_BYTES)).toBeNull();
    // A member beyond the schema's is measured, never bounded.
    const extra = { ...small, record: { ...good, note: 'x'.repeat(5000) } };
    const extraBytes = Buffer.byteLength(JSON.stringify(extra), 'utf8');
    expect(opBytesIfOver(extra, extraBytes)).toBe(extraBytes);
    expect(opBytesIfOver(extra, extraBytes - 1)).toBe(extraBytes);
  });
});
