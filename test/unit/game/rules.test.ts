import { describe, expect, it } from 'vitest';
import { CLASSIC_RULES } from '../../../src/game/balance.js';
import { generateBoard, LAIR, startTiles } from '../../../src/game/board.js';
import { distance, key } from '../../../src/game/hex.js';
import {
  allTiles,
  createGame,
  DEFAULT_MAX_ROUNDS,
  isRoundDue,
  everyoneChose,
  joinGame,
  leaveGame,
  livingPlayers,
  playerById,
  resolveRound,
  startGame,
  submitAction,
  tileKind,
} from '../../../src/game/rules.js';
import {
  GAME_SCHEMA,
  START_HP,
  type GameState,
  type PlayerAction,
  type RuleResult,
} from '../../../src/game/types.js';
import { lobby, ok, started } from './fixtures.js';

function err(result: RuleResult): { code: string; message: string } {
  if (result.ok) throw new Error('expected an error');
  expect(result.message).toMatch(/^[A-Z].+\.$/);
  return result;
}

describe('createGame', () => {
  it('opens a game with its creator as player 0 and the Minotaur in its lair', () => {
    const s = createGame({
      id: 'g',
      code: 'KEPS',
      seed: 9,
      creator: { id: 'u1', name: 'Ann' },
      now: 500,
      roundMs: 10_000,
    });
    expect(s).toMatchObject({
      schema: GAME_SCHEMA,
      id: 'g',
      code: 'KEPS',
      seed: 9,
      createdBy: 'u1',
      createdAt: 500,
      status: 'open',
      radius: 5,
      round: 0,
      roundMs: 10_000,
      deadline: null,
      maxRounds: DEFAULT_MAX_ROUNDS,
      winner: null,
      finishedAt: null,
      submitted: {},
      previous: {},
      events: [],
      minotaur: { pos: { q: 0, r: 0 } },
    });
    expect(DEFAULT_MAX_ROUNDS).toBe(60);
    expect(s.players).toEqual([
      expect.objectContaining({
        id: 'u1',
        name: 'Ann',
        color: 0,
        hp: START_HP,
        alive: true,
        eliminatedRound: null,
      }),
    ]);
    expect(s.walls).toEqual(generateBoard(9, 5).walls);
  });

  it('takes radius and maxRounds, and rejects nonsense settings', () => {
    const base = {
      id: 'g',
      code: 'KEPS',
      seed: 9,
      creator: { id: 'u1', name: 'Ann' },
      now: 0,
      roundMs: 1000,
    };
    const s = createGame({ ...base, radius: 3, maxRounds: 5 });
    expect(s.radius).toBe(3);
    expect(s.maxRounds).toBe(5);
    expect(() => createGame({ ...base, radius: 1 })).toThrow(RangeError);
    expect(() => createGame({ ...base, maxRounds: 0 })).toThrow(RangeError);
    expect(() => createGame({ ...base, roundMs: 0 })).toThrow(RangeError);
    expect(() => createGame({ ...base, seed: 1.5 })).toThrow(RangeError);
  });
});

