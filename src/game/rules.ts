// The game's rules as pure functions: open a game, join and leave it, start it, take actions and
// decide when a round is due. Round resolution lives in round.ts and is re-exported here.

import { RULES, type Rules } from './balance.js';
import { DEFAULT_RADIUS, LAIR, assertRadius, generateBoard, startTiles } from './board.js';
import { isDirection } from './hex.js';
import { itemAt } from './lists.js';
import { livingPlayers, playerById, previousBy, submittedBy } from './queries.js';
import { withEntry } from './records.js';
import { createRng, deriveSeed } from './rng.js';
import {
  GAME_SCHEMA,
  MAX_PLAYERS,
  MIN_PLAYERS,
  START_HP,
  type ActionKind,
  type GameState,
  type Hex,
  type Player,
  type PlayerAction,
  type PlayerId,
  type RuleErrorCode,
  type RuleResult,
} from './types.js';

export { resolveRound } from './round.js';
export {
  allTiles,
  defendedLastRound,
  livingPlayers,
  playerById,
  previousBy,
  submittedBy,
  tileKind,
} from './queries.js';

export const DEFAULT_MAX_ROUNDS = 60;
const ASSIGN_STREAM = 3;
const ACTION_KINDS: readonly ActionKind[] = ['move', 'attack', 'defend'];

export interface NewGame {
  id: string;
  code: string;
  seed: number;
  creator: { id: PlayerId; name: string };
  now: number;
  roundMs: number;
  radius?: number;
  maxRounds?: number;
}

/** Opens a game in the lobby with its creator as the first player. Throws on invalid settings. */
export function createGame(options: NewGame): GameState {
  const { id, code, seed, creator, now, roundMs } = options;
  const radius = options.radius ?? DEFAULT_RADIUS;
  const maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
  assertRadius(radius);
  if (!Number.isInteger(seed)) throw new RangeError(`Game seed must be an integer, got ${seed}.`);
  if (!Number.isFinite(roundMs) || roundMs <= 0)
    throw new RangeError(`Round length must be a positive number of milliseconds, got ${roundMs}.`);
  if (!Number.isInteger(maxRounds) || maxRounds < 1)
    throw new RangeError(`maxRounds must be a positive integer, got ${maxRounds}.`);
  const seed32 = seed >>> 0;
  const board = generateBoard(seed32, radius);
  return atStartTiles({
    schema: GAME_SCHEMA,
    id,
    code,
    seed: seed32,
    createdBy: creator.id,
    createdAt: now,
    status: 'open',
    radius,
    walls: board.walls,
    players: [newPlayer(creator, 0)],
    minotaur: { pos: { ...LAIR } },
    round: 0,
    roundMs,
    deadline: null,
    hold: null,
    submitted: {},
    previous: {},
    events: [],
    maxRounds,
    winner: null,
    finishedAt: null,
    chat: [],
    rematch: null,
    rematchOf: null,
  });
}

/**
 * Adds a player to an open game. Joining twice is harmless. A rematch starts (at `now`) as
 * soon as every player of the game before it is back.
 */
export function joinGame(
  state: GameState,
  who: { id: PlayerId; name: string },
  now?: number,
): RuleResult {
  if (playerById(state, who.id)) return same(state);
  if (state.status !== 'open')
    return fail(
      'not-open',
      'This game has already started or finished, so nobody can join it any more.',
    );
  if (state.players.length >= MAX_PLAYERS)
    return fail('game-full', `This game is full: it already has ${MAX_PLAYERS} players.`);
  const color = colorFor(state, who.id, new Set(state.players.map((p) => p.color)));
  const joined = atStartTiles({ ...state, players: [...state.players, newPlayer(who, color)] });
  return startedIfEveryoneBack(joined, now);
}

/**
 * The colour of a hero who sits down, given the colours `used` by the others: in a rematch, the
 * one they had in the game before; otherwise the first one free that no hero of that game who is
 * not back yet had (the first one free if every other is taken).
 */
function colorFor(state: GameState, id: PlayerId, used: ReadonlySet<number>): number {
  const kept = keptColors(state);
  const own = kept.get(id);
  if (own !== undefined && !used.has(own)) return own;
  const awaited = new Set<number>();
  for (const [other, c] of kept) if (other !== id && !playerById(state, other)) awaited.add(c);
  let free = -1;
  for (let c = 0; c < MAX_PLAYERS; c++) {
    if (used.has(c)) continue;
    if (!awaited.has(c)) return c;
    if (free < 0) free = c;
  }
  return free < 0 ? used.size : free;
}

