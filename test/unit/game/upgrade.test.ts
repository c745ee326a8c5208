import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GAME_SCHEMA, resolveRound, submitAction } from '../../../src/game/index.js';
import { checkGameState } from '../../../src/game/schema.js';
import { SchemaError, readableSchemas, upgradeState } from '../../../src/game/upgrade.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/game-record-schema1.json', import.meta.url), 'utf8'),
);
const fixture2 = JSON.parse(
  readFileSync(new URL('../../fixtures/game-record-schema2.json', import.meta.url), 'utf8'),
);

describe('upgradeState', () => {
  it('reads every schema from 1 to the current one', () => {
    expect(readableSchemas()).toEqual(Array.from({ length: GAME_SCHEMA }, (_, i) => i + 1));
  });

  it('lifts a schema-1 game (no damage counters) to the current schema without losing anything', () => {
    const old = fixture.state;
    expect(old.players[0].dealt).toBeUndefined();
    const s = upgradeState(old, 1);
    expect(s.schema).toBe(GAME_SCHEMA);
    expect(s.players.map((p) => p.dealt)).toEqual([0, 0]);
    // Everything the old shape had is kept as it was.
    expect(s.round).toBe(old.round);
    expect(s.deadline).toBe(old.deadline);
    expect(s.submitted).toEqual(old.submitted);
    expect(s.previous).toEqual(old.previous);
    expect(s.players.map((p) => [p.id, p.hp, p.pos])).toEqual(
      old.players.map((p: { id: string; hp: number; pos: unknown }) => [p.id, p.hp, p.pos]),
    );
  });

  it('lifts a schema-2 game (no hold, no table talk, no rematch) to the current schema, keeping the damage counters', () => {
    const old = fixture2.state;
    expect(old.chat).toBeUndefined();
    const s = upgradeState(old, 2);
    expect(s.schema).toBe(GAME_SCHEMA);
    expect(s).toMatchObject({ hold: null, chat: [], rematch: null, rematchOf: null });
    expect(s.players.map((p) => p.dealt)).toEqual(
      old.players.map((p: { dealt: number }) => p.dealt),
    );
    const { schema: _a, chat: _b, rematch: _c, rematchOf: _d, hold: _h, ...rest } = s;
    const { schema: _e, ...oldRest } = old;
    expect(rest).toEqual(oldRest);
    expect(checkGameState(s)).toBeUndefined();
    expect(checkGameState(upgradeState(fixture.state, 1))).toBeUndefined();
  });

  it('gives a state the current rules play on', () => {
    let s = upgradeState(fixture.state, 1);
    const r = submitAction(s, '1', {
      id: 'act-cccc-0003',
      round: s.round,
      kind: 'attack',
      dir: 'e',
    });
    expect(r.ok).toBe(true);
    if (r.ok) s = resolveRound(r.state, (s.deadline ?? 0) + 1);
    expect(s.round).toBe((fixture.state.round as number) + 1);
    expect(s.players.every((p) => typeof p.dealt === 'number')).toBe(true);
  });

  it('leaves a current state as it is', () => {
    const current = upgradeState(fixture.state, 1);
    expect(upgradeState(structuredClone(current), GAME_SCHEMA)).toEqual(current);
  });

  it('refuses schemas it cannot read, with a stable code', () => {
    expect(() => upgradeState(fixture.state, GAME_SCHEMA + 1)).toThrow(SchemaError);
    try {
      upgradeState(fixture.state, 0);
    } catch (e) {
      expect((e as SchemaError).code).toBe('GAME_SCHEMA_UNREADABLE');
    }
  });
});