describe('joinGame', () => {
  it('adds players with the lowest unused colour', () => {
    let s = lobby(['a', 'b', 'c']);
    expect(s.players.map((p) => p.color)).toEqual([0, 1, 2]);
    s = ok(leaveGame(s, 'b'));
    s = ok(joinGame(s, { id: 'd', name: 'D' }));
    expect(s.players.map((p) => [p.id, p.color])).toEqual([
      ['a', 0],
      ['c', 2],
      ['d', 1],
    ]);
  });

  it('is idempotent', () => {
    const s = lobby(['a', 'b']);
    const r = joinGame(s, { id: 'b', name: 'B' });
    expect(r).toEqual({ ok: true, state: s, duplicate: true });
    // Even after the start a repeated join is acknowledged rather than refused.
    const p = started(['a', 'b']);
    expect(joinGame(p, { id: 'b', name: 'B' })).toMatchObject({ ok: true, duplicate: true });
  });

  it('refuses a ninth player', () => {
    const s = lobby(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(err(joinGame(s, { id: 'i', name: 'I' })).code).toBe('game-full');
  });

  it('refuses once the game has started', () => {
    expect(err(joinGame(started(['a', 'b']), { id: 'c', name: 'C' })).code).toBe('not-open');
  });

  it('does not change the state it was given', () => {
    const s = lobby(['a']);
    const copy = structuredClone(s);
    ok(joinGame(s, { id: 'b', name: 'B' }));
    expect(s).toEqual(copy);
  });
});

describe('leaveGame', () => {
  it('removes a player', () => {
    const s = ok(leaveGame(lobby(['a', 'b', 'c']), 'b'));
    expect(s.players.map((p) => p.id)).toEqual(['a', 'c']);
    expect(s.createdBy).toBe('a');
  });

  it('hands the game to the next player when its creator leaves', () => {
    const s = ok(leaveGame(lobby(['a', 'b', 'c']), 'a'));
    expect(s.createdBy).toBe('b');
    expect(ok(startGame(s, 'b', 0)).status).toBe('playing');
  });

  it('finishes an empty game without winner', () => {
    const s = ok(leaveGame(lobby(['a']), 'a', 777));
    expect(s).toMatchObject({ status: 'finished', winner: null, players: [], finishedAt: 777 });
  });

  it('is harmless for someone not in the game, and refused once playing', () => {
    expect(leaveGame(lobby(['a']), 'zz')).toMatchObject({ ok: true, duplicate: true });
    expect(err(leaveGame(started(['a', 'b']), 'a')).code).toBe('not-open');
  });
});

describe('startGame', () => {
  it('only the creator starts, only an open game, only with two players', () => {
    expect(err(startGame(lobby(['a', 'b']), 'b', 0)).code).toBe('not-creator');
    expect(err(startGame(lobby(['a']), 'a', 0)).code).toBe('not-enough-players');
    expect(err(startGame(started(['a', 'b']), 'a', 0)).code).toBe('not-open');
  });

  it('starts round 1 with a deadline and full health', () => {
    const s = ok(startGame(lobby(['a', 'b', 'c']), 'a', 5000));
    expect(s).toMatchObject({ status: 'playing', round: 1, deadline: 15_000 });
    expect(s.players.every((p) => p.hp === START_HP && p.alive)).toBe(true);
  });

  it('puts characters on distinct free rim tiles, on neighbouring start tiles, the same way for the same seed', () => {
    for (let n = 2; n <= 8; n++) {
      for (const seed of [1, 2, 3, 4, 5]) {
        const ids = Array.from({ length: n }, (_, i) => `p${i}`);
        const s = started(ids, seed);
        const starts = startTiles(s.seed, s.radius).map(key);
        const slots = s.players.map((p) => starts.indexOf(key(p.pos))).sort((a, b) => a - b);
        // n consecutive start tiles round the rim (the run may wrap past the last one).
        const gaps = slots.map((x, i) =>
          i === 0 ? x + starts.length - slots.at(-1)! : x - slots[i - 1]!,
        );
        expect(gaps.filter((g) => g !== 1).length).toBeLessThanOrEqual(1);
        const walls = new Set(s.walls.map(key));
        const tiles = s.players.map((p) => p.pos);
        expect(new Set(tiles.map(key)).size).toBe(n);
        for (const t of tiles) {
          expect(walls.has(key(t))).toBe(false);
          expect(distance(t, LAIR)).toBe(s.radius);
        }
        let min = Infinity;
        for (let i = 0; i < n; i++)
          for (let j = i + 1; j < n; j++) min = Math.min(min, distance(tiles[i]!, tiles[j]!));
        expect(min).toBeGreaterThanOrEqual(3);
        expect(started(ids, seed)).toEqual(s);
      }
    }
  });

  it('keeps every hero on the tile the waiting room showed them on, however heroes came and went', () => {
    const tiles = (s: GameState) => s.players.map((p) => `${p.id}@${key(p.pos)}`);
    for (const seed of [1, 2, 3, 4, 5, 42]) {
      for (let n = 2; n <= 8; n++) {
        const ids = Array.from({ length: n }, (_, i) => `p${i}`);
        const waiting = lobby(ids, seed);
        expect(tiles(ok(startGame(waiting, 'p0', 0))), `seed ${seed}, ${n} heroes`).toEqual(
          tiles(waiting),
        );
        // A hero left and another sat down: the room shows the tiles of the heroes now in it.
        const changed = ok(
          joinGame(ok(leaveGame(waiting, ids[n - 1]!)), { id: 'late', name: 'Late' }),
        );
        expect(tiles(ok(startGame(changed, 'p0', 0))), `seed ${seed}, ${n} heroes`).toEqual(
          tiles(changed),
        );
      }
    }
    // A hero alone waits on a start tile too (on the rim, not in the Minotaur's lair).
    const alone = lobby(['a']).players[0]!;
    expect(startTiles(lobby(['a']).seed, 5).map(key)).toContain(key(alone.pos));
  });

  it('spreads characters as far apart as the rim allows under the classic rules', () => {
    for (let n = 2; n <= 4; n++) {
      for (const seed of [1, 2, 3]) {
        const s = ok(
          startGame(
            lobby(
              Array.from({ length: n }, (_, i) => `p${i}`),
              seed,
            ),
            'p0',
            2000,
            CLASSIC_RULES,
          ),
        );
        let min = Infinity;
        for (let i = 0; i < n; i++)
          for (let j = i + 1; j < n; j++)
            min = Math.min(min, distance(s.players[i]!.pos, s.players[j]!.pos));
        expect(min).toBeGreaterThanOrEqual(5);
      }
    }
  });
});

describe('submitAction', () => {
  const move = (s: GameState, id: string, extra: Partial<PlayerAction> = {}): PlayerAction => ({
    id,
    round: s.round,
    kind: 'move',
    dir: 'e',
    ...extra,
  });

  it('records an action for the current round', () => {
    const s = started(['a', 'b']);
    const next = ok(submitAction(s, 'a', move(s, 'x1')));
    expect(next.submitted).toEqual({ a: { id: 'x1', round: 1, kind: 'move', dir: 'e' } });
    expect(s.submitted).toEqual({});
  });

  it('stores a defend without a direction', () => {
    const s = started(['a', 'b']);
    const next = ok(submitAction(s, 'a', { id: 'd', round: 1, kind: 'defend', dir: 'e' }));
    expect(next.submitted.a).toEqual({ id: 'd', round: 1, kind: 'defend' });
  });

  it('acknowledges a resend of the same action without changing anything', () => {
    const s = ok(submitAction(started(['a', 'b']), 'a', { id: 'x1', round: 1, kind: 'defend' }));
    const again = submitAction(s, 'a', { id: 'x1', round: 1, kind: 'defend' });
    expect(again).toEqual({ ok: true, state: s, duplicate: true });
  });

  it('refuses a second, different action in the same round', () => {
    const s = ok(submitAction(started(['a', 'b']), 'a', { id: 'x1', round: 1, kind: 'defend' }));
    expect(err(submitAction(s, 'a', { id: 'x2', round: 1, kind: 'defend' })).code).toBe(
      'already-submitted',
    );
  });

  it('acknowledges a late resend of the action applied last round', () => {
    let s = ok(submitAction(started(['a', 'b']), 'a', { id: 'x1', round: 1, kind: 'defend' }));
    s = resolve(s);
    expect(s.round).toBe(2);
    expect(submitAction(s, 'a', { id: 'x1', round: 1, kind: 'defend' })).toEqual({
      ok: true,
      state: s,
      duplicate: true,
    });
    expect(err(submitAction(s, 'a', { id: 'other', round: 1, kind: 'defend' })).code).toBe(
      'stale-round',
    );
  });

  it('acknowledges a resend after the game ended or the character fell, instead of refusing it', () => {
    let s = started(['a', 'b']);
    s = { ...s, maxRounds: 1 };
    s = ok(submitAction(s, 'a', { id: 'last', round: 1, kind: 'defend' }));
    const done = resolve(s);
    expect(done.status).toBe('finished');
    expect(submitAction(done, 'a', { id: 'last', round: 1, kind: 'defend' })).toEqual({
      ok: true,
      state: done,
      duplicate: true,
    });
    expect(err(submitAction(done, 'a', { id: 'new', round: 1, kind: 'defend' })).code).toBe(
      'not-playing',
    );
  });

  it('treats player ids that name Object.prototype members as plain ids', () => {
    let s = started(['constructor', '__proto__']);
    s = ok(submitAction(s, 'constructor', { id: 'c1', round: 1, kind: 'defend' }));
    s = ok(submitAction(s, '__proto__', { id: 'p1', round: 1, kind: 'defend' }));
    expect(isRoundDue(s, 0)).toBe(true);
    const n = resolve(s);
    expect(Object.keys(n.previous)).toEqual(['constructor', '__proto__']);
    expect(JSON.parse(JSON.stringify(n))).toStrictEqual(n);
  });

  it('refuses actions for a future round', () => {
    const s = started(['a', 'b']);
    expect(err(submitAction(s, 'a', move(s, 'x', { round: 2 }))).code).toBe('future-round');
  });

  it('refuses a move or attack without a valid direction', () => {
    const s = started(['a', 'b']);
    expect(err(submitAction(s, 'a', { id: 'x', round: 1, kind: 'move' })).code).toBe(
      'bad-direction',
    );
    expect(
      err(submitAction(s, 'a', { id: 'x', round: 1, kind: 'attack', dir: 'north' as never })).code,
    ).toBe('bad-direction');
    expect(err(submitAction(s, 'a', { id: 'x', round: 1, kind: 'dance' as never })).code).toBe(
      'bad-direction',
    );
  });

  it('refuses a round that is not a number', () => {
    const s = started(['a', 'b']);
    expect(err(submitAction(s, 'a', move(s, 'x', { round: Number.NaN }))).code).toBe('stale-round');
  });

  it('refuses outsiders, games not being played and eliminated characters', () => {
    const s = started(['a', 'b', 'c']);
    expect(err(submitAction(s, 'zz', move(s, 'x'))).code).toBe('not-in-game');
    expect(err(submitAction(lobby(['a', 'b']), 'a', move(s, 'x'))).code).toBe('not-playing');
    const dead: GameState = {
      ...s,
      players: s.players.map((p) =>
        p.id === 'b' ? { ...p, hp: 0, alive: false, eliminatedRound: 1 } : p,
      ),
    };
    expect(err(submitAction(dead, 'b', move(s, 'x'))).code).toBe('eliminated');
  });

  it('every error carries a sentence', () => {
    const s = started(['a', 'b']);
    const r = submitAction(s, 'a', move(s, 'x', { round: 9 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/^[A-Z].+\.$/);
  });
});

describe('isRoundDue', () => {
  it('is due at the deadline or when every living player has acted', () => {
    let s = started(['a', 'b']);
    expect(isRoundDue(s, s.deadline! - 1)).toBe(false);
    expect(isRoundDue(s, s.deadline!)).toBe(true);
    s = ok(submitAction(s, 'a', { id: '1', round: 1, kind: 'defend' }));
    expect(isRoundDue(s, 0)).toBe(false);
    s = ok(submitAction(s, 'b', { id: '2', round: 1, kind: 'defend' }));
    expect(isRoundDue(s, 0)).toBe(true);
  });

  it('tells a round everyone chose in from one whose time ran out (everyoneChose)', () => {
    let s = started(['a', 'b']);
    s = ok(submitAction(s, 'a', { id: '1', round: 1, kind: 'defend' }));
    expect(isRoundDue(s, s.deadline!)).toBe(true);
    expect(everyoneChose(s)).toBe(false);
    s = ok(submitAction(s, 'b', { id: '2', round: 1, kind: 'defend' }));
    expect(everyoneChose(s)).toBe(true);
    expect(everyoneChose(lobby(['a', 'b']))).toBe(false);
  });

  it('ignores eliminated players and is never due unless playing', () => {
    const s = started(['a', 'b', 'c']);
    const dead: GameState = {
      ...s,
      players: s.players.map((p) =>
        p.id === 'c' ? { ...p, hp: 0, alive: false, eliminatedRound: 1 } : p,
      ),
      submitted: {
        a: { id: '1', round: 1, kind: 'defend' },
        b: { id: '2', round: 1, kind: 'defend' },
      },
    };
    expect(isRoundDue(dead, 0)).toBe(true);
    expect(isRoundDue(lobby(['a', 'b']), Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('read helpers', () => {
  it('answers who is alive, who is who, and what a tile is', () => {
    const s = started(['a', 'b']);
    expect(livingPlayers(s).map((p) => p.id)).toEqual(['a', 'b']);
    expect(playerById(s, 'b')?.name).toBe('B');
    expect(playerById(s, 'x')).toBeUndefined();
    expect(allTiles(s)).toHaveLength(91);
    expect(tileKind(s, s.walls[0]!)).toBe('wall');
    expect(tileKind(s, { q: 0, r: 0 })).toBe('floor');
    expect(tileKind(s, { q: 9, r: 0 })).toBe('wall');
  });
});

function resolve(s: GameState): GameState {
  return resolveRound(s, (s.deadline ?? 0) + 1);
}
