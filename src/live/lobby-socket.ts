// One open lobby page: keeps its page of the open-games list, and the games being played, live
// across the whole cluster.

import type { GameState } from '../game/types.js';
import { MAX_PLAYERS } from '../game/types.js';
import type { Logger } from '../log.js';
import { escape, Memo, type Dyn, type Rendered } from './html.js';
import type { InboundBudget } from './inbound.js';
import { LiveSocket, type SharedPart, type WireFormat } from './live-socket.js';
import { CSRF_PART, OPEN_GAMES, openGamesPartial } from './lobby-templates.js';
import { Stream } from './patch.js';
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
/** Games being played shown per lobby page, newest first. */
export const LOBBY_PLAYING_SHOWN = 8;

export interface LobbyPage {
  rows: OpenGameRow[];
  /** 1-based, clamped to the pages there are. */
  page: number;
  pages: number;
  total: number;
  /** A page of the games being played (`page` 1-based, clamped), and how many there are. */
  playing: { rows: PlayingGameRow[]; total: number; page: number; pages: number };
}

/** Reads a ?page= value: a positive integer, anything else is page 1. */
export function pageParam(value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, n);
}

/** The games the lobby lists, each list newest first (then by code). */
export interface LobbyLists {
  readonly open: readonly GameState[];
  readonly playing: readonly GameState[];
}

/** The lobby's two lists of these games: open ones and those being played. */
export function lobbyLists(games: readonly GameState[]): LobbyLists {
  return { open: newest(games, 'open'), playing: newest(games, 'playing') };
}

/** One page of the open games (`page`), and one of the games being played (`watch`). */
export function lobbyPage(
  lists: LobbyLists,
  viewerId: string | null,
  page: number,
  watch = 1,
): LobbyPage {
  const { open } = lists;
  const [at, pages] = pageOf(open.length, LOBBY_PAGE_SIZE, page);
  const rows = openGameRows(open.slice((at - 1) * LOBBY_PAGE_SIZE, at * LOBBY_PAGE_SIZE), viewerId);
  return {
    rows,
    page: at,
    pages,
    total: open.length,
    playing: playingRows(lists.playing, viewerId, watch),
  };
}

/** The page asked for, clamped to the pages there are, and how many there are (at least one). */
function pageOf(count: number, size: number, page: number): [number, number] {
  const pages = Math.max(1, Math.ceil(count / size));
  return [Math.min(Math.max(1, page), pages), pages];
}

/** The games of one status, newest first (then by code). */
function newest(games: readonly GameState[], status: GameState['status']): GameState[] {
  return games
    .filter((g) => g.status === status)
    .sort((a, b) => b.createdAt - a.createdAt || (a.code < b.code ? -1 : 1));
}

/** One stream of the lobby's partial, and its trees for the lists now (null: not built yet). */
interface SharedView {
  readonly stream: Stream;
  trees: SharedPart['trees'] | null;
  /** The lists' version it was last asked for at. */
  used: number;
}

/** Changes of the lists a stream nobody asks for is kept through. */
const STREAMS_KEPT = 64;
/** Rows' trees kept (twice this at most: html.ts's Memo): pages of 20 open games and 8 played. */
const ROWS_KEPT = 1024;

/** What the lobby shows of a game; two states with the same face give the same rows. */
function lobbyFace(g: GameState): string | undefined {
  if (g.status !== 'open' && g.status !== 'playing') return undefined;
  let face = `${g.status} ${g.createdAt} ${g.createdBy}`;
  for (const p of g.players) face += ` ${p.id}:${p.alive ? 1 : 0}:${p.name}`;
  return face;
}

/**
 * The lobby's lists, kept once per node for every lobby page on it. A game's record changes
 * with every action and every round, and almost none of those changes shows in the lobby (its
 * rows hold no round and no position): the feed tells its listeners only of changes to what a
 * row shows (a game opened, joined, started, ended, a hero fallen), and sorts the lists once
 * per such change instead of once per page.
 */
export class LobbyFeed {
  /** What the lobby shows of each game it lists (see lobbyFace). */
  readonly #faces = new Map<string, string>();
  readonly #listeners = new Set<(code: string) => void>();
  #lists: LobbyLists | null = null;
  /** Changes of the lists so far. */
  #version = 0;
  /** The pages that show the same thing share a stream and its trees (see `shared`). */
  readonly #shared = new Map<string, SharedView>();
  /**
   * The rows' trees, kept across changes of the lists: a row that moved is the same tree, sent
   * to a page as a reference to the one it holds (lobby-templates.ts).
   */
  readonly rows = new Memo<Rendered>(ROWS_KEPT);

