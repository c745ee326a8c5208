import { describe, expect, it } from 'vitest';
import { distance } from '../../../src/game/hex.js';
import { CLASSIC_RULES } from '../../../src/game/balance.js';
import { resolveRound } from '../../../src/game/rules.js';
import type { GameState, Hex, RoundEvent } from '../../../src/game/types.js';
import { act, arena, h, lobby, type Placement } from './fixtures.js';

// The Minotaur shut in the north-east corner, so it stays out of tests about players.
const CAGE = { minotaur: h(5, -5), walls: [h(4, -5), h(4, -4), h(5, -4)] };

function caged(placements: Placement[], extraWalls: Hex[] = []): GameState {
  return arena(placements, { minotaur: CAGE.minotaur, walls: [...CAGE.walls, ...extraWalls] });
}

const pos = (s: GameState, id: string): Hex => s.players.find((p) => p.id === id)!.pos;
const hp = (s: GameState, id: string): number => s.players.find((p) => p.id === id)!.hp;
const of = <K extends RoundEvent['kind']>(s: GameState, kind: K) =>
  s.events.filter((e): e is Extract<RoundEvent, { kind: K }> => e.kind === kind);

describe('resolveRound: moves', () => {
  it('moves a character to a free neighbour', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(-3, 3) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'ne' });
    const n = resolveRound(s, 5000);
    expect(pos(n, 'a')).toEqual(h(1, -1));
    expect(of(n, 'move')).toEqual([{ kind: 'move', actor: 'a', from: h(0, 0), to: h(1, -1) }]);
  });

  it('blocks moves into walls, off the board and onto the Minotaur', () => {
    let s = arena(
      [
        { id: 'a', pos: h(0, 1) },
        { id: 'b', pos: h(-5, 5) },
        { id: 'c', pos: h(2, 0) },
      ],
      { minotaur: h(0, 0), walls: [h(1, 1)] },
    );
    s = act(s, 'a', { kind: 'move', dir: 'e' }); // wall
    s = act(s, 'b', { kind: 'move', dir: 'sw' }); // off the board
    s = act(s, 'c', { kind: 'move', dir: 'w' }); // onto (1,0)? no: c moves w to (1,0), free
    const n = resolveRound(s, 0);
    expect(pos(n, 'a')).toEqual(h(0, 1));
    expect(pos(n, 'b')).toEqual(h(-5, 5));
    expect(
      of(n, 'blocked')
        .map((e) => e.actor)
        .sort(),
    ).toEqual(['a', 'b']);

    let m = arena(
      [
        { id: 'a', pos: h(1, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    m = act(m, 'a', { kind: 'move', dir: 'w' });
    const mn = resolveRound(m, 0);
    expect(of(mn, 'blocked')).toEqual([{ kind: 'blocked', actor: 'a', at: h(1, 0) }]);
  });

  it('blocks both characters that want the same tile', () => {
    let s = caged([
      { id: 'a', pos: h(-1, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'w' });
    const n = resolveRound(s, 0);
    expect(pos(n, 'a')).toEqual(h(-1, 0));
    expect(pos(n, 'b')).toEqual(h(1, 0));
    expect(of(n, 'blocked')).toHaveLength(2);
  });

  it('blocks a move onto a character that stays', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'defend' });
    expect(pos(resolveRound(s, 0), 'a')).toEqual(h(0, 0));
  });

  it('lets a character follow one that moves away', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
      { id: 'c', pos: h(2, 0) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'e' });
    s = act(s, 'c', { kind: 'move', dir: 'e' });
    const n = resolveRound(s, 0);
    expect([pos(n, 'a'), pos(n, 'b'), pos(n, 'c')]).toEqual([h(1, 0), h(2, 0), h(3, 0)]);
  });

  it('blocks a whole queue when its head is blocked', () => {
    let s = caged(
      [
        { id: 'a', pos: h(0, 0) },
        { id: 'b', pos: h(1, 0) },
        { id: 'c', pos: h(2, 0) },
      ],
      [h(3, 0)],
    );
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'e' });
    s = act(s, 'c', { kind: 'move', dir: 'e' });
    const n = resolveRound(s, 0);
    expect([pos(n, 'a'), pos(n, 'b'), pos(n, 'c')]).toEqual([h(0, 0), h(1, 0), h(2, 0)]);
    expect(of(n, 'blocked')).toHaveLength(3);
  });

  it('never lets two characters swap through each other', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'w' });
    const n = resolveRound(s, 0);
    expect(pos(n, 'a')).toEqual(h(0, 0));
    expect(pos(n, 'b')).toEqual(h(1, 0));
  });

  it('lets three characters rotate round a triangle', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
      { id: 'c', pos: h(0, 1) },
    ]);
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'sw' });
    s = act(s, 'c', { kind: 'move', dir: 'nw' });
    const n = resolveRound(s, 0);
    expect([pos(n, 'a'), pos(n, 'b'), pos(n, 'c')]).toEqual([h(1, 0), h(0, 1), h(0, 0)]);
  });

  it('eliminated characters do not block', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(-3, 3) },
      { id: 'c', pos: h(1, 0) },
    ]);
    s = {
      ...s,
      players: s.players.map((p) =>
        p.id === 'c' ? { ...p, hp: 0, alive: false, eliminatedRound: 1 } : p,
      ),
    };
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    expect(pos(resolveRound(s, 0), 'a')).toEqual(h(1, 0));
  });
});

