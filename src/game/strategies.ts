// Scripted heroes for the balance simulation: each looks at a game state and picks an action
// the way a kind of player would. Pure, and random only through the Rng passed in.

import type { Rules } from './balance.js';
import { distance, equals, key, neighbor, onBoard } from './hex.js';
import { minotaurStepsIn } from './round.js';
import { defendedLastRound, livingPlayers, playerById, wallKeys } from './queries.js';
import type { Rng } from './rng.js';
import {
  DIRECTIONS,
  type Direction,
  type GameState,
  type Hex,
  type Player,
  type PlayerId,
} from './types.js';

export type Choice = { kind: 'defend' } | { kind: 'move' | 'attack'; dir: Direction };

export interface Strategy {
  name: string;
  /** What the hero `me` does this round. */
  choose(state: GameState, me: PlayerId, rng: Rng, rules: Readonly<Rules>): Choice;
}

const DEFEND: Choice = { kind: 'defend' };

/** Directions whose neighbour tile is on the board and not a wall. */
function openDirs(state: GameState, from: Hex, walls: ReadonlySet<string>): Direction[] {
  return DIRECTIONS.filter((d) => {
    const n = neighbor(from, d);
    return onBoard(n, state.radius) && !walls.has(key(n));
  });
}

/** Path lengths from `from` over floor tiles, not entering `blocked` tiles. */
function pathLengths(
  state: GameState,
  from: Hex,
  walls: ReadonlySet<string>,
  blocked: ReadonlySet<string> = new Set(),
): Map<string, number> {
  return distancesFrom(state, [from], walls, blocked);
}

/** Each tile's path length from the nearest of `starts` (each at 0), breadth first. */
function distancesFrom(
  state: GameState,
  starts: readonly Hex[],
  walls: ReadonlySet<string>,
  blocked: ReadonlySet<string>,
): Map<string, number> {
  const dist = new Map<string, number>();
  const queue: Hex[] = [];
  for (const s of starts) {
    if (dist.has(key(s))) continue;
    dist.set(key(s), 0);
    queue.push(s);
  }
  for (let i = 0; i < queue.length; i++) {
    const cur = queue[i] as Hex;
    const d = dist.get(key(cur)) as number;
    for (const dir of DIRECTIONS) {
      const n = neighbor(cur, dir);
      const k = key(n);
      if (dist.has(k) || !onBoard(n, state.radius) || walls.has(k) || blocked.has(k)) continue;
      dist.set(k, d + 1);
      queue.push(n);
    }
  }
  return dist;
}

function foesOf(state: GameState, me: Player): Player[] {
  return livingPlayers(state).filter((p) => p.id !== me.id);
}

/** The direction of the weakest foe standing next to `me`, if any. */
function adjacentFoe(state: GameState, me: Player): Direction | null {
  let best: { dir: Direction; hp: number } | null = null;
  for (const f of foesOf(state, me)) {
    for (const d of DIRECTIONS) {
      if (equals(neighbor(me.pos, d), f.pos) && (best === null || f.hp < best.hp))
        best = { dir: d, hp: f.hp };
    }
  }
  return best?.dir ?? null;
}

/**
 * Whether the Minotaur can strike a hero who ends its move at `pos`: the tile is within its
 * reach this round (steps + 1) and no other hero is nearer to it, so it would come this way.
 */
export function threatened(
  state: GameState,
  me: PlayerId,
  pos: Hex,
  dist: ReadonlyMap<string, number>,
  rules: Readonly<Rules>,
): boolean {
  const reach = rules.strikeAfterStep && minotaurStepsIn(state.round, rules) ? 2 : 1;
  const mine = dist.get(key(pos)) ?? Infinity;
  if (mine > reach) return false;
  return livingPlayers(state).every(
    (p) => p.id === me || (dist.get(key(p.pos)) ?? Infinity) >= mine,
  );
}

/** The first step toward the nearest foe (by path, around walls and the Minotaur), if any. */
function stepToward(
  state: GameState,
  me: Player,
  walls: ReadonlySet<string>,
  avoid: (h: Hex) => boolean = () => false,
): Direction | null {
  const foes = foesOf(state, me);
  if (foes.length === 0) return null;
  const blocked = new Set([key(state.minotaur.pos), ...foes.map((f) => key(f.pos))]);
  // One search outward from every tile next to a foe gives each tile its distance to a fight.
  const fronts = foes.flatMap((f) =>
    DIRECTIONS.map((d) => neighbor(f.pos, d)).filter((n) => {
      const k = key(n);
      return onBoard(n, state.radius) && !walls.has(k) && !blocked.has(k);
    }),
  );
  const dist = distancesFrom(state, fronts, walls, blocked);
  let best: { dir: Direction; d: number } | null = null;
  for (const dir of openDirs(state, me.pos, walls)) {
    const n = neighbor(me.pos, dir);
    const d = dist.get(key(n));
    if (d === undefined || avoid(n)) continue;
    if (best === null || d < best.d) best = { dir, d };
  }
  return best?.dir ?? null;
}