  constructor(private readonly source: Pick<GameSource, 'game' | 'lobbyGames' | 'subscribe'>) {
    for (const g of source.lobbyGames()) {
      const face = lobbyFace(g);
      if (face !== undefined) this.#faces.set(g.code, face);
    }
    source.subscribe((code) => this.#changed(code));
  }

  /** The lists as the lobby shows them now. */
  lists(): LobbyLists {
    return (this.#lists ??= lobbyLists(this.source.lobbyGames()));
  }

  /**
   * The lobby's partial as every page with `key` sees it (the same page of the lists, seen by a
   * viewer in the same games): `build` makes its tree once per change of the lists, and the
   * pages follow one stream of it, so a change is worked out once for all of them and each page
   * is sent only what changed. A key nobody asked for in the last STREAMS_KEPT changes is
   * dropped (a page that comes back to it is sent the whole partial).
   */
  shared(key: string, build: () => Dyn): Omit<SharedPart, 'seat'> {
    let view = this.#shared.get(key);
    if (!view) this.#shared.set(key, (view = { stream: new Stream(), trees: null, used: 0 }));
    const trees = (view.trees ??= [[OPEN_GAMES, build()]]);
    view.used = this.#version;
    return { stream: view.stream, trees };
  }

  /** Called with a game's code whenever what the lobby shows of it changed. */
  subscribe(listener: (code: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(code: string): void {
    const state = this.source.game(code);
    const face = state && lobbyFace(state);
    if (face === this.#faces.get(code)) return;
    if (face === undefined) this.#faces.delete(code);
    else this.#faces.set(code, face);
    this.#lists = null;
    this.#version++;
    for (const [key, view] of this.#shared) {
      if (this.#version - view.used > STREAMS_KEPT) this.#shared.delete(key);
      else view.trees = null;
    }
    for (const l of this.#listeners) l(code);
  }
}

/**
 * A page of the games being played, newest first. A row holds nothing that moves every round
 * (the round, the countdown), so a lobby page is sent something only when a game starts, ends or
 * a hero falls.
 */
function playingRows(
  playing: readonly GameState[],
  viewerId: string | null,
  watch: number,
): LobbyPage['playing'] {
  const [page, pages] = pageOf(playing.length, LOBBY_PLAYING_SHOWN, watch);
  const shown = playing.slice((page - 1) * LOBBY_PLAYING_SHOWN, page * LOBBY_PLAYING_SHOWN);
  const rows = shown.map((g) => ({
    code: g.code,
    heroes: g.players.map((p) => p.name),
    standing: g.players.filter((p) => p.alive).length,
    joined: viewerId !== null && g.players.some((p) => p.id === viewerId),
  }));
  return { rows, total: playing.length, page, pages };
}

/** The rows of these open games, in their order. */
function openGameRows(games: readonly GameState[], viewerId: string | null): OpenGameRow[] {
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
  /** The page's own part: the token of its join forms, escaped as the template escapes it. */
  private readonly own: readonly (readonly [string, Dyn])[];

  constructor(
    wire: LiveWire,
    readonly viewer: Viewer,
    private readonly feed: LobbyFeed,
    private readonly logger: Logger,
    budget: InboundBudget,
    csrfToken: string,
    private readonly page = 1,
    format: WireFormat = 'html',
    /** The page of the games being played. */
    private readonly watch = 1,
    /** The page holds this release's template table (template-script.ts). */
    table = false,
  ) {
    super(wire, viewer.id, budget, format, table);
    this.own = [[CSRF_PART, escape(csrfToken)]];
  }

  protected onSlowReader(): void {
    this.logger.warn(
      { user: this.viewer.username },
      'cut a lobby socket whose page stopped reading its messages',
    );
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
    // A burst of changes (games starting together) is one render: 100 ms of coalescing is
    // invisible to people.
    this.listen(
      (l) => this.feed.subscribe(l),
      () => true,
      100,
    );
    this.render();
  }

  /** Nobody waits on the lobby to play: it renders after the players' pages of a change. */
  protected override watching(): boolean {
    return true;
  }

  protected render(): void {
    const lobby = lobbyPage(this.feed.lists(), this.viewer.id, this.page, this.watch);
    // Pages that show the same rows share one tree and one stream: most viewers are in none of
    // the games listed, and a change reaches every lobby page of the node at once. What differs
    // between viewers of one page of the lists is the games they are in (a row they may join is
    // one they are not in, with a seat free): the key names those, so it stays the same as games
    // come and go, and the page follows one stream (sent what changed, never all again).
    let key = `${lobby.page}/${lobby.playing.page}`;
    for (const r of lobby.rows) if (r.joined) key += ` ${r.code}`;
    key += ' /';
    for (const r of lobby.playing.rows) if (r.joined) key += ` ${r.code}`;
    const { stream, trees } = this.feed.shared(key, () => openGamesPartial(lobby, this.feed.rows));
    this.push(this.own, { stream, trees, seat: -1 });
  }
}
