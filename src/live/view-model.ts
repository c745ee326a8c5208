// Turns a game state and the person looking at it into plain display data for the
// templates: pixel positions of hexes, colours, labels, what this viewer may do now, where
// the danger is. Pure: the same input always gives the same output, so the partial differ
// can compare HTML.

import type {
  ChatLine,
  Direction,
  Emote,
  GameState,
  Hex,
  Player,
  RoundEvent,
} from '../game/types.js';
import { EMOTES, MAX_PLAYERS, MIN_PLAYERS } from '../game/types.js';
import { RULES } from '../game/balance.js';
import { equals, key, neighbor } from '../game/hex.js';
import { minotaurQuarry, minotaurStep, minotaurTarget } from '../game/minotaur.js';
import {
  allTiles,
  defendedLastRound,
  livingPlayers,
  submittedBy,
  tileKind,
  wallKeys,
} from '../game/queries.js';
import { minotaurStepsIn } from '../game/round.js';

export const PALETTE = [
  '#e4572e',
  '#29a3d6',
  '#f2c14e',
  '#6bbf59',
  '#b467d6',
  '#ef7fb0',
  '#45c4b0',
  '#f08a4b',
] as const;
export const PALETTE_NAMES = [
  'Ember',
  'Sky',
  'Gold',
  'Moss',
  'Violet',
  'Rose',
  'Teal',
  'Amber',
] as const;

const HEX_SIZE = 30;
const SQRT3 = Math.sqrt(3);

/** How each direction is shown and which key plays it (Shift with the key attacks). */
export const DIRECTION_LABELS: Record<Direction, { arrow: string; name: string; key: string }> = {
  nw: { arrow: '↖', name: 'north-west', key: 'Q' },
  ne: { arrow: '↗', name: 'north-east', key: 'E' },
  w: { arrow: '←', name: 'west', key: 'A' },
  e: { arrow: '→', name: 'east', key: 'D' },
  sw: { arrow: '↙', name: 'south-west', key: 'Z' },
  se: { arrow: '↘', name: 'south-east', key: 'C' },
};

export const EMOTE_VIEW: Record<Emote, { text: string; label: string }> = {
  gg: { text: 'Good game!', label: 'Good game' },
  nice: { text: 'Nice!', label: 'Nice' },
  oops: { text: 'Oops!', label: 'Oops' },
  run: { text: 'Run!', label: 'Run' },
  truce: { text: 'Truce?', label: 'Truce' },
  traitor: { text: 'Traitor!', label: 'Traitor' },
  help: { text: 'Help!', label: 'Help' },
  taunt: { text: 'Come at me!', label: 'Come at me' },
};

/** The reaction buttons, in order. */
export const EMOTE_BUTTONS: readonly { id: Emote; text: string; label: string }[] = EMOTES.map(
  (id) => ({ id, ...EMOTE_VIEW[id] }),
);

/** Reactions drawn over the heroes: only the latest few lines of table talk. */
export const BUBBLE_LINES = 4;

export interface TileView {
  q: number;
  r: number;
  x: number;
  y: number;
  points: string;
  kind: 'wall' | 'floor' | 'lair';
}

/**
 * A tile next to the viewer's character: clickable to move there, and highlighted when aimed at.
 */
/**
 * Tiles around one tile (the Minotaur's, the viewer's hero's): the centre in the board's pixels,
 * and each tile placed from it. Where a neighbour lies from its tile is the same on every tile
 * (NEIGHBOUR_AT), so when the piece moves, only the centre changes on the page.
 */
export interface Around<T> {
  x: number;
  y: number;
  tiles: T[];
}

/** A tile the viewer's hero can reach: x and y from the hero's tile. */
export interface ReachTile {
  dir: Direction;
  x: number;
  y: number;
  name: string;
  key: string;
  /** False for the Minotaur's tile, where no hero can step: it can still be attacked. */
  walkable: boolean;
  /** A hero stands there: a move onto it succeeds only if that hero moves away this round. */
  held: boolean;
}

export interface TokenView {
  id: string;
  name: string;
  /** What the token shows: the hero's initial, two letters where initials are shared. */
  label: string;
  color: string;
  x: number;
  y: number;
  hp: number;
  me: boolean;
  /** The hero the Minotaur is walking toward. */
  hunted: boolean;
}

/** Where a fallen hero fell: a faded mark (the tile is free again). */
export interface FallenView {
  id: string;
  name: string;
  x: number;
  y: number;
  round: number | null;
}