/** Any action a hero could take, chosen uniformly. */
export const randomHero: Strategy = {
  name: 'random',
  choose(state, me, rng) {
    const p = playerById(state, me);
    if (!p) return DEFEND;
    const dirs = openDirs(state, p.pos, wallKeys(state));
    const options: Choice[] = [
      ...dirs.map((dir): Choice => ({ kind: 'move', dir })),
      ...dirs.map((dir): Choice => ({ kind: 'attack', dir })),
    ];
    options.push(DEFEND);
    return options[rng.int(options.length)] ?? DEFEND;
  },
};

/**
 * Goes for the nearest hero and hits it, never raising a shield; walks round the Minotaur's reach
 * when it can.
 */
export const aggressiveHero: Strategy = {
  name: 'aggressive',
  choose(state, me, _rng, rules) {
    const p = playerById(state, me);
    if (!p) return DEFEND;
    const walls = wallKeys(state);
    const foe = adjacentFoe(state, p);
    if (foe) return { kind: 'attack', dir: foe };
    const dist = pathLengths(state, state.minotaur.pos, walls);
    const step =
      stepToward(state, p, walls, (h) => threatened(state, me, h, dist, rules)) ??
      stepToward(state, p, walls);
    return step ? { kind: 'move', dir: step } : idle(state, p, walls);
  },
};

/** Fights like the aggressive hero, but raises its shield whenever a blow is coming. */
export const defensiveHero: Strategy = {
  name: 'defensive',
  choose(state, me, _rng, rules) {
    const p = playerById(state, me);
    if (!p) return DEFEND;
    const walls = wallKeys(state);
    const dist = pathLengths(state, state.minotaur.pos, walls);
    const canDefend = !rules.tiredShield || !defendedLastRound(state, me);
    const foe = adjacentFoe(state, p);
    const minotaurComing = threatened(state, me, p.pos, dist, rules);
    if ((minotaurComing || foe) && canDefend) return DEFEND;
    if (minotaurComing) {
      // Shield down: step out of reach if a tile is safe.
      for (const dir of openDirs(state, p.pos, walls)) {
        const n = neighbor(p.pos, dir);
        if (
          !equals(n, state.minotaur.pos) &&
          !isHeld(state, n) &&
          !threatened(state, me, n, dist, rules)
        )
          return { kind: 'move', dir };
      }
    }
    if (foe) return { kind: 'attack', dir: foe };
    const step = stepToward(state, p, walls, (h) => threatened(state, me, h, dist, rules));
    if (step) return { kind: 'move', dir: step };
    return canDefend ? DEFEND : idle(state, p, walls);
  },
};

/** Keeps as far from the Minotaur as it can; strikes a hero only when the Minotaur is far. */
export const avoidingHero: Strategy = {
  name: 'avoider',
  choose(state, me, _rng, rules) {
    const p = playerById(state, me);
    if (!p) return DEFEND;
    const walls = wallKeys(state);
    const dist = pathLengths(state, state.minotaur.pos, walls);
    const far = (h: Hex) => dist.get(key(h)) ?? distance(h, state.minotaur.pos) + 10;
    const foe = adjacentFoe(state, p);
    if (foe && far(p.pos) >= 4) return { kind: 'attack', dir: foe };
    let best: { dir: Direction | null; d: number } = { dir: null, d: far(p.pos) };
    for (const dir of openDirs(state, p.pos, walls)) {
      const n = neighbor(p.pos, dir);
      if (isHeld(state, n)) continue;
      if (far(n) > best.d) best = { dir, d: far(n) };
    }
    if (best.dir) return { kind: 'move', dir: best.dir };
    const canDefend = !rules.tiredShield || !defendedLastRound(state, me);
    if (threatened(state, me, p.pos, dist, rules) && canDefend) return DEFEND;
    if (foe) return { kind: 'attack', dir: foe };
    return canDefend ? DEFEND : idle(state, p, walls);
  },
};

/** Whether a character or the Minotaur stands on `h`. */
function isHeld(state: GameState, h: Hex): boolean {
  return equals(h, state.minotaur.pos) || livingPlayers(state).some((p) => equals(p.pos, h));
}

/**
 * Something harmless to do when nothing else makes sense: step to a free tile, or swing at the air.
 */
function idle(state: GameState, p: Player, walls: ReadonlySet<string>): Choice {
  const dirs = openDirs(state, p.pos, walls);
  const free = dirs.find((d) => !isHeld(state, neighbor(p.pos, d)));
  return free ? { kind: 'move', dir: free } : { kind: 'attack', dir: dirs[0] ?? 'e' };
}

export const STRATEGIES: readonly Strategy[] = [
  randomHero,
  aggressiveHero,
  defensiveHero,
  avoidingHero,
];