/** Each hero's colour in the game a rematch follows, by id; empty for other games. */
function keptColors(state: GameState): Map<PlayerId, number> {
  const of = state.rematchOf;
  const kept = new Map<PlayerId, number>();
  const colors = of?.colors;
  if (!of || !colors || colors.length !== of.players.length) return kept;
  of.players.forEach((id, i) => kept.set(id, colors[i] ?? -1));
  if (new Set(kept.values()).size !== kept.size) kept.clear();
  return kept;
}

/**
 * `state` with its heroes in the colours a rematch keeps for them: each of the group in their
 * colour of the game before, the others in colours none of the group had (where one is free).
 */
export function inKeptColors(state: GameState): GameState {
  const kept = keptColors(state);
  if (kept.size === 0) return state;
  const used = new Set<number>();
  for (const p of state.players) {
    const c = kept.get(p.id);
    if (c !== undefined) used.add(c);
  }
  const players = state.players.map((p) => {
    let color = kept.get(p.id);
    if (color === undefined) {
      color = colorFor(state, p.id, used);
      used.add(color);
    }
    return color === p.color ? p : { ...p, color };
  });
  return players.every((p, i) => p === state.players[i]) ? state : { ...state, players };
}

/**
 * `state` (changed), started at `now` if it is a rematch that holds every player of the game
 * before it; as it is without `now`.
 */
export function startedIfEveryoneBack(state: GameState, now?: number): RuleResult {
  if (now !== undefined && everyoneBack(state)) {
    const started = startGame(state, state.createdBy, now);
    if (started.ok) return started;
  }
  return changed(state);
}

/** True when an open rematch holds every player of the game before it. */
export function everyoneBack(state: GameState): boolean {
  const group = state.rematchOf?.players;
  return (
    !!group &&
    group.length >= MIN_PLAYERS &&
    group.every((id) => playerById(state, id) !== undefined)
  );
}

/**
 * Removes a player from an open game. When the creator leaves, the next player becomes the
 * creator; when the last player leaves, the game is finished without winner (the caller drops it).
 * Leaving a game one is not in is harmless.
 */
export function leaveGame(state: GameState, playerId: PlayerId, now?: number): RuleResult {
  if (state.status !== 'open')
    return fail('not-open', 'You can only leave a game before it starts.');
  if (!playerById(state, playerId)) return same(state);
  const players = state.players.filter((p) => p.id !== playerId);
  const first = players[0];
  if (!first) {
    return changed({
      ...state,
      players,
      status: 'finished',
      winner: null,
      finishedAt: now ?? null,
    });
  }
  const createdBy = state.createdBy === playerId ? first.id : state.createdBy;
  return changed(atStartTiles({ ...state, players, createdBy }));
}

/**
 * The start tile of each of `n` heroes, by their place in the game's list of players: `n` of the
 * rim's start tiles (next to one another, or as far apart as the rim allows: `rules.startGap`),
 * rotated by the seed, dealt in an order drawn from the seed so the creator has no fixed
 * advantage. The same for the same seed and number of heroes.
 */
function startPositions(
  seed: number,
  radius: number,
  n: number,
  rules: Readonly<Rules> = RULES,
): Hex[] {
  const starts = startTiles(seed, radius);
  const rng = createRng(deriveSeed(seed, ASSIGN_STREAM));
  const offset = rng.int(starts.length);
  const slot = (i: number) =>
    rules.startGap === null ? Math.floor((i * starts.length) / n) : i * rules.startGap;
  const chosen = Array.from({ length: n }, (_, i) =>
    itemAt(starts, (offset + slot(i)) % starts.length),
  );
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  return order.map((o) => itemAt(chosen, o));
}

/**
 * `state` with every hero on the tile the game would start them on now: the waiting room shows
 * each hero where they will start (dealt again when a hero joins or leaves, as the deal depends
 * on how many play), so that nobody moves when the game starts.
 */
function atStartTiles(state: GameState): GameState {
  const tiles = startPositions(state.seed, state.radius, state.players.length);
  return {
    ...state,
    players: state.players.map((p, i) => ({ ...p, pos: { ...itemAt(tiles, i) } })),
  };
}