export interface PlayerRow {
  id: string;
  name: string;
  color: string;
  colorIndex: number;
  colorName: string;
  hp: number;
  maxHp: number;
  alive: boolean;
  me: boolean;
  submitted: boolean;
  creator: boolean;
  dealt: number;
  eliminatedRound: number | null;
}

/**
 * Damage, a blocked blow, or a shield nobody struck, shown on the board where it happened, for
 * the round just played: each fades once shown, as the next round's choices are secret.
 */
export interface HitView {
  id: string;
  x: number;
  y: number;
  text: string;
  kind: 'hurt' | 'blocked' | 'shield';
  label: string;
  /** The viewer's own hero was hit. */
  me: boolean;
}

export interface ChatLineView {
  n: number;
  name: string;
  /** The author's seat colour, or -1 for an author who left the game. */
  colorIndex: number;
  me: boolean;
  text: string;
  /** A quick call rather than typed text. */
  call: boolean;
}

/**
 * A hero's line in the final standings: `place` is shared by heroes the game cannot tell apart
 * (standard competition ranking, 1, 2, 2, 4): the winner alone; survivors by health; the fallen
 * by the round they fell in, the last to fall first. Damage dealt only orders heroes who tie.
 */
export interface Standing extends PlayerRow {
  place: number;
}

export interface BubbleView {
  id: string;
  x: number;
  y: number;
  text: string;
}

export interface GameView {
  code: string;
  status: GameState['status'];
  round: number;
  maxRounds: number;
  deadline: number | null;
  roundSeconds: number;
  viewBox: string;
  tiles: TileView[];
  /** The tiles the viewer's hero can reach this round, placed from the hero's tile; or null. */
  reach: Around<ReachTile> | null;
  tokens: TokenView[];
  fallen: FallenView[];
  minotaur: { x: number; y: number };
  /** Tiles beside the Minotaur, placed from its tile: the weakest hero there then is struck. */
  danger: Around<{ x: number; y: number }> | null;
  /** The tile the Minotaur steps to this round if nobody ends the round beside it. */
  minotaurNext: { x: number; y: number } | null;
  /** Whom the Minotaur is after, and whether it takes a step this round. */
  intent: { hunted: string | null; steps: boolean; besideSomeone: boolean } | null;
  players: PlayerRow[];
  /** Players best first: the winner, survivors by health, then the fallen, last to fall first. */
  standings: Standing[];
  playerCount: number;
  minPlayers: number;
  maxPlayers: number;
  me: PlayerRow | null;
  isCreator: boolean;
  canJoin: boolean;
  canStart: boolean;
  /** The viewer's action for this round, if already submitted. */
  myAction: { kind: string; label: string } | null;
  /**
   * Directions the viewer can act in this round (adjacent tiles that are not walls / off board);
   * `minotaur`: the Minotaur stands there, so a move that way is always blocked (a blow is not).
   */
  moveDirs: {
    dir: Direction;
    arrow: string;
    name: string;
    key: string;
    open: boolean;
    minotaur: boolean;
  }[];
  canAct: boolean;
  /** The viewer raised a shield last round: a second one in a row does not stop the Minotaur. */
  shieldTired: boolean;
  /** Names of living players who have not chosen this round. */
  waitingFor: string[];
  /** The round waits for heroes who were away because of a server outage (until `until`, ms). */
  hold: { names: string[]; until: number } | null;
  /** What happened in the round last played (`logRound`). */
  log: string[];
  logRound: number;
  hits: HitView[];
  winner: PlayerRow | null;
  /** 'won' | 'lost' | 'eliminated' | 'draw' | null — which end screen this viewer sees. */
  outcome: 'won' | 'lost' | 'eliminated' | 'draw' | null;
  chat: ChatLineView[];
  emotes: readonly { id: Emote; text: string; label: string }[];
  bubbles: BubbleView[];
  /** The game this one's group was invited to next, once a player opened it. */
  rematch: { code: string; by: string } | null;
  canRematch: boolean;
  /** For a rematch still open: how many of the previous game's players are back. */
  rematchOf: { code: string; back: number; total: number } | null;
}

