import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createGame,
  joinGame,
  resolveRound,
  startGame,
  submitAction,
} from '../../../src/game/index.js';
import { checkGameState, checkGameStateMembers } from '../../../src/game/schema.js';
import { checkStoredState, upgradeState } from '../../../src/game/upgrade.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/game-record-schema1.json', import.meta.url), 'utf8'),
);

describe('checkGameState', () => {
  it('accepts every state the rules produce', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.constantFrom('defend', 'move', 'attack'), { maxLength: 30 }),
        (seed, n, kinds) => {
          let s = createGame({
            id: 'g',
            code: 'ABCD',
            seed,
            creator: { id: 'p0', name: 'p0' },
            now: 0,
            roundMs: 1000,
          });
          expect(checkGameState(s)).toBeUndefined();
          for (let i = 1; i < n; i++) {
            const j = joinGame(s, { id: `p${i}`, name: `p${i}` });
            if (j.ok) s = j.state;
          }
          const st = startGame(s, 'p0', 1);
          if (!st.ok) return;
          s = st.state;
          for (const [i, kind] of kinds.entries()) {
            if (s.status !== 'playing') break;
            const r = submitAction(s, 'p0', {
              id: `a${i}`,
              round: s.round,
              kind,
              ...(kind === 'defend' ? {} : { dir: 'e' }),
            });
            if (r.ok) s = r.state;
            expect(checkGameState(s)).toBeUndefined();
            s = resolveRound(s, 1000 * (i + 2));
            expect(checkGameState(s)).toBeUndefined();
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses malformed states with a sentence naming the field', () => {
    expect(checkGameState({})).toMatch(/invalid game state/);
    const good = upgradeState(fixture.state, 1);
    expect(checkGameState({ ...good, players: 'nope' })).toMatch(/players/);
    expect(checkGameState({ ...good, code: 'kk' })).toMatch(/code/);
  });

  it('checks stored states of older schemas after upgrading them, and leaves unreadable ones alone', () => {
    expect(checkStoredState(fixture.state, 1, checkGameState)).toBeUndefined();
    expect(checkStoredState({ players: 3 }, 1, checkGameState)).toBeTypeOf('string');
    expect(checkStoredState({ anything: true }, 99, checkGameState)).toBeUndefined();
  });

  it('checks the named members of a state as the whole check would, and only those', () => {
    const good = upgradeState(fixture.state, 1);
    const bad = { ...good, players: 'nope', code: 'kk' };
    // Each member the whole check refuses, the member check refuses when named, in the same words.
    expect(checkGameStateMembers(bad, ['players'])).toBe(
      checkGameState({ ...good, players: 'nope' }),
    );
    expect(checkGameStateMembers(bad, ['code'])).toMatch(/^invalid game state: code: /);
    expect(checkGameStateMembers(bad, ['round', 'submitted'])).toBeUndefined();
    expect(checkGameStateMembers(good, Object.keys(good))).toBeUndefined();
    // Members the shape does not have are left alone, as the whole check leaves them.
    expect(checkGameStateMembers({ ...good, extra: 1 }, ['extra'])).toBeUndefined();
    expect(checkGameStateMembers(null, ['round'])).toMatch(/not an object/);
  });
});
