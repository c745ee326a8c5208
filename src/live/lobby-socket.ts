// One open lobby page: keeps its page of the open-games list, and the games being played, live
// across the whole cluster.

import type { GameState } from '../game/types.js';
import { MAX_PLAYERS } from '../game/types.js';
import type { Logger } from '../log.js';
import type { InboundBudget } from './inbound.js';
import { LiveSocket } from './live-socket.js';
import type { Renderer } from './render.js';
import type { GameSource, LiveWire } from './source.js';
import type { Viewer } from './game-socket.js';

export interface OpenGameRow {
  code: string;
  host: string;
  players: number;
  max: number;
  joined: boolean;
  /** The viewer can join it with one click (not in it, and a seat is free). */
  canJoin: boolean;
}

/** A game being played, as the lobby offers it to watch. */
export interface PlayingGameRow {
  code: string;
  /** The heroes' names, in seat order. */
  heroes: string[];
  standing: number;
  /** The viewer plays in it. */
  joined: boolean;
}

/** Open games shown per lobby page. */
export const LOBBY_PAGE_SIZE = 20;
/** Games being played shown in the lobby (the newest); the rest are counted. */
export const LOBBY_PLAYING_SHOWN = 8;

export interface LobbyPage {
  rows: OpenGameRow[];
  /** 1-based, clamped to the pages there are. */
  page: number;
  pages: number;
  total: number;
  /** The newest games being played, and how many there are in all. */
  playing: { rows: PlayingGameRow[]; total: number };
}

/** Reads a ?page= value: a positive integer, anything else is page 1. */
export function pageParam(value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, n);
}

/** One page of the open games, and the newest games being played; each list newest first. */
export function lobbyPage(games: GameState[], viewerId: string | null, page: number): LobbyPage {
  const open = newest(games, 'open');
  const pages = Math.max(1, Math.ceil(open.length / LOBBY_PAGE_SIZE));
  const at = Math.min(Math.max(1, page), pages);
  const rows = openGameRows(open.slice((at - 1) * LOBBY_PAGE_SIZE, at * LOBBY_PAGE_SIZE), viewerId);
  return { rows, page: at, pages, total: open.length, playing: playingRows(games, viewerId) };
}

/** The games of one status, newest first (then by code). */
function newest(games: GameState[], status: GameState['status']): GameState[] {
  return games
    .filter((g) => g.status === status)
    .sort((a, b) => b.createdAt - a.createdAt || (a.code < b.code ? -1 : 1));
}

/**
 * The newest games being played. A row holds nothing that moves every round (the round, the
 * countdown), so a lobby page is sent something only when a game starts, ends or a hero falls.
 */
function playingRows(games: GameState[], viewerId: string | null): LobbyPage['playing'] {
  const playing = newest(games, 'playing');
  const rows = playing.slice(0, LOBBY_PLAYING_SHOWN).map((g) => ({
    code: g.code,
    heroes: g.players.map((p) => p.name),
    standing: g.players.filter((p) => p.alive).length,
    joined: viewerId !== null && g.players.some((p) => p.id === viewerId),
  }));
  return { rows, total: playing.length };
}

/** The rows of these open games, in their order. */
function openGameRows(games: GameState[], viewerId: string | null): OpenGameRow[] {
  return games.map((g) => ({
    code: g.code,
    host: g.players.find((p) => p.id === g.createdBy)?.name ?? g.players[0]?.name ?? '—',
    players: g.players.length,
    max: MAX_PLAYERS,
    joined: viewerId !== null && g.players.some((p) => p.id === viewerId),
    canJoin:
      viewerId !== null &&
      !g.players.some((p) => p.id === viewerId) &&
      g.players.length < MAX_PLAYERS,
  }));
}

export class LobbyLiveSocket extends LiveSocket {
  constructor(
    wire: LiveWire,
    readonly viewer: Viewer,
    private readonly source: GameSource,
    private readonly renderer: Renderer,
    private readonly logger: Logger,
    budget: InboundBudget,
    private readonly csrfToken: string,
    private readonly page = 1,
  ) {
    super(wire, viewer.id, budget);
  }

  protected onFlood(): void {
    this.logger.warn(
      { user: this.viewer.username },
      'closed a lobby socket that flooded the server with messages',
    );
  }

  /** Starts the lobby's updates; `early` frames arrived before the socket was set up. */
  start(early = 0): void {
    // The lobby page sends nothing; whatever arrives still counts against the account's budget.
    this.wire.on('message', () => void this.admit());
    for (let i = 0; i < early; i++) void this.admit();
    this.wire.on('error', (err) => this.logger.debug({ err: err.message }, 'lobby socket error'));
    // Lobby lists change with every game's every round; 100 ms of coalescing is invisible to
    // people.
    this.listen(
      (l) => this.source.subscribe(l),
      () => true,
      100,
    );
    this.render();
  }

  protected render(): void {
    const html = this.renderer.render('partials/open-games', {
      lobby: lobbyPage(this.source.lobbyGames(), this.viewer.id, this.page),
      user: this.viewer,
      csrfToken: this.csrfToken,
    });
    this.push(new Map([['open-games', html]]));
  }
}
