// Turns a game state and the person looking at it into plain display data for the
// templates: pixel positions of hexes, colours, labels, what this viewer may do now.
// Pure: the same input always gives the same output, so the partial differ can compare HTML.

import type { Direction, GameState, Hex, Player, RoundEvent } from '../game/types.js';
import { MAX_PLAYERS, MIN_PLAYERS, START_HP } from '../game/types.js';
import { neighbor } from '../game/hex.js';
import { allTiles, submittedBy, tileKind } from '../game/queries.js';

export const PALETTE = ['#e4572e', '#29a3d6', '#f2c14e', '#6bbf59', '#b467d6', '#ef7fb0', '#45c4b0', '#f08a4b'] as const;
export const PALETTE_NAMES = ['Ember', 'Sky', 'Gold', 'Moss', 'Violet', 'Rose', 'Teal', 'Amber'] as const;

const HEX_SIZE = 30;
const SQRT3 = Math.sqrt(3);

export const DIRECTION_LABELS: Record<Direction, { arrow: string; name: string }> = {
  nw: { arrow: '↖', name: 'north-west' },
  ne: { arrow: '↗', name: 'north-east' },
  w: { arrow: '←', name: 'west' },
  e: { arrow: '→', name: 'east' },
  sw: { arrow: '↙', name: 'south-west' },
  se: { arrow: '↘', name: 'south-east' },
};

export interface TileView {
  q: number;
  r: number;
  x: number;
  y: number;
  points: string;
  kind: 'wall' | 'floor' | 'lair';
}

/** A tile next to the viewer's character, clickable to move there. */
export interface ReachTile {
  dir: Direction;
  x: number;
  y: number;
  points: string;
  name: string;
}

export interface TokenView {
  id: string;
  name: string;
  initial: string;
  color: string;
  x: number;
  y: number;
  hp: number;
  me: boolean;
  defending: boolean;
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

export interface GameView {
  code: string;
  status: GameState['status'];
  round: number;
  maxRounds: number;
  deadline: number | null;
  roundSeconds: number;
  viewBox: string;
  tiles: TileView[];
  reach: ReachTile[];
  tokens: TokenView[];
  minotaur: { x: number; y: number };
  players: PlayerRow[];
  playerCount: number;
  minPlayers: number;
  maxPlayers: number;
  me: PlayerRow | null;
  isCreator: boolean;
  canJoin: boolean;
  canStart: boolean;
  /** The viewer's action for this round, if already submitted. */
  myAction: { kind: string; label: string } | null;
  /** Directions the viewer can act in this round (adjacent tiles that are not walls / off board). */
  moveDirs: { dir: Direction; arrow: string; name: string; open: boolean }[];
  canAct: boolean;
  log: string[];
  winner: PlayerRow | null;
  /** 'won' | 'lost' | 'eliminated' | 'draw' | null — which end screen this viewer sees. */
  outcome: 'won' | 'lost' | 'eliminated' | 'draw' | null;
}

function pixel(h: Hex): { x: number; y: number } {
  return { x: round2(HEX_SIZE * SQRT3 * (h.q + h.r / 2)), y: round2(HEX_SIZE * 1.5 * h.r) };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function corners(x: number, y: number): string {
  const pts: string[] = [];
  for (let i = 0; i < 6; i++) {
    const a = (Math.PI / 180) * (60 * i - 30);
    pts.push(`${round2(x + (HEX_SIZE - 1.5) * Math.cos(a))},${round2(y + (HEX_SIZE - 1.5) * Math.sin(a))}`);
  }
  return pts.join(' ');
}

function playerRow(g: GameState, p: Player, viewer: string | null): PlayerRow {
  return {
    id: p.id,
    name: p.name,
    color: PALETTE[p.color % PALETTE.length] ?? PALETTE[0],
    colorIndex: p.color % PALETTE.length,
    colorName: PALETTE_NAMES[p.color % PALETTE_NAMES.length] ?? PALETTE_NAMES[0],
    hp: p.hp,
    maxHp: START_HP,
    alive: p.alive,
    me: p.id === viewer,
    submitted: g.status === 'playing' && submittedBy(g, p.id) !== undefined,
    creator: p.id === g.createdBy,
    dealt: p.dealt ?? 0,
    eliminatedRound: p.eliminatedRound,
  };
}

function describe(g: GameState, e: RoundEvent): string {
  const name = (id: string | null | undefined) =>
    id === 'minotaur' ? 'the Minotaur' : (g.players.find((p) => p.id === id)?.name ?? 'someone');
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
    case 'defend':
      return `${name(e.actor)} raised a shield.`;
    case 'riposte':
      return `${name(e.actor)}'s shield threw the blow back at ${name(e.target)} for ${e.damage}.`;
    case 'minotaur-move':
      return 'The Minotaur prowled closer.';
    case 'minotaur-attack':
      return e.damage > 0 ? `The Minotaur gored ${name(e.target)} for ${e.damage}!` : `The Minotaur charged ${name(e.target)}, who held firm.`;
    case 'eliminated':
      return `${name(e.actor)} has fallen.`;
  }
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
const COMPASS: readonly Direction[] = ['nw', 'ne', 'w', 'e', 'sw', 'se'];

export function gameView(g: GameState, viewer: string | null, board: BoardView = boardView(g)): GameView {
  const meP = viewer ? g.players.find((p) => p.id === viewer) : undefined;
  const mine = meP ? submittedBy(g, meP.id) : undefined;
  const canAct = g.status === 'playing' && !!meP && meP.alive && !mine;
  const { viewBox, tiles } = board;

  // The viewer's six neighbours: open ones get direction buttons, and clickable tiles while acting.
  const moveDirs = COMPASS.map((d) => {
    const open = !!meP && tileKind(g, neighbor(meP.pos, d)) === 'floor';
    return { dir: d, ...DIRECTION_LABELS[d], open };
  });
  const reach: ReachTile[] = !canAct
    ? []
    : moveDirs
        .filter((m) => m.open)
        .map((m) => {
          const { x, y } = pixel(neighbor(meP!.pos, m.dir));
          return { dir: m.dir, x, y, points: corners(x, y), name: m.name };
        });

  const tokens: TokenView[] = g.players
    .filter((p) => p.alive)
    .map((p) => ({
      id: p.id,
      name: p.name,
      initial: (p.name[0] ?? '?').toUpperCase(),
      color: PALETTE[p.color % PALETTE.length] ?? PALETTE[0],
      ...pixel(p.pos),
      hp: p.hp,
      me: p.id === viewer,
      defending: g.events.some((e) => e.kind === 'defend' && e.actor === p.id),
    }));

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
    if (g.status === 'finished') outcome = g.winner === meP.id ? 'won' : g.winner === null ? 'draw' : meP.alive ? 'lost' : 'eliminated';
    else if (g.status === 'playing' && !meP.alive) outcome = 'eliminated';
  }

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
    minotaur: pixel(g.minotaur.pos),
    players,
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
    log: g.events.map((e) => describe(g, e)),
    winner: winnerP ? playerRow(g, winnerP, viewer) : null,
    outcome,
  };
}
