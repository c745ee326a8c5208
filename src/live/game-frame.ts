// One render per game state per node, shared by every page that shows it: a Frame builds the
// partials every viewer of a state sees alike (status, board, heroes, round log, table talk)
// once, with marks where a viewer's own differ (the ring around your token, "(you)", your chat
// lines: html.ts, Mark) and a slot for the viewer's reachable tiles; each viewer's own partials
// (actions, end box, reachable tiles) are small. Trees of earlier states whose inputs did not
// change are reused (a hero who did not move keeps the very same token tree), so a differ, which
// compares trees by identity first, skips them at once. The shared partials go to every page of
// the game through one Stream per game (patch.ts): diffed once per state, not once per page.
//
// Per game, the trees kept are bounded (two generations of a few hundred); a game's entry goes
// when the game leaves this node's replica (GameFrames.forget).

import { isDeepStrictEqual } from 'node:util';
import { RULES } from '../game/balance.js';
import { equals, key, neighbor } from '../game/hex.js';
import { defendedLastRound, livingPlayers, submittedBy, tileKind } from '../game/queries.js';
import type { GameState, Player } from '../game/types.js';
import { MAX_PLAYERS } from '../game/types.js';
import {
  actionsPartial,
  around,
  boardPartial,
  bubble,
  chatLine as chatLineTree,
  chatPartial,
  compass,
  dangerTile,
  fallenMark,
  hit,
  intentLine,
  roundLog,
  minotaurNext,
  minotaurPiece,
  NO_OVERLAY,
  overlayPartial,
  playerRow as playerRowTree,
  playersPartial,
  reachTile,
  statusPartial,
  type StatusView,
  submitted,
  tilesPartial,
  token,
  yourMove,
} from './game-templates.js';
import { html, Memo, pageHtml, Slot, type Dyn, type Rendered } from './html.js';
import { Stream } from './patch.js';
import {
  BUBBLE_LINES,
  COMPASS,
  NEIGHBOUR_AT,
  DIRECTION_LABELS,
  EMOTE_VIEW,
  boardView,
  chatLine,
  describe,
  gameView,
  pixel,
  playerRow,
  sharedView,
  tokenLabels,
  tokenView,
  type BoardView,
  type GameView,
  type PlayerRow,
  type ReachTile,
  type SharedView,
} from './view-model.js';

/** The partials of a game page, in the order the page lays them out. */
export const GAME_TARGETS = [
  'game-status',
  'game-board-tiles',
  'game-board',
  'game-overlay',
  'game-actions',
  'game-players',
  'game-log',
  'game-chat',
] as const;
export type GameTarget = (typeof GAME_TARGETS)[number];

/** The page's own target that fills the board's slot: the viewer's reachable tiles. */
export const REACH_SLOT = 'game-board~reach';

/** A viewer's page of a state: the partials every viewer shares, and the viewer's own. */
export interface PageTrees {
  /** The viewer's seat (their colour) in the game, -1 for a spectator: it resolves the marks. */
  seat: number;
  /** The same array for every viewer of the state. */
  shared: readonly (readonly [GameTarget, Dyn])[];
  own: [string, Dyn][];
}

const NO_TREES: readonly Rendered[] = Object.freeze([]);
const REACH = new Slot(REACH_SLOT);
/** No reachable tile that way. */
const NO_REACH = html``;
/** The token of a hero who fell (nothing on the board; the fallen mark shows where). */
const NO_TOKEN = html``;

/** A value and what it was built from (compared by identity: states are immutable). */
interface Kept<T> {
  from: readonly unknown[];
  value: T;
}

