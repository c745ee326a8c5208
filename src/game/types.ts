// The shape of a game: plain, serialisable data that the pure rules transform and the
// replicated store ships between nodes. Bump GAME_SCHEMA when this shape changes.

export const GAME_SCHEMA = 3;

export const MIN_PLAYERS = 2;
export const MAX_PLAYERS = 8;
export const START_HP = 5;

/** Axial hex coordinates (pointy-top). */
export interface Hex {
  q: number;
  r: number;
}

/** The six neighbours of a pointy-top hex. */
export type Direction = 'e' | 'ne' | 'nw' | 'w' | 'sw' | 'se';
export const DIRECTIONS = [
  'e',
  'ne',
  'nw',
  'w',
  'sw',
  'se',
] as const satisfies readonly Direction[];

export type ActionKind = 'move' | 'attack' | 'defend';

/** One player's action for one round. `id` is chosen by the page so a resend is recognised. */
export interface PlayerAction {
  id: string;
  round: number;
  kind: ActionKind;
  /** Required for move and attack, absent for defend. */
  dir?: Direction;
}

export type PlayerId = string;

export interface Player {
  id: PlayerId;
  name: string;
  /** Index into the palette (0..7), fixed at join. */
  color: number;
  hp: number;
  pos: Hex;
  alive: boolean;
  eliminatedRound: number | null;
  /** Damage this character dealt to other characters (schema 2). */
  dealt: number;
}

export interface Minotaur {
  pos: Hex;
}

export type GameStatus = 'open' | 'playing' | 'finished';

/** What happened in a resolved round, for the page's round log. */
export type RoundEvent =
  | { kind: 'move'; actor: PlayerId; from: Hex; to: Hex }
  | { kind: 'blocked'; actor: PlayerId; at: Hex }
  | {
      kind: 'attack';
      actor: PlayerId;
      /** The hero struck; 'minotaur' when the blow fell on the Minotaur; null on an empty tile. */
      target: PlayerId | null;
      at: Hex;
      damage: number;
    }
  | { kind: 'defend'; actor: PlayerId }
  | { kind: 'riposte'; actor: PlayerId; target: PlayerId; damage: number }
  | { kind: 'minotaur-move'; from: Hex; to: Hex }
  | { kind: 'minotaur-attack'; target: PlayerId; damage: number }
  | { kind: 'eliminated'; actor: PlayerId };

/**
 * A round paused for players who are away because of an outage (schema 3): after the whole
 * cluster restarted or a node died, the clock waits until every living player is back or
 * `until` passes, then a full round starts.
 */
export interface RoundHold {
  /** Absolute time (ms) at which the round starts even if some players are still away. */
  until: number;
  /** Living players not yet back. */
  waiting: PlayerId[];
}

/** Quick calls a player can send with one click (the page words them). */
export const EMOTES = ['gg', 'nice', 'oops', 'run', 'truce', 'traitor', 'help', 'taunt'] as const;
export type Emote = (typeof EMOTES)[number];

/**
 * One line of a game's table talk (schema 3): a short message or a reaction. `name` is its
 * author's name when it was said, so the line keeps it after its author left a game that had not
 * started (lines written by earlier releases have none).
 */
export type ChatLine =
  | { n: number; by: PlayerId; name?: string; kind: 'say'; text: string }
  | { n: number; by: PlayerId; name?: string; kind: 'react'; emote: Emote };

/** The game that a finished game's group was invited to play next (schema 3). */
export interface Rematch {
  code: string;
  by: PlayerId;
}

/** For a rematch (schema 3): the game it follows and who played it; it starts once all are back. */
export interface RematchOf {
  code: string;
  players: PlayerId[];
  /**
   * The colour each of `players` had in that game, in the same order: theirs again here (absent
   * where an earlier release marked the rematch).
   */
  colors?: number[];
}

export interface GameState {
  schema: number;
  /** Unique id of this game (never reused). */
  id: string;
  /** Four capital letters; unique among games that are not finished. */
  code: string;
  seed: number;
  createdBy: PlayerId;
  createdAt: number;
  status: GameStatus;
  /** Board radius in hexes; tiles are all hexes within this distance of the origin. */
  radius: number;
  /** Wall tiles, sorted by (r, q). */
  walls: Hex[];
  players: Player[];
  minotaur: Minotaur;
  /** 0 while open; the current round number while playing; the last round once finished. */
  round: number;
  roundMs: number;
  /**
   * Absolute time (ms since epoch) at which the current round resolves; null unless playing (and
   * not held).
   */
  deadline: number | null;
  /** Set while the round waits for players to come back after an outage (schema 3). */
  hold: RoundHold | null;
  /** Actions submitted for the current round, by player. */
  submitted: Record<PlayerId, PlayerAction>;
  /** Action ids applied in the previous round, by player, so a late resend is recognised. */
  previous: Record<PlayerId, string>;
  /** Events of the last resolved round. */
  events: RoundEvent[];
  /** The game ends after this many rounds at the latest. */
  maxRounds: number;
  winner: PlayerId | null;
  finishedAt: number | null;
  /** The latest table talk, oldest first, at most CHAT_KEEP lines (schema 3). */
  chat: ChatLine[];
  /** Set on a finished game once one of its players opened a rematch (schema 3). */
  rematch: Rematch | null;
  /** Set on a rematch: the game before it and its players (schema 3). */
  rematchOf: RematchOf | null;
}

/** Stable error codes of the rules; each comes with a sentence for the player. */
export type RuleErrorCode =
  | 'game-full'
  | 'not-open'
  | 'not-creator'
  | 'not-enough-players'
  | 'not-playing'
  | 'not-in-game'
  | 'eliminated'
  | 'stale-round'
  | 'future-round'
  | 'already-submitted'
  | 'bad-direction'
  | 'not-finished'
  | 'rematch-exists'
  | 'empty-message'
  | 'bad-emote';

export type RuleResult =
  | { ok: true; state: GameState; duplicate: boolean }
  | { ok: false; code: RuleErrorCode; message: string };
