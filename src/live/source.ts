// What the live layer needs from below: read games from the local replica, hear when one
// changes, and send player commands on their way to the owner. Sessions implements it.

import type { GameState } from '../game/types.js';
import type { Command, CommandResult } from '../sessions/commands.js';
import type { Seen } from '../sessions/seen.js';

export interface GameSource {
  game(code: string): GameState | undefined;
  /** The version of the game pages show (its epoch: which run of the game it comes from). */
  shownRecord(code: string): { epoch: number } | undefined;
  /**
   * Whether this node shows the game at least as far as a page saw it (`seen`, for the game
   * `gameId`), after a short wait for a copy that is behind.
   */
  caughtUp(code: string, seen: Seen, gameId: string | null, timeoutMs?: number): Promise<boolean>;
  /** True when the replica holds this game in a schema newer than this release reads. */
  unreadable(code: string): boolean;
  /** The games the lobby lists: open ones and those being played. */
  lobbyGames(): GameState[];
  gamesOf(playerId: string): GameState[];
  /** Called with the code of every game whose record changed in the local replica. */
  subscribe(listener: (code: string) => void): () => void;
  /** Called whenever this one game's record changed in the local replica. */
  watch(code: string, listener: () => void): () => void;
  /**
   * The game, after a short wait when it was just created on another node and is still on its way
   * here.
   */
  awaitGame(code: string, timeoutMs?: number): Promise<GameState | undefined>;
  /**
   * Why a game this node does not show may still exist: 'resuming' (a running game being resumed
   * or on its way here), 'unreachable' (the database cannot be read and this node knows nothing of
   * it); null when there is no such game.
   */
  pending(code: string): Promise<'resuming' | 'unreachable' | null>;
  execute(code: string, command: Command): Promise<CommandResult>;
  /**
   * True when the game runs on a node alive beyond a network cut from this one (it renews its
   * lease; the mesh cannot reach it): its pages belong on a node that reaches it.
   */
  ownerBeyondCut(code: string): Promise<boolean>;
  /** True when the game runs on this node. */
  runsHere(code: string): boolean;
  /** Called about once a second, while a cut lasts, with the games run beyond it. */
  onBeyondCut(listener: (codes: string[]) => void): () => void;
}

/** The part of a WebSocket the live layer uses (web/live-wire.ts wraps a player's ws socket). */
export interface LiveWire {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: unknown, isBinary?: boolean) => void): unknown;
  on(event: 'ping' | 'pong' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'message', listener: (data: unknown, isBinary?: boolean) => void): unknown;
  ping?(): void;
  terminate?(): void;
  /** Holds the socket's writes until `uncork`, so the messages sent meanwhile leave in one. */
  cork?(): void;
  uncork?(): void;
  /** Bytes sent to the socket that have not left for the network yet. */
  readonly bufferedAmount?: number;
}
