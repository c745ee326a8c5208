// Property tests: random games with random (valid and invalid) actions and random clocks keep
// every invariant of the rules, and replaying the same inputs gives the same game.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distance, hexesWithin, key, onBoard } from '../../../src/game/hex.js';
import {
  createGame,
  isRoundDue,
  joinGame,
  resolveRound,
  startGame,
  submitAction,
} from '../../../src/game/rules.js';
import { DIRECTIONS, type GameState, type PlayerAction } from '../../../src/game/types.js';
import { arena } from './fixtures.js';

type Command =
  | {
      t: 'submit';
      who: number;
      kind: 'move' | 'attack' | 'defend' | 'bogus';
      dir: string | undefined;
      roundDelta: number;
    }
  | { t: 'resend'; who: number; fromPrevious: boolean }
  | { t: 'tick'; dt: number };

const arbCommand: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('submit' as const),
      who: fc.integer({ min: 0, max: 8 }),
      kind: fc.constantFrom(
        'move' as const,
        'attack' as const,
        'defend' as const,
        'bogus' as const,
      ),
      dir: fc.oneof(
        fc.constantFrom<string | undefined>(...DIRECTIONS),
        fc.constantFrom<string | undefined>(undefined, 'north', ''),
      ),
      roundDelta: fc.constantFrom(0, 0, 0, 0, -1, 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('resend' as const),
      who: fc.integer({ min: 0, max: 8 }),
      fromPrevious: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('tick' as const),
      dt: fc.integer({ min: 0, max: 25_000 }),
    }),
  },
);

const arbGame = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  players: fc.integer({ min: 2, max: 8 }),
  radius: fc.integer({ min: 3, max: 6 }),
  maxRounds: fc.integer({ min: 1, max: 40 }),
  roundMs: fc.integer({ min: 1000, max: 20_000 }),
  commands: fc.array(arbCommand, { maxLength: 80 }),
});

interface Game {
  seed: number;
  players: number;
  radius: number;
  maxRounds: number;
  roundMs: number;
  commands: Command[];
}

function checkInvariants(s: GameState): void {
  const walls = new Set(s.walls.map(key));
  expect(onBoard(s.minotaur.pos, s.radius)).toBe(true);
  expect(walls.has(key(s.minotaur.pos))).toBe(false);
  const taken = new Set<string>();
  for (const p of s.players) {
    expect(Number.isInteger(p.hp)).toBe(true);
    expect(p.hp).toBeGreaterThanOrEqual(0);
    expect(p.alive).toBe(p.hp > 0);
    expect(p.eliminatedRound === null).toBe(p.alive);
    if (!p.alive) continue;
    const k = key(p.pos);
    expect(onBoard(p.pos, s.radius)).toBe(true);
    expect(walls.has(k)).toBe(false);
    expect(k).not.toBe(key(s.minotaur.pos));
    expect(taken.has(k)).toBe(false);
    taken.add(k);
  }
  expect(s.round).toBeLessThanOrEqual(s.maxRounds);
  if (s.status === 'finished') {
    expect(s.deadline).toBeNull();
    expect(s.winner === null || s.players.some((p) => p.id === s.winner && p.alive)).toBe(true);
  } else {
    expect(s.deadline).not.toBeNull();
    expect(s.players.filter((p) => p.alive).length).toBeGreaterThanOrEqual(2);
  }
  // The state is plain data: it survives JSON and structured cloning unchanged.
  expect(JSON.parse(JSON.stringify(s))).toStrictEqual(s);
  expect(structuredClone(s)).toStrictEqual(s);
}