export function pixel(h: Hex): { x: number; y: number } {
  return { x: round2(HEX_SIZE * SQRT3 * (h.q + h.r / 2)), y: round2(HEX_SIZE * 1.5 * h.r) };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * The outline of a tile around its centre: an overlay on a tile (danger, reach) is this shape
 * moved to the tile's centre, so a page is sent two numbers per tile rather than twelve.
 */
export function tileOutline(): string {
  return corners(0, 0);
}

function corners(x: number, y: number): string {
  const pts: string[] = [];
  for (let i = 0; i < 6; i++) {
    const a = (Math.PI / 180) * (60 * i - 30);
    pts.push(
      `${round2(x + (HEX_SIZE - 1.5) * Math.cos(a))},${round2(y + (HEX_SIZE - 1.5) * Math.sin(a))}`,
    );
  }
  return pts.join(' ');
}

export function colorOf(p: Player): string {
  return PALETTE[p.color % PALETTE.length] ?? PALETTE[0];
}

export function playerRow(g: GameState, p: Player, viewer: string | null): PlayerRow {
  return {
    id: p.id,
    name: p.name,
    color: colorOf(p),
    colorIndex: p.color % PALETTE.length,
    colorName: PALETTE_NAMES[p.color % PALETTE_NAMES.length] ?? PALETTE_NAMES[0],
    hp: p.hp,
    maxHp: RULES.startHp,
    alive: p.alive,
    me: p.id === viewer,
    submitted: g.status === 'playing' && submittedBy(g, p.id) !== undefined,
    creator: p.id === g.createdBy,
    dealt: p.dealt,
    eliminatedRound: p.eliminatedRound,
  };
}

function nameIn(g: GameState, id: string | null | undefined): string {
  return id === 'minotaur'
    ? 'the Minotaur'
    : (g.players.find((p) => p.id === id)?.name ?? 'someone');
}

export function describe(g: GameState, e: RoundEvent): string {
  const name = (id: string | null | undefined) => nameIn(g, id);
  switch (e.kind) {
    case 'move':
      return `${name(e.actor)} moved.`;
    case 'blocked':
      return `${name(e.actor)} was blocked.`;
    case 'attack':
      return e.target === null
        ? `${name(e.actor)} struck at empty air.`
        : e.target === 'minotaur'
          ? `${name(e.actor)} struck the Minotaur, which shrugged it off.`
          : e.damage > 0
            ? `${name(e.actor)} hit ${name(e.target)} for ${e.damage}.`
            : `${name(e.actor)} attacked ${name(e.target)}, who blocked it.`;
    case 'riposte':
      return `${name(e.actor)}'s shield threw the blow back at ${name(e.target)} for ${e.damage}.`;
    case 'defend':
      return `${name(e.actor)} raised a shield.`;
    case 'minotaur-move':
      return 'The Minotaur prowled closer.';
    case 'minotaur-attack': {
      if (e.damage === 0) return `The Minotaur charged ${name(e.target)}, who held firm.`;
      // Under rules where a shield stops the Minotaur unless tired, one raised that round that it
      // went through was tired (raised the round before too).
      const tired =
        RULES.tiredShield &&
        RULES.minotaurDamageDefended === 0 &&
        g.events.some((d) => d.kind === 'defend' && d.actor === e.target);
      return `The Minotaur gored ${name(e.target)} for ${e.damage}${tired ? ' through a tired shield' : ''}!`;
    }
    case 'eliminated':
      return `${name(e.actor)} has fallen.`;
  }
}

/** Damage per hero in the events of the last round, drawn where it landed. */
function hitsOf(g: GameState, round: number): SharedView['hits'] {
  const taken = new Map<string, { damage: number; blocked: boolean }>();
  const note = (id: string, damage: number) => {
    const t = taken.get(id) ?? { damage: 0, blocked: false };
    if (damage > 0) t.damage += damage;
    else t.blocked = true;
    taken.set(id, t);
  };
  for (const e of g.events) {
    if (e.kind === 'attack' && typeof e.target === 'string' && e.target !== 'minotaur')
      note(e.target, e.damage);
    else if (e.kind === 'riposte' || e.kind === 'minotaur-attack') note(e.target, e.damage);
  }
  const shielded = new Set(g.events.filter((e) => e.kind === 'defend').map((e) => e.actor));
  const out: SharedView['hits'] = [];
  for (const p of g.players) {
    const t = taken.get(p.id);
    const { x, y } = pixel(p.pos);
    if (!t) {
      if (p.alive && shielded.has(p.id))
        out.push({
          id: `hit-${round}-${p.id}`,
          playerId: p.id,
          x,
          y,
          text: '',
          kind: 'shield',
          label: `${p.name} raised a shield`,
        });
      continue;
    }
    out.push(
      t.damage > 0
        ? {
            id: `hit-${round}-${p.id}`,
            playerId: p.id,
            x,
            y,
            text: `−${t.damage}`,
            kind: 'hurt',
            label: `${p.name} lost ${t.damage} health`,
          }
        : {
            id: `hit-${round}-${p.id}`,
            playerId: p.id,
            x,
            y,
            text: 'blocked',
            kind: 'blocked',
            label: `${p.name} blocked every blow`,
          },
    );
  }
  return out;
}

export function chatLine(g: GameState, l: ChatLine, viewer: string | null): ChatLineView {
  const p = g.players.find((x) => x.id === l.by);
  return {
    n: l.n,
    name: p ? p.name : `${l.name ?? 'someone'} (left)`,
    // An author who left the game has no seat (their colour may be someone else's by now).
    colorIndex: p ? p.color % PALETTE.length : -1,
    me: l.by === viewer,
    text: l.kind === 'say' ? l.text : EMOTE_VIEW[l.emote].text,
    call: l.kind === 'react',
  };
}

/** The parts of the board that never change during a game: tile shapes and walls. */
export interface BoardView {
  viewBox: string;
  tiles: TileView[];
}

export function boardView(g: GameState): BoardView {
  const tiles = allTiles(g).map((h) => {
    const { x, y } = pixel(h);
    const kind = tileKind(g, h) === 'wall' ? 'wall' : h.q === 0 && h.r === 0 ? 'lair' : 'floor';
    return { q: h.q, r: h.r, x, y, points: corners(x, y), kind } satisfies TileView;
  });
  const extent = HEX_SIZE * SQRT3 * (g.radius + 0.5) + 4;
  const extentY = HEX_SIZE * (1.5 * g.radius + 1) + 4;
  const viewBox = `${round2(-extent)} ${round2(-extentY)} ${round2(2 * extent)} ${round2(2 * extentY)}`;
  return { viewBox, tiles };
}

/** Compass order of the direction buttons (two rows of the hex's six neighbours). */
export const COMPASS: readonly Direction[] = ['nw', 'ne', 'w', 'e', 'sw', 'se'];

/** Where the neighbour in each direction lies from a tile's centre, in the board's pixels. */
export const NEIGHBOUR_AT: Readonly<Record<Direction, { x: number; y: number }>> =
  Object.fromEntries(COMPASS.map((d) => [d, pixel(neighbor({ q: 0, r: 0 }, d))])) as Record<
    Direction,
    { x: number; y: number }
  >;

/**
 * What does not depend on who is looking: what the Minotaur will do this round (given where
 * everyone stands now), the damage of the last round and where heroes fell. Computed once per
 * state and shared by every viewer's render (see game-frame.ts).
 */
export interface SharedView {
  danger: GameView['danger'];
  minotaurNext: { x: number; y: number } | null;
  intent: GameView['intent'];
  huntedId: string | null;
  hits: (Omit<HitView, 'me'> & { playerId: string })[];
  fallen: FallenView[];
}

/**
 * What each hero's token shows, by player id, from the names of every hero of the game (the
 * fallen too, so that a token keeps its letters all game): the initial, upper-case, where no
 * other hero's name starts with the same letter. Heroes who share an initial get it and a second
 * character: from the first place (after the initial) where their names tell them all apart,
 * lower-case ("Theseus", "Thalia": "Te", "Ta"; "ariadne7", "ariadne12": "A7", "A1"); a name
 * too short to reach that place shows its initial alone; names no place tells apart (they differ
 * only in case) get a digit instead.
 */
export function tokenLabels(players: readonly Pick<Player, 'id' | 'name'>[]): Map<string, string> {
  const initial = (name: string) => (name[0] ?? '?').toUpperCase();
  const groups = new Map<string, Pick<Player, 'id' | 'name'>[]>();
  for (const p of players) {
    const i = initial(p.name);
    const group = groups.get(i);
    if (group) group.push(p);
    else groups.set(i, [p]);
  }
  const out = new Map<string, string>();
  for (const [i, group] of groups) {
    const [only] = group;
    if (only && group.length === 1) {
      out.set(only.id, i);
      continue;
    }
    const longest = Math.max(...group.map((p) => p.name.length));
    let at = 1;
    const second = (p: Pick<Player, 'id' | 'name'>) => (p.name[at] ?? '').toLowerCase();
    while (at < longest && new Set(group.map(second)).size < group.length) at++;
    group.forEach((p, n) => out.set(p.id, i + (at < longest ? second(p) : String(n + 1))));
  }
  return out;
}

/** A hero's token; `me` is a boolean for one viewer, or a seat for every viewer (a mark). */
export function tokenView<M>(
  p: Player,
  label: string,
  marks: { me: M; hunted: boolean },
): Omit<TokenView, 'me'> & { me: M } {
  return {
    id: p.id,
    name: p.name,
    label,
    color: colorOf(p),
    ...pixel(p.pos),
    hp: p.hp,
    ...marks,
  };
}

export function sharedView(g: GameState): SharedView {
  const logRound = g.status === 'finished' ? g.round : g.round - 1;
  const hits = g.status === 'open' ? [] : hitsOf(g, logRound);
  const fallen =
    g.status === 'open'
      ? []
      : g.players
          .filter((p) => !p.alive)
          .map((p) => ({ id: p.id, name: p.name, ...pixel(p.pos), round: p.eliminatedRound }));
  if (g.status !== 'playing')
    return { danger: null, minotaurNext: null, intent: null, huntedId: null, hits, fallen };
  const living = livingPlayers(g);
  const walls = wallKeys(g);
  const at = g.minotaur.pos;
  const beside = COMPASS.filter((d) => tileKind(g, neighbor(at, d)) === 'floor');
  const danger = { ...pixel(at), tiles: beside.map((d) => NEIGHBOUR_AT[d]) };
  // Beside a hero, it gores the weakest one beside it (minotaurTarget, as the round does):
  // that is the hero marked, not the nearest by its path.
  const target = minotaurTarget(at, living);
  const besideSomeone = target !== null;
  const steps = minotaurStepsIn(g.round, RULES);
  const next = minotaurStep(at, living, walls, g.radius);
  const hunted = target ?? minotaurQuarry(at, living, walls, g.radius);
  const showNext = steps && !besideSomeone && next !== null && !equals(next, at);
  return {
    danger,
    minotaurNext: showNext ? pixel(next) : null,
    intent: { hunted: hunted?.name ?? null, steps, besideSomeone },
    huntedId: hunted?.id ?? null,
    hits,
    fallen,
  };
}

function standingsOf(g: GameState, rows: PlayerRow[]): Standing[] {
  const sorted = [...rows].sort(
    (a, b) => compareOutcome(g, a, b) || b.dealt - a.dealt || a.name.localeCompare(b.name),
  );
  const out: Standing[] = [];
  sorted.forEach((r, i) => {
    const prev = out[i - 1];
    const tied = prev !== undefined && compareOutcome(g, prev, r) === 0;
    out.push({ ...r, place: tied ? prev.place : i + 1 });
  });
  return out;
}

/**
 * How two heroes ended the game, as its rules rank them (negative: `a` did better): the winner,
 * then survivors by health, then the fallen, the last to fall first.
 */
function compareOutcome(g: GameState, a: PlayerRow, b: PlayerRow): number {
  const rank = (r: PlayerRow) => (g.winner === r.id ? 0 : r.alive ? 1 : 2);
  return rank(a) - rank(b) || b.hp - a.hp || (b.eliminatedRound ?? 0) - (a.eliminatedRound ?? 0);
}

export function gameView(
  g: GameState,
  viewer: string | null,
  board: BoardView = boardView(g),
  shared: SharedView = sharedView(g),
): GameView {
  const meP = viewer ? g.players.find((p) => p.id === viewer) : undefined;
  const mine = meP ? submittedBy(g, meP.id) : undefined;
  const canAct = g.status === 'playing' && !!meP && meP.alive && !mine;
  const { viewBox, tiles } = board;

  // The viewer's six neighbours: open ones get direction buttons, and clickable tiles while acting.
  const moveDirs = COMPASS.map((d) => {
    const to = meP ? neighbor(meP.pos, d) : null;
    const open = !!to && tileKind(g, to) === 'floor';
    return { dir: d, ...DIRECTION_LABELS[d], open, minotaur: !!to && equals(to, g.minotaur.pos) };
  });
  const held = new Set(livingPlayers(g).map((p) => key(p.pos)));
  const reach: GameView['reach'] = !canAct
    ? null
    : {
        ...pixel(meP.pos),
        tiles: moveDirs
          .filter((m) => m.open)
          .map((m) => ({
            dir: m.dir,
            ...NEIGHBOUR_AT[m.dir],
            name: m.name,
            key: m.key,
            walkable: !m.minotaur,
            held: held.has(key(neighbor(meP.pos, m.dir))),
          })),
      };

  const { danger, minotaurNext, intent, huntedId } = shared;
  const labels = tokenLabels(g.players);
  const tokens: TokenView[] = g.players
    .filter((p) => p.alive)
    .map((p) =>
      tokenView(p, labels.get(p.id) ?? '?', {
        me: p.id === viewer,
        hunted: p.id === huntedId,
      }),
    );

  const players = g.players.map((p) => playerRow(g, p, viewer));
  const me = players.find((p) => p.me) ?? null;
  const myAction = mine
    ? {
        kind: mine.kind,
        label:
          mine.kind === 'defend'
            ? 'Defend'
            : `${mine.kind === 'move' ? 'Move' : 'Attack'} ${mine.dir ? DIRECTION_LABELS[mine.dir].name : ''}`,
      }
    : null;

  const winnerP = g.winner ? g.players.find((p) => p.id === g.winner) : undefined;
  let outcome: GameView['outcome'] = null;
  if (meP) {
    if (g.status === 'finished')
      outcome =
        g.winner === meP.id
          ? 'won'
          : !meP.alive
            ? 'eliminated'
            : g.winner === null
              ? 'draw'
              : 'lost';
    else if (g.status === 'playing' && !meP.alive) outcome = 'eliminated';
  }

  const logRound = g.status === 'finished' ? g.round : g.round - 1;
  const recent = g.chat.slice(-BUBBLE_LINES);
  const bubbles: BubbleView[] = [];
  for (const l of recent) {
    if (l.kind !== 'react') continue;
    const p = g.players.find((x) => x.id === l.by && x.alive);
    if (!p) continue;
    bubbles.push({ id: `bubble-${l.n}`, ...pixel(p.pos), text: EMOTE_VIEW[l.emote].text });
  }
  const rematchOf =
    g.rematchOf && g.status === 'open'
      ? {
          code: g.rematchOf.code,
          back: g.rematchOf.players.filter((id) => g.players.some((p) => p.id === id)).length,
          total: g.rematchOf.players.length,
        }
      : null;

  return {
    code: g.code,
    status: g.status,
    round: g.round,
    maxRounds: g.maxRounds,
    deadline: g.deadline,
    roundSeconds: Math.round(g.roundMs / 1000),
    viewBox,
    tiles,
    reach,
    tokens,
    fallen: shared.fallen,
    minotaur: pixel(g.minotaur.pos),
    danger,
    minotaurNext,
    intent,
    players,
    standings: standingsOf(g, players),
    playerCount: g.players.length,
    minPlayers: MIN_PLAYERS,
    maxPlayers: MAX_PLAYERS,
    me,
    isCreator: viewer === g.createdBy,
    canJoin: g.status === 'open' && !meP && g.players.length < MAX_PLAYERS,
    canStart: g.status === 'open' && viewer === g.createdBy && g.players.length >= MIN_PLAYERS,
    myAction,
    moveDirs,
    canAct,
    shieldTired: !!meP && RULES.tiredShield && defendedLastRound(g, meP.id),
    waitingFor:
      g.status === 'playing'
        ? livingPlayers(g)
            .filter((p) => submittedBy(g, p.id) === undefined)
            .map((p) => p.name)
        : [],
    hold:
      g.status === 'playing' && g.hold
        ? {
            names: g.hold.waiting.map((id) => g.players.find((p) => p.id === id)?.name ?? '?'),
            until: g.hold.until,
          }
        : null,
    log: g.events.map((e) => describe(g, e)),
    logRound,
    hits: shared.hits.map(({ playerId, ...h }) => ({ ...h, me: playerId === viewer })),
    winner: winnerP ? playerRow(g, winnerP, viewer) : null,
    outcome,
    chat: g.chat.map((l) => chatLine(g, l, viewer)),
    emotes: EMOTE_BUTTONS,
    bubbles,
    rematch: g.rematch ? { code: g.rematch.code, by: nameIn(g, g.rematch.by) } : null,
    canRematch: g.status === 'finished' && !!meP,
    rematchOf,
  };
}
