// One open lobby page: keeps the open-games list live across the whole cluster.

import type { GameState } from '../game/types.js';
import { MAX_PLAYERS } from '../game/types.js';
import type { Logger } from '../log.js';
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

export function openGameRows(games: GameState[], viewerId: string | null): OpenGameRow[] {
  return games
    .filter((g) => g.status === 'open')
    .sort((a, b) => b.createdAt - a.createdAt || (a.code < b.code ? -1 : 1))
    .map((g) => ({
      code: g.code,
      host: g.players.find((p) => p.id === g.createdBy)?.name ?? g.players[0]?.name ?? '—',
      players: g.players.length,
      max: MAX_PLAYERS,
      joined: viewerId !== null && g.players.some((p) => p.id === viewerId),
      canJoin: viewerId !== null && !g.players.some((p) => p.id === viewerId) && g.players.length < MAX_PLAYERS,
    }));
}

export class LobbyLiveSocket extends LiveSocket {
  constructor(
    wire: LiveWire,
    readonly viewer: Viewer,
    private readonly source: GameSource,
    private readonly renderer: Renderer,
    private readonly logger: Logger,
    private readonly csrfToken: string,
  ) {
    super(wire);
  }

  start(): void {
    this.wire.on('message', () => {
      /* the lobby socket only listens */
    });
    this.wire.on('error', (err) => this.logger.debug({ err: err.message }, 'lobby socket error'));
    // Lobby lists change with every game's every round; 100 ms of coalescing is invisible to people.
    this.listen((l) => this.source.subscribe(l), () => true, 100);
    this.render();
  }

  protected render(): void {
    const html = this.renderer.render('partials/open-games', { games: openGameRows(this.source.openGames(), this.viewer.id), user: this.viewer, csrfToken: this.csrfToken });
    this.push(new Map([['open-games', html]]));
  }
}
