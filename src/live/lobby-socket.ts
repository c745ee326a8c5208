// One open lobby page: keeps the open-games list live across the whole cluster.

import type { GameState } from '../game/types.js';
import { MAX_PLAYERS } from '../game/types.js';
import type { Logger } from '../log.js';
import { diffPartials, partialsMessage, type Partials } from './diff.js';
import type { Renderer } from './render.js';
import type { GameSource, LiveWire } from './source.js';
import type { Viewer } from './game-socket.js';

export interface OpenGameRow {
  code: string;
  host: string;
  players: number;
  max: number;
  joined: boolean;
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
    }));
}

export class LobbyLiveSocket {
  private sent: Partials | null = null;
  private unsubscribe: (() => void) | null = null;
  private queued = false;
  private closed = false;

  constructor(
    private readonly wire: LiveWire,
    readonly viewer: Viewer,
    private readonly source: GameSource,
    private readonly renderer: Renderer,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.wire.on('message', () => {
      /* the lobby socket only listens */
    });
    this.wire.on('close', () => this.dispose());
    this.wire.on('error', (err) => this.logger.debug({ err: err.message }, 'lobby socket error'));
    this.unsubscribe = this.source.subscribe(() => this.queue());
    this.render();
  }

  private queue(): void {
    if (this.queued || this.closed) return;
    this.queued = true;
    // Lobby lists change with every game's every round; 100 ms of coalescing is invisible to people.
    setTimeout(() => {
      this.queued = false;
      this.render();
    }, 100).unref();
  }

  private render(): void {
    if (this.closed) return;
    const html = this.renderer.render('partials/open-games', { games: openGameRows(this.source.openGames(), this.viewer.id), user: this.viewer });
    const { changed, next } = diffPartials(this.sent, new Map([['open-games', html]]));
    this.sent = next;
    if (changed.length && this.wire.readyState === 1) this.wire.send(partialsMessage(changed));
  }

  close(code: number, reason: string): void {
    try {
      this.wire.close(code, reason);
    } catch {
      /* already closing */
    }
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