/** Plays a random game and returns every state it went through. */
function play(game: Game): GameState[] {
  const ids = Array.from({ length: game.players }, (_, i) => `p${i}`);
  let now = 1_000_000;
  let s = createGame({
    id: 'g',
    code: 'ABCD',
    seed: game.seed,
    creator: { id: 'p0', name: 'P0' },
    now,
    roundMs: game.roundMs,
    radius: game.radius,
    maxRounds: game.maxRounds,
  });
  for (const id of ids.slice(1)) {
    const r = joinGame(s, { id, name: id });
    if (!r.ok) throw new Error(r.message);
    s = r.state;
  }
  const started = startGame(s, 'p0', now);
  if (!started.ok) throw new Error(started.message);
  s = started.state;
  const trace: GameState[] = [s];
  checkInvariants(s);

  let counter = 0;
  for (const c of game.commands) {
    if (s.status !== 'playing') break;
    if (c.t === 'submit' || c.t === 'resend') {
      const pid = c.who < ids.length ? (ids[c.who] as string) : 'outsider';
      let action: PlayerAction;
      if (c.t === 'submit') {
        action = {
          id: `x${++counter}`,
          round: s.round + c.roundDelta,
          kind: c.kind as PlayerAction['kind'],
        };
        if (c.dir !== undefined) action.dir = c.dir as PlayerAction['dir'];
      } else {
        const known = c.fromPrevious ? s.previous[pid] : s.submitted[pid]?.id;
        if (known === undefined) continue;
        action = { id: known, round: c.fromPrevious ? s.round - 1 : s.round, kind: 'defend' };
      }
      const before = s;
      const r = submitAction(s, pid, action);
      if (c.t === 'resend') {
        // A resend of an action the game already has is acknowledged and changes nothing.
        expect(r).toEqual({ ok: true, state: before, duplicate: true });
      }
      if (!r.ok) {
        expect(r.message.length).toBeGreaterThan(10);
        continue;
      }
      if (!r.duplicate) {
        // Submitting exactly the same action again is a no-op.
        const again = submitAction(r.state, pid, action);
        expect(again.ok && again.duplicate && again.state === r.state).toBe(true);
      }
      s = r.state;
    } else {
      now += c.dt;
      if (!isRoundDue(s, now)) continue;
      const before = s;
      s = resolveRound(s, now);
      if (s.status === 'playing') {
        expect(s.round).toBe(before.round + 1);
        expect(s.deadline).toBe(now + s.roundMs);
        // Once resolved, the round is not due again at the same instant: it resolves once.
        expect(isRoundDue(s, now)).toBe(false);
      } else {
        expect(s.round).toBe(before.round);
        expect(resolveRound(s, now + 1)).toBe(s);
      }
      expect(Object.keys(s.submitted)).toEqual([]);
    }
    trace.push(s);
    checkInvariants(s);
  }

  // Let the clock run out: the game must end by maxRounds.
  let guard = 0;
  while (s.status === 'playing') {
    expect(++guard).toBeLessThanOrEqual(game.maxRounds);
    now = (s.deadline as number) + 1;
    s = resolveRound(s, now);
    trace.push(s);
    checkInvariants(s);
  }
  expect(s.round).toBeLessThanOrEqual(game.maxRounds);
  expect(s.finishedAt).toBe(now);
  return trace;
}

describe('random games', () => {
  it('keep every invariant and end within maxRounds', () => {
    fc.assert(
      fc.property(arbGame, (game) => void play(game)),
      { numRuns: 150 },
    );
  });

  it('are deterministic: the same seed and inputs give deep-equal states', () => {
    fc.assert(
      fc.property(arbGame, (game) => {
        expect(play(game)).toStrictEqual(play(game));
      }),
      { numRuns: 50 },
    );
  });

  it('with nobody acting, the Minotaur alone eventually ends long games', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 2, max: 8 }),
        (seed, players) => {
          const trace = play({
            seed,
            players,
            radius: 5,
            maxRounds: 400,
            roundMs: 1000,
            commands: [],
          });
          const end = trace.at(-1) as GameState;
          expect(end.status).toBe('finished');
          expect(end.round).toBeLessThan(400);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('crowded rounds', () => {
  // Up to eight characters, the Minotaur and some walls packed on a 19-tile board, every
  // character acting at once: the hardest case for simultaneous moves.
  const tiles = hexesWithin(2);
  const arbCrowd = fc
    .record({
      order: fc.shuffledSubarray(tiles, { minLength: 6, maxLength: 14 }),
      players: fc.integer({ min: 2, max: 8 }),
      actions: fc.array(
        fc.oneof(
          {
            weight: 5,
            arbitrary: fc.record({
              kind: fc.constant('move' as const),
              dir: fc.constantFrom(...DIRECTIONS),
            }),
          },
          fc.record({ kind: fc.constant('attack' as const), dir: fc.constantFrom(...DIRECTIONS) }),
          fc.record({ kind: fc.constant('defend' as const) }),
          fc.constant(null),
        ),
        { minLength: 8, maxLength: 8 },
      ),
      hp: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }),
    })
    .filter((c) => c.order.length >= c.players + 1);

  it('keep characters apart, off walls and off the Minotaur; moves are single steps without swaps', () => {
    fc.assert(
      fc.property(arbCrowd, (c) => {
        const [minotaur, ...rest] = c.order;
        const spots = rest.slice(0, c.players);
        const walls = rest.slice(c.players).sort((a, b) => a.r - b.r || a.q - b.q);
        let s = arena(
          spots.map((pos, i) => ({ id: `p${i}`, pos, hp: c.hp[i] as number })),
          { radius: 2, minotaur, walls },
        );
        const submitted: GameState['submitted'] = {};
        spots.forEach((_, i) => {
          const a = c.actions[i];
          if (a)
            submitted[`p${i}`] = {
              id: `a${i}`,
              round: s.round,
              kind: a.kind,
              ...('dir' in a ? { dir: a.dir } : {}),
            };
        });
        s = { ...s, submitted };
        checkInvariants(s);
        const n = resolveRound(s, 0);
        checkInvariants(n);
        n.players.forEach((p, i) => {
          const before = s.players[i]!;
          const a = s.submitted[p.id];
          if (a?.kind !== 'move') expect(p.pos).toEqual(before.pos);
          else expect(distance(p.pos, before.pos)).toBeLessThanOrEqual(1);
          for (const [j, q] of n.players.entries()) {
            const swapped =
              j !== i && key(q.pos) === key(before.pos) && key(p.pos) === key(s.players[j]!.pos);
            expect(swapped && key(p.pos) !== key(before.pos)).toBe(false);
          }
        });
        expect(distance(n.minotaur.pos, s.minotaur.pos)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });
});