function same(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

/** The value kept under `k` if it was built from the same inputs, else a new one (then kept). */
function reuse<T>(store: Map<string, Kept<T>>, k: string, from: unknown[], make: () => T): T {
  const was = store.get(k);
  if (was && same(was.from, from)) return was.value;
  const value = make();
  store.set(k, { from, value });
  return value;
}

/**
 * The parts of a state that trees and views are built from, compared by identity. Not who has
 * chosen (`submitted`): it is a new object only when someone chose, so comparing it in depth
 * found nothing to share, and cost more than anything else here (its keys are account ids, which
 * V8 kept as array indices: listing its keys allocated ~10 KB each time; see game/records.ts).
 */
const PARTS = [
  'walls',
  'players',
  'minotaur',
  'events',
  'chat',
  'hold',
  'rematch',
  'rematchOf',
] as const;

/**
 * `next`, with each part that equals the last state's taken from the last state. A node that
 * does not run a game gets each of its states as new objects (parsed from the mesh), and what
 * is built from a part is reused only while the part is the same object: without this, such a
 * node would build every tree and search the Minotaur's path again on every action.
 *
 * `lastIn` is the state `last` was made from: a part `next` shares with it by identity is
 * `last`'s at once. The owner's own states keep a part's object from one write to the next,
 * but a round makes new ones (the heroes, the Minotaur) that often equal the last; compared
 * only against `last`, those would be compared in depth again on every write of the round.
 */
function sharingParts(lastIn: GameState, last: GameState, next: GameState): GameState {
  let out: Record<string, unknown> | null = null;
  for (const k of PARTS) {
    const was = last[k];
    const now = next[k];
    if (was === now) continue;
    if (now === lastIn[k] || isDeepStrictEqual(was, now)) (out ??= { ...next })[k] = was;
  }
  return (out as GameState | null) ?? next;
}

/** What a node keeps per game: its fixed board and the trees of recent states. */
class GameMemo {
  readonly board: BoardView;
  readonly tiles: Rendered;
  readonly trees = new Memo<Rendered>(400);
  readonly lists = new Memo<readonly Rendered[]>(200);
  /** The shared view of the last state, and what it was computed from (see Frame.shared). */
  lastShared: Kept<SharedView> | null = null;
  /** The last state a frame was made from, and the state the frame holds (its parts shared with
   * the next: sharingParts). */
  last: { from: GameState; shaped: GameState } | null = null;
  lastLog: Kept<Rendered | ''> | null = null;
  /** The last shared partials, with what they were built from. */
  readonly parts = new Map<string, Kept<Rendered>>();
  /** The last token and row of each hero, by player, compared by value (a replica's states are
   * new objects on every change). */
  readonly tokens = new Map<string, Kept<Rendered>>();
  readonly rows = new Map<string, Kept<Rendered>>();
  /** Each viewer's last own partials, with what they were built from. */
  readonly viewers = new Map<string, Map<string, Kept<Dyn>>>();
  /** What every page of the game on this node is sent of the shared partials. */
  readonly stream = new Stream();

  constructor(
    readonly id: string,
    state: GameState,
  ) {
    this.board = boardView(state);
    this.tiles = tilesPartial(this.board);
  }
}

export class GameFrames {
  private readonly games = new Map<string, GameMemo>();
  private readonly frames = new WeakMap<GameState, Frame>();

  /** The frame of a state; `now` is the time of its first render (the countdown's first text). */
  frame(state: GameState, now: number): Frame {
    let f = this.frames.get(state);
    if (f === undefined) {
      const m = this.memo(state);
      const shaped = m.last ? sharingParts(m.last.from, m.last.shaped, state) : state;
      m.last = { from: state, shaped };
      f = new Frame(shaped, m, now);
      this.frames.set(state, f);
    }
    return f;
  }

  /** The stream of a game's shared partials on this node (a new one for a new game). */
  stream(state: GameState): Stream {
    return this.memo(state).stream;
  }

  /** The fixed board of a game (computed once per game per node). */
  board(state: GameState): BoardView {
    return this.memo(state).board;
  }

  /** Drops what is kept for a game code (its game left the replica). */
  forget(code: string): void {
    this.games.delete(code);
  }

  get size(): number {
    return this.games.size;
  }

  private memo(state: GameState): GameMemo {
    let m = this.games.get(state.code);
    if (m === undefined || m.id !== state.id) {
      m = new GameMemo(state.id, state);
      this.games.set(state.code, m);
    }
    return m;
  }
}

/** A state as every viewer on this node sees it. */
export class Frame {
  private sharedView?: SharedView;
  private statusTree?: Rendered;
  private logTree?: Rendered | '';
  private baseRows?: PlayerRow[];
  private living?: Player[];
  private labels?: Map<string, string>;
  private held?: Set<string>;
  private sharedTrees?: PageTrees['shared'];

  constructor(
    readonly state: GameState,
    private readonly game: GameMemo,
    private readonly now: number,
  ) {}

  /**
   * What every viewer shares. It depends on where everyone stands, the round and its events,
   * not on who has chosen: while heroes choose (states that differ only in `submitted`), the
   * same one serves, and the Minotaur's path is not searched again.
   */
  get shared(): SharedView {
    if (this.sharedView) return this.sharedView;
    const s = this.state;
    const from = [s.status, s.round, s.players, s.minotaur, s.events, s.walls, s.radius];
    const last = this.game.lastShared;
    if (last && same(last.from, from)) return (this.sharedView = last.value);
    const value = sharedView(s);
    this.game.lastShared = { from, value };
    return (this.sharedView = value);
  }

  /**
   * The page of `viewer` (null: nobody logged in): the shared partials, and the viewer's own. A
   * viewer's partial whose inputs are the same objects as for the last state this viewer was
   * shown is the same tree (a hero choosing does not change the others' actions).
   */
  page(viewer: string | null, csrfToken: string): PageTrees {
    const s = this.state;
    const me = viewer === null ? undefined : s.players.find((p) => p.id === viewer);
    const key = viewer ?? '';
    let kept = this.game.viewers.get(key);
    if (kept === undefined) this.game.viewers.set(key, (kept = new Map<string, Kept<Dyn>>()));
    const mine = me ? submittedBy(s, me.id) : undefined;
    const canAct = s.status === 'playing' && !!me && me.alive && !mine;
    const ended = s.status === 'finished' || (s.status === 'playing' && !!me && !me.alive);
    return {
      seat: me ? me.color : -1,
      shared: this.shared$(),
      own: [
        ['game-board-tiles', this.game.tiles],
        [
          'game-overlay',
          ended
            ? reuse(
                kept,
                'overlay',
                [s.status, s.players, s.round, s.winner, s.rematch, csrfToken],
                () => overlayPartial(this.view(viewer), csrfToken),
              )
            : NO_OVERLAY,
        ],
        [
          'game-actions',
          reuse(
            kept,
            'actions',
            [
              s.status,
              s.round,
              s.players,
              mine ? s.submitted : canAct,
              s.events,
              s.winner,
              s.createdBy,
              s.rematchOf,
              csrfToken,
            ],
            () => this.actions(me, viewer, csrfToken),
          ),
        ],
        [
          REACH_SLOT,
          reuse(kept, 'reach', [canAct, s.round, me?.pos, s.players, s.minotaur], () =>
            this.reach(me),
          ),
        ],
      ],
    };
  }

  /** Every partial of the page of `viewer` as HTML, by target (a first response). */
  html(viewer: string | null, csrfToken: string): Map<string, string> {
    const p = this.page(viewer, csrfToken);
    return pageHtml(p.shared, p.own, p.seat);
  }

  /** The partials every viewer shares, built once per state. */
  private shared$(): PageTrees['shared'] {
    if (this.sharedTrees) return this.sharedTrees;
    const s = this.state;
    const { parts } = this.game;
    return (this.sharedTrees = [
      ['game-status', this.status()],
      ['game-board', reuse(parts, 'board', [this.shared, s.players, s.chat], () => this.board())],
      [
        'game-players',
        reuse(parts, 'players', [s.status, s.players, s.submitted, s.winner, s.createdBy], () =>
          this.players(),
        ),
      ],
      ['game-log', this.log()],
      ['game-chat', reuse(parts, 'chat', [s.chat, s.players], () => this.chat())],
    ]);
  }

  // ── shared by every viewer of the state ───────────────────────────────────────────────

  status(): Rendered {
    return (this.statusTree ??= this.statusAt(this.now));
  }

  /**
   * The status bar with its countdown as of `now` (a page's first response shows the time left
   * then).
   */
  statusAt(now: number): Rendered {
    const s = this.state;
    const sh = this.shared;
    const i = sh.intent;
    const seat = this.seatOf(sh.huntedId);
    const intent = i
      ? this.game.trees.get(`intent:${i.besideSomeone}:${i.steps}:${i.hunted}:${seat}`, () =>
          intentLine(i, seat),
        )
      : '';
    const rematchOf =
      s.rematchOf && s.status === 'open'
        ? {
            code: s.rematchOf.code,
            back: s.rematchOf.players.filter((id) => s.players.some((p) => p.id === id)).length,
            total: s.rematchOf.players.length,
          }
        : null;
    const view: StatusView = {
      status: s.status,
      playerCount: s.players.length,
      maxPlayers: MAX_PLAYERS,
      rematchOf,
      round: s.round,
      maxRounds: s.maxRounds,
      deadline: s.deadline,
      roundSeconds: Math.round(s.roundMs / 1000),
      waitingFor: this.waiting().map((p) => p.name),
      hold:
        s.status === 'playing' && s.hold
          ? {
              names: s.hold.waiting.map((id) => s.players.find((p) => p.id === id)?.name ?? '?'),
              until: s.hold.until,
            }
          : null,
    };
    return statusPartial(view, now, intent);
  }

  log(): Rendered | '' {
    if (this.logTree !== undefined) return this.logTree;
    const s = this.state;
    // The log changes only when a round resolves: the events array is then a new one.
    const from = [s.status, s.round, s.events];
    const last = this.game.lastLog;
    if (last && same(last.from, from)) return (this.logTree = last.value);
    const logRound = s.status === 'finished' ? s.round : s.round - 1;
    const value =
      s.status === 'open'
        ? ''
        : roundLog(
            logRound,
            s.events.map((e) => describe(s, e)),
          );
    this.game.lastLog = { from, value };
    return (this.logTree = value);
  }

  /** The living heroes who have not chosen this round. */
  private waiting(): Player[] {
    return this.state.status === 'playing'
      ? this.livingPlayers().filter((p) => submittedBy(this.state, p.id) === undefined)
      : [];
  }

  private livingPlayers(): Player[] {
    return (this.living ??= livingPlayers(this.state));
  }

  private rows(): PlayerRow[] {
    return (this.baseRows ??= this.state.players.map((p) => playerRow(this.state, p, null)));
  }

  /** The seat of a hero of the game (a mark for their page), or false for anyone else. */
  private seatOf(id: string | null | undefined): number | false {
    const p = id ? this.state.players.find((x) => x.id === id) : undefined;
    return p ? p.color : false;
  }

  // ── shared, with marks for each viewer's own ──────────────────────────────────────────

  private board(): Rendered {
    const s = this.state;
    const sh = this.shared;
    const { trees, lists } = this.game;
    const at = s.minotaur.pos;
    const beside = sh.danger;
    // Placed from the Minotaur's tile: the same tiles wherever the same neighbours are floor.
    const danger =
      beside === null
        ? NO_TREES
        : lists.get(`danger:${at.q},${at.r}`, () => [
            around(
              beside,
              lists.get(`danger-tiles:${beside.tiles.map((t) => `${t.x},${t.y}`).join('|')}`, () =>
                beside.tiles.map(dangerTile),
              ),
            ),
          ]);
    const mn = sh.minotaurNext;
    const next = mn ? trees.get(`next:${mn.x},${mn.y}`, () => minotaurNext(mn)) : '';
    // Each mark kept as it is: one that a later fall pushed along the list is sent as a move.
    const fallen =
      sh.fallen.length === 0
        ? NO_TREES
        : lists.get(
            `fallen:${sh.fallen.map((f) => `${f.id}@${f.x},${f.y}:${f.round}`).join('|')}`,
            () =>
              sh.fallen.map((f) =>
                trees.get(`fallen:${f.id}@${f.x},${f.y}:${f.round}:${f.name}`, () => fallenMark(f)),
              ),
          );
    const mp = pixel(at);
    const minotaur = trees.get(`minotaur:${mp.x},${mp.y}`, () => minotaurPiece(mp));
    return boardPartial({
      viewBox: this.game.board.viewBox,
      danger,
      next,
      reach: REACH,
      fallen,
      minotaur,
      // One place per seat, empty once its hero fell: the tokens after a fallen hero's keep their
      // places in the list, so a fall changes one item instead of shifting every later token.
      tokens: s.players.map((p) => (p.alive ? this.token(p) : NO_TOKEN)),
      hits: this.hits(),
      bubbles: this.bubbles(),
    });
  }

  /** Blows of the last round where they landed; each striker's own are marked on their page. */
  private hits(): readonly Rendered[] {
    const sh = this.shared;
    if (sh.hits.length === 0) return NO_TREES;
    return sh.hits.map(({ playerId, ...h }) => {
      const seat = this.seatOf(playerId);
      return this.game.trees.get(
        `hit:${h.id}:${seat}:${h.x},${h.y}:${h.kind}:${h.text}:${h.label}`,
        () => hit({ ...h, me: seat }),
      );
    });
  }

  private token(p: Player): Rendered {
    const s = this.state;
    const hunted = p.id === this.shared.huntedId;
    // What tokens show, from every hero's name: once per state, for every viewer.
    const label = (this.labels ??= tokenLabels(s.players)).get(p.id) ?? '?';
    return reuse(
      this.game.tokens,
      p.id,
      [p.pos.q, p.pos.r, p.hp, hunted, p.color, p.name, label],
      () => token(tokenView(p, label, { me: p.color, hunted })),
    );
  }

  private canAct(me: Player | undefined): me is Player {
    return this.state.status === 'playing' && !!me && me.alive && !submittedBy(this.state, me.id);
  }

  private reach(me: Player | undefined): readonly Rendered[] {
    if (!this.canAct(me)) return NO_TREES;
    const s = this.state;
    const held = (this.held ??= new Set(this.livingPlayers().map((p) => key(p.pos))));
    // One entry per direction, in compass order (nothing where there is no floor), placed from
    // the hero's tile: wherever the hero stands, the same tiles where the same ones are open.
    const tiles: (ReachTile | null)[] = [];
    for (const dir of COMPASS) {
      const to = neighbor(me.pos, dir);
      tiles.push(
        tileKind(s, to) !== 'floor'
          ? null
          : {
              dir,
              ...NEIGHBOUR_AT[dir],
              ...DIRECTION_LABELS[dir],
              walkable: !equals(to, s.minotaur.pos),
              held: held.has(key(to)),
            },
      );
    }
    const open = tiles.map((t) => (t === null ? '-' : !t.walkable ? 0 : t.held ? 2 : 1)).join('');
    const { lists } = this.game;
    return lists.get(`reach:${me.pos.q},${me.pos.r}:${open}`, () => [
      around(
        pixel(me.pos),
        lists.get(`reach-tiles:${open}`, () =>
          tiles.map((t) => (t === null ? NO_REACH : reachTile(t))),
        ),
      ),
    ]);
  }

  private bubbles(): readonly Rendered[] {
    const s = this.state;
    const out: Rendered[] = [];
    for (const l of s.chat.slice(-BUBBLE_LINES)) {
      if (l.kind !== 'react') continue;
      const p = s.players.find((x) => x.id === l.by && x.alive);
      if (!p) continue;
      const at = pixel(p.pos);
      const text = EMOTE_VIEW[l.emote].text;
      out.push(
        this.game.trees.get(`bubble:${l.n}:${at.x},${at.y}:${text}`, () =>
          bubble({ id: `bubble-${l.n}`, ...at, text }),
        ),
      );
    }
    return out.length === 0 ? NO_TREES : out;
  }

  private players(): Rendered {
    const s = this.state;
    const rows = this.rows().map((r, i) =>
      reuse(
        this.game.rows,
        r.id,
        [s.status, r.hp, r.alive, r.submitted, r.creator, s.winner === r.id, r.colorIndex, r.name],
        () =>
          playerRowTree(
            { ...r, me: s.players[i]?.color ?? false },
            { status: s.status, winnerId: s.winner },
          ),
      ),
    );
    return playersPartial(rows);
  }

  private actions(me: Player | undefined, viewer: string | null, csrfToken: string): Rendered {
    const s = this.state;
    // Built, not looked up in the game's cache of trees: a viewer's panel is kept for as long as
    // its inputs stay the same objects (page()), and a key of its own (the round, who is still
    // choosing) almost never came back: about 27,500 of the cache's 40,000 misses in 100
    // seeded games were these panels, each kept until the cache dropped it, long after the
    // round.
    if (s.status === 'playing' && me && me.alive) {
      const mine = submittedBy(s, me.id);
      if (mine) {
        const label =
          mine.kind === 'defend'
            ? 'Defend'
            : `${mine.kind === 'move' ? 'Move' : 'Attack'} ${mine.dir ? DIRECTION_LABELS[mine.dir].name : ''}`;
        const others = this.waiting()
          .filter((p) => p.id !== me.id)
          .map((p) => p.name);
        return html`${yourMove(s.round, submitted(s.round, label, others))}\n`;
      }
      const dirs = COMPASS.map((d) => {
        const to = neighbor(me.pos, d);
        return {
          dir: d,
          ...DIRECTION_LABELS[d],
          open: tileKind(s, to) === 'floor',
          minotaur: equals(to, s.minotaur.pos),
        };
      });
      const tired = RULES.tiredShield && defendedLastRound(s, me.id);
      return html`${yourMove(s.round, compass(s.round, dirs, tired))}\n`;
    }
    return actionsPartial(this.view(viewer), csrfToken);
  }

  private chat(): Rendered {
    const s = this.state;
    // A line is kept by its number and its author's seat: an author who left the game shows as
    // such (and their colour may go to someone who joins after).
    const lines = s.chat.map((l) => {
      const seat = this.seatOf(l.by);
      return this.game.trees.get(`chat:${l.n}:${seat}`, () =>
        chatLineTree({ ...chatLine(s, l, null), me: seat }),
      );
    });
    return chatPartial(lines, { player: 'seated', archived: false });
  }

  /** The whole view of a viewer, for the parts that are rare enough not to need sharing. */
  private view(viewer: string | null): GameView {
    return gameView(this.state, viewer, this.game.board, this.shared);
  }
}