describe('resolveRound: attacks and defence', () => {
  it('hits whoever stands on the target tile after the moves', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(2, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'w' });
    const n = resolveRound(s, 0);
    expect(hp(n, 'b')).toBe(4);
    expect(of(n, 'attack')).toEqual([
      { kind: 'attack', actor: 'a', target: 'b', at: h(1, 0), damage: 1 },
    ]);
  });

  it('misses a character that moved away', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'e' });
    const n = resolveRound(s, 0);
    expect(hp(n, 'b')).toBe(5);
    expect(of(n, 'attack')).toEqual([
      { kind: 'attack', actor: 'a', target: null, at: h(1, 0), damage: 0 },
    ]);
  });

  it('a defending character takes no damage from players', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'defend' });
    const n = resolveRound(s, 0);
    expect(hp(n, 'b')).toBe(5);
    expect(n.events[0]).toEqual({ kind: 'defend', actor: 'b' });
    expect(of(n, 'attack')[0]?.damage).toBe(0);
  });

  it('the Minotaur shrugs off blows', () => {
    let s = arena(
      [
        { id: 'a', pos: h(1, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    s = act(s, 'a', { kind: 'attack', dir: 'w' });
    const n = resolveRound(s, 0);
    expect(of(n, 'attack')).toEqual([
      { kind: 'attack', actor: 'a', target: 'minotaur', at: h(0, 0), damage: 0 },
    ]);
  });

  it('blows land together, hp never drops below 0, and a double knock-out has no winner', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0), hp: 1 },
      { id: 'b', pos: h(1, 0), hp: 1 },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'attack', dir: 'w' });
    const n = resolveRound(s, 9000);
    expect(n.players.map((p) => [p.hp, p.alive, p.eliminatedRound])).toEqual([
      [0, false, 1],
      [0, false, 1],
    ]);
    expect(of(n, 'eliminated').map((e) => e.actor)).toEqual(['a', 'b']);
    expect(n).toMatchObject({
      status: 'finished',
      winner: null,
      deadline: null,
      finishedAt: 9000,
      round: 1,
    });
  });

  it('clamps hp at 0 under several blows', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(2, 0) },
      { id: 'c', pos: h(1, 0), hp: 1 },
      { id: 'd', pos: h(-4, 4) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'attack', dir: 'w' });
    const n = resolveRound(s, 0);
    expect(hp(n, 'c')).toBe(0);
    expect(n.status).toBe('playing');
  });
});

