// jsonText and stringifyReusing write exactly JSON.stringify's text, taking kept texts for the
// objects that have one; the snapshots and the mesh's frames are written with them.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonText, stringifyReusing } from '../../src/json-text.js';
import { decodeFrame, encodeFrame, type MeshMessage } from '../../src/cluster/protocol.js';
import { started } from './game/fixtures.js';

/** Values JSON.stringify treats specially, besides plain JSON. */
const odd = fc.constantFrom<unknown>(
  undefined,
  () => 1,
  Symbol('s'),
  new Date(0),
  new Map([[1, 2]]),
  NaN,
  -0,
  Infinity,
);
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    odd,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('tree'), { maxKeys: 4 }),
    fc.dictionary(fc.constantFrom('0', '1', '10', 'a', 'b'), tie('tree'), { maxKeys: 4 }),
  ),
}));

/** Gives some of a value's objects a kept text, as the nodes do for the states they save. */
function keepSome(value: unknown, pick: boolean[]): void {
  let i = 0;
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (pick[i++ % pick.length]) jsonText(v);
    for (const x of Object.values(v)) walk(x);
  };
  walk(value);
}

describe('jsonText', () => {
  it("is JSON.stringify's text for any value, whichever of its parts had a text kept before", () => {
    fc.assert(
      fc.property(tree, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (v, pick) => {
        keepSome(v, pick);
        // A new object around the same parts, as a game's next state is.
        const next = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...v } : [v];
        expect(jsonText(next)).toBe(JSON.stringify(next));
      }),
      { numRuns: 500 },
    );
  });

  it("writes a state's unchanged parts from the texts kept for the last state", () => {
    const s1 = started(['ann', 'bob']);
    jsonText(s1);
    // Kept texts are for values never changed in place; changing one shows which text is used.
    const s2 = { ...s1, round: s1.round + 1 };
    const walls = JSON.stringify(s1.walls);
    (s1.walls as unknown as { q: number }[]).push({ q: 99 });
    expect(jsonText(s2)).toContain(`"walls":${walls}`);
    expect(jsonText(s2)).not.toContain('99');
  });
});

describe('stringifyReusing', () => {
  it("is JSON.stringify's text for any value, with or without kept texts inside", () => {
    fc.assert(
      fc.property(tree, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (v, pick) => {
        expect(stringifyReusing(v)).toBe(JSON.stringify(v));
        keepSome(v, pick);
        expect(stringifyReusing(v)).toBe(JSON.stringify(v));
      }),
      { numRuns: 500 },
    );
  });

  it('takes the kept text of an object instead of serialising it again', () => {
    const state = { round: 1, players: ['a'] };
    const before = jsonText(state);
    // Kept texts are for values never changed in place; changing one shows which text is used.
    state.round = 2;
    expect(stringifyReusing({ op: { record: { state } } })).toBe(
      `{"op":{"record":{"state":${before}}}}`,
    );
  });

  it('encodes a mesh frame carrying a saved game state exactly as JSON.stringify does', () => {
    const state = started(['ann', 'bob']);
    jsonText(state);
    const message = {
      type: 'app',
      ch: 'replica',
      body: {
        type: 'op',
        id: 'n1:1',
        record: { key: 'ABCD', owner: 'n1', epoch: 1, seq: 3, schema: 2, at: 5, state },
      },
    } as MeshMessage;
    const frame = encodeFrame(message);
    expect(frame).toBe(JSON.stringify(message));
    const decoded = decodeFrame(frame);
    expect(decoded.ok && decoded.message).toEqual(JSON.parse(JSON.stringify(message)));
  });
});