/** The creator starts an open game of at least MIN_PLAYERS: characters go to their start tiles. */
export function startGame(
  state: GameState,
  playerId: PlayerId,
  now: number,
  rules: Readonly<Rules> = RULES,
): RuleResult {
  if (state.status !== 'open')
    return fail('not-open', 'This game has already started or finished.');
  if (state.createdBy !== playerId)
    return fail('not-creator', 'Only the player who created this game can start it.');
  if (state.players.length < MIN_PLAYERS) {
    return fail(
      'not-enough-players',
      `A game needs at least ${MIN_PLAYERS} players to start; wait for someone to join.`,
    );
  }
  const tiles = startPositions(state.seed, state.radius, state.players.length, rules);
  const players = state.players.map((p, i) => ({
    ...p,
    hp: rules.startHp,
    dealt: 0,
    alive: true,
    eliminatedRound: null,
    pos: { ...itemAt(tiles, i) },
  }));
  return changed({
    ...state,
    status: 'playing',
    players,
    minotaur: { pos: { ...LAIR } },
    round: 1,
    deadline: now + state.roundMs,
    submitted: {},
    previous: {},
    events: [],
  });
}

/**
 * Records a player's action for the current round. A resend of an action that was already
 * recorded (this round) or applied (last round) is acknowledged as a duplicate and changes nothing.
 */
export function submitAction(
  state: GameState,
  playerId: PlayerId,
  action: PlayerAction,
): RuleResult {
  const player = playerById(state, playerId);
  if (player && state.status !== 'open' && isKnownAction(state, playerId, action.id))
    return same(state);
  if (state.status !== 'playing')
    return fail('not-playing', 'This game is not being played right now.');
  if (!player) return fail('not-in-game', 'You are not a player in this game.');
  if (!player.alive)
    return fail('eliminated', 'Your character has been eliminated, so you cannot act any more.');
  if (action.round < state.round) {
    return fail(
      'stale-round',
      `That action was for round ${action.round}, which is over; the game is in round ${state.round}.`,
    );
  }
  if (action.round > state.round) {
    return fail(
      'future-round',
      `That action is for round ${action.round}, but the game is only in round ${state.round}.`,
    );
  }
  if (action.round !== state.round)
    return fail(
      'stale-round',
      `The action's round must be a round number; the game is in round ${state.round}.`,
    );
  if (!ACTION_KINDS.includes(action.kind)) {
    return fail('bad-direction', 'An action must be a move, an attack or a defend.');
  }
  let recorded: PlayerAction;
  if (action.kind === 'defend') recorded = { id: action.id, round: action.round, kind: 'defend' };
  else if (isDirection(action.dir))
    recorded = { id: action.id, round: action.round, kind: action.kind, dir: action.dir };
  else
    return fail(
      'bad-direction',
      `To ${action.kind} you must pick one of the six directions (e, ne, nw, w, sw, se).`,
    );
  if (submittedBy(state, playerId)) {
    return fail(
      'already-submitted',
      `You have already chosen your action for round ${state.round}.`,
    );
  }
  return changed({ ...state, submitted: withEntry(state.submitted, playerId, recorded) });
}

/**
 * True when the current round should be resolved: its deadline passed or every living player
 * acted.
 */
export function isRoundDue(state: GameState, now: number): boolean {
  if (state.status !== 'playing') return false;
  if (state.deadline !== null && now >= state.deadline) return true;
  return everyoneChose(state);
}

/** True when every living player has chosen an action for the current round. */
export function everyoneChose(state: GameState): boolean {
  if (state.status !== 'playing') return false;
  return livingPlayers(state).every((p) => submittedBy(state, p.id) !== undefined);
}

function isKnownAction(state: GameState, playerId: PlayerId, actionId: string): boolean {
  return submittedBy(state, playerId)?.id === actionId || previousBy(state, playerId) === actionId;
}

/** A hero who just sat down: their tile is dealt by the caller (atStartTiles). */
function newPlayer(who: { id: PlayerId; name: string }, color: number): Player {
  return {
    id: who.id,
    name: who.name,
    color,
    hp: START_HP,
    pos: { ...LAIR },
    alive: true,
    eliminatedRound: null,
    dealt: 0,
  };
}

function same(state: GameState): RuleResult {
  return { ok: true, state, duplicate: true };
}

function changed(state: GameState): RuleResult {
  return { ok: true, state, duplicate: false };
}

function fail(code: RuleErrorCode, message: string): RuleResult {
  return { ok: false, code, message };
}