describe('resolveRound: the Minotaur under the classic rules (steps every round, then strikes)', () => {
  const resolve = (s: GameState, now: number) => resolveRound(s, now, CLASSIC_RULES);

  it('walks round a wall along a shortest path, then strikes once next to its prey', () => {
    // Two shortest paths round the wall at (1,0): via ne (1,-1) or via se (0,1); ne comes first.
    const s = arena(
      [
        { id: 'a', pos: h(2, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [h(1, 0)] },
    );
    const n = resolve(s, 0);
    expect(n.minotaur.pos).toEqual(h(1, -1));
    expect(of(n, 'minotaur-move')).toEqual([
      { kind: 'minotaur-move', from: h(0, 0), to: h(1, -1) },
    ]);
    expect(of(n, 'minotaur-attack')).toEqual([]);
    const n2 = resolve(n, 1);
    expect(n2.minotaur.pos).toEqual(h(2, -1));
    expect(of(n2, 'minotaur-attack')).toEqual([
      { kind: 'minotaur-attack', target: 'a', damage: 2 },
    ]);
    expect(hp(n2, 'a')).toBe(3);
  });

  it('breaks ties between equal steps by direction order', () => {
    const s = arena(
      [
        { id: 'a', pos: h(1, 1) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    expect(resolve(s, 0).minotaur.pos).toEqual(h(1, 0));
  });

  it('goes for the nearest character by path, ignoring one it cannot reach', () => {
    // 'a' is shut in the south-west corner; 'b' is farther as the crow flies but reachable.
    const s = arena(
      [
        { id: 'a', pos: h(-5, 5) },
        { id: 'b', pos: h(4, -4) },
      ],
      { minotaur: h(-2, 3), walls: [h(-4, 5), h(-4, 4), h(-5, 4)] },
    );
    const n = resolve(s, 0);
    expect(distance(n.minotaur.pos, h(4, -4))).toBe(distance(h(-2, 3), h(4, -4)) - 1);
  });

  it('stays put when nobody can be reached', () => {
    const s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    const n = resolve(s, 0);
    expect(n.minotaur.pos).toEqual(CAGE.minotaur);
    expect(of(n, 'minotaur-move')).toEqual([]);
  });

  it('stays next to its prey instead of stepping onto it, and strikes the weakest, then the first to join', () => {
    const s = arena(
      [
        { id: 'a', pos: h(1, 0), hp: 4 },
        { id: 'b', pos: h(-1, 0), hp: 3 },
        { id: 'c', pos: h(0, 1), hp: 3 },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    const n = resolve(s, 0);
    expect(n.minotaur.pos).toEqual(h(0, 0));
    expect(of(n, 'minotaur-attack')).toEqual([{ kind: 'minotaur-attack', target: 'b', damage: 2 }]);
  });

  it('deals 1 to a defending character', () => {
    let s = arena(
      [
        { id: 'a', pos: h(1, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    s = act(s, 'a', { kind: 'defend' });
    const n = resolve(s, 0);
    expect(hp(n, 'a')).toBe(4);
  });

  it('chases a character that moved this round and ignores one knocked out by players', () => {
    let s = arena(
      [
        { id: 'a', pos: h(2, 0) },
        { id: 'b', pos: h(3, 0), hp: 1 },
        { id: 'c', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    const n = resolve(s, 0);
    expect(n.players.find((p) => p.id === 'b')!.alive).toBe(false);
    // It stepped next to 'a' and struck it, not the fallen 'b'.
    expect(of(n, 'minotaur-attack')).toEqual([{ kind: 'minotaur-attack', target: 'a', damage: 2 }]);
  });

  it('eliminations by the Minotaur are recorded and can end the game', () => {
    const s = arena(
      [
        { id: 'a', pos: h(1, 0), hp: 2 },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [], round: 7 },
    );
    const n = resolve(s, 123);
    expect(n.players[0]).toMatchObject({ hp: 0, alive: false, eliminatedRound: 7 });
    expect(n.events.at(-1)).toEqual({ kind: 'eliminated', actor: 'a' });
    expect(n).toMatchObject({
      status: 'finished',
      winner: 'b',
      round: 7,
      deadline: null,
      finishedAt: 123,
    });
  });
});

describe('resolveRound: the Minotaur under the rules in force', () => {
  it('steps only in even rounds, and never strikes in the round it steps', () => {
    const odd = arena(
      [
        { id: 'a', pos: h(3, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [], round: 1 },
    );
    const n1 = resolveRound(odd, 0);
    expect(n1.minotaur.pos).toEqual(h(0, 0));
    expect(n1.events).toEqual([]);
    const n2 = resolveRound(n1, 1);
    expect(n1.round).toBe(2);
    expect(n2.minotaur.pos).toEqual(h(1, 0));
    const even = arena(
      [
        { id: 'a', pos: h(2, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [], round: 2 },
    );
    const n = resolveRound(even, 0);
    expect(n.minotaur.pos).toEqual(h(1, 0));
    expect(of(n, 'minotaur-attack')).toEqual([]);
    expect(hp(n, 'a')).toBe(5);
  });

  it('strikes a hero who ends the round beside it, in any round, instead of stepping', () => {
    for (const round of [1, 2]) {
      const s = arena(
        [
          { id: 'a', pos: h(1, 0) },
          { id: 'b', pos: h(-5, 5) },
        ],
        { minotaur: h(0, 0), walls: [], round },
      );
      const n = resolveRound(s, 0);
      expect(n.minotaur.pos).toEqual(h(0, 0));
      expect(of(n, 'minotaur-attack')).toEqual([
        { kind: 'minotaur-attack', target: 'a', damage: 2 },
      ]);
    }
  });

  it('spares a hero who steps away in time', () => {
    let s = arena(
      [
        { id: 'a', pos: h(1, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [], round: 2 },
    );
    s = act(s, 'a', { kind: 'move', dir: 'e' });
    const n = resolveRound(s, 0);
    expect(hp(n, 'a')).toBe(5);
    expect(n.minotaur.pos).toEqual(h(1, 0));
  });

  it('is stopped by a fresh shield, but a shield raised two rounds running lets it through', () => {
    let s = arena(
      [
        { id: 'a', pos: h(1, 0) },
        { id: 'b', pos: h(-5, 5) },
      ],
      { minotaur: h(0, 0), walls: [], round: 1 },
    );
    s = act(s, 'a', { kind: 'defend' });
    const n1 = resolveRound(s, 0);
    expect(hp(n1, 'a')).toBe(5);
    expect(of(n1, 'minotaur-attack')).toEqual([
      { kind: 'minotaur-attack', target: 'a', damage: 0 },
    ]);
    const n2 = resolveRound(act(n1, 'a', { kind: 'defend' }), 1);
    expect(of(n2, 'minotaur-attack')).toEqual([
      { kind: 'minotaur-attack', target: 'a', damage: 2 },
    ]);
    expect(hp(n2, 'a')).toBe(3);
  });
});

describe('resolveRound: ripostes', () => {
  it("a shield throws a hero's blow back at the attacker, even a tired shield", () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'defend' });
    let n = resolveRound(s, 0);
    expect([hp(n, 'a'), hp(n, 'b')]).toEqual([4, 5]);
    expect(of(n, 'riposte')).toEqual([{ kind: 'riposte', actor: 'b', target: 'a', damage: 1 }]);
    expect(n.players.map((p) => p.dealt)).toEqual([0, 1]);
    n = resolveRound(act(act(n, 'a', { kind: 'attack', dir: 'e' }), 'b', { kind: 'defend' }), 1);
    expect([hp(n, 'a'), hp(n, 'b')]).toEqual([3, 5]);
  });

  it('not under the classic rules', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'defend' });
    const n = resolveRound(s, 0, CLASSIC_RULES);
    expect([hp(n, 'a'), hp(n, 'b')]).toEqual([5, 5]);
    expect(of(n, 'riposte')).toEqual([]);
  });
});

describe('resolveRound: bookkeeping and the end of the game', () => {
  it('logs a round in order: defends, moves, attacks, eliminations, then the Minotaur', () => {
    let s = arena(
      [
        { id: 'a', pos: h(2, 0) },
        { id: 'b', pos: h(4, 0), hp: 1 },
        { id: 'c', pos: h(-3, 0) },
        { id: 'd', pos: h(-3, 3) },
      ],
      { minotaur: h(0, 0), walls: [] },
    );
    s = act(s, 'c', { kind: 'move', dir: 'w' });
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'w' });
    s = act(s, 'd', { kind: 'defend' });
    const n = resolveRound(s, 0, CLASSIC_RULES);
    expect(n.events.map((e) => e.kind)).toEqual([
      'defend',
      'move',
      'move',
      'attack',
      'eliminated',
      'minotaur-move',
      'minotaur-attack',
    ]);
    expect(n.events[1]).toMatchObject({ actor: 'b', to: h(3, 0) });
    expect(n.events[2]).toMatchObject({ actor: 'c', to: h(-4, 0) });
  });
  it('moves to the next round with a deadline counted from now', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(-3, 3) },
    ]);
    s = { ...s, deadline: 1000, roundMs: 10_000 };
    s = act(s, 'a', { kind: 'defend', id: 'act-1' });
    const n = resolveRound(s, 50_000);
    expect(n).toMatchObject({
      round: 2,
      deadline: 60_000,
      status: 'playing',
      submitted: {},
      previous: { a: 'act-1' },
    });
  });

  it('does nothing unless playing', () => {
    const open = lobby(['a', 'b']);
    expect(resolveRound(open, 0)).toBe(open);
    const done: GameState = {
      ...caged([
        { id: 'a', pos: h(0, 0) },
        { id: 'b', pos: h(1, 1) },
      ]),
      status: 'finished',
    };
    expect(resolveRound(done, 0)).toBe(done);
  });

  it('ends after maxRounds with the unique healthiest character as winner', () => {
    const s = {
      ...caged([
        { id: 'a', pos: h(0, 0), hp: 3 },
        { id: 'b', pos: h(-3, 3), hp: 4 },
      ]),
      round: 10,
      maxRounds: 10,
    };
    expect(resolveRound(s, 1)).toMatchObject({ status: 'finished', winner: 'b', round: 10 });
  });

  it('ends after maxRounds without winner on a tie', () => {
    const s = {
      ...caged([
        { id: 'a', pos: h(0, 0), hp: 4 },
        { id: 'b', pos: h(-3, 3), hp: 4 },
      ]),
      round: 10,
      maxRounds: 10,
    };
    expect(resolveRound(s, 1)).toMatchObject({ status: 'finished', winner: null });
  });

  it('leaves the state it was given untouched', () => {
    let s = caged([
      { id: 'a', pos: h(0, 0) },
      { id: 'b', pos: h(1, 0) },
    ]);
    s = act(s, 'a', { kind: 'attack', dir: 'e' });
    s = act(s, 'b', { kind: 'move', dir: 'e' });
    const copy = structuredClone(s);
    resolveRound(s, 0);
    expect(s).toEqual(copy);
  });
});
