// Plays whole games between scripted heroes, for the balance numbers: the same seed and
// strategies always give the same game. Pure; used by scripts/balance.ts and its test.

import { RULES, type Rules } from './balance.js';
import { createRng, deriveSeed } from './rng.js';
import { createGame, joinGame, resolveRound, startGame, submitAction } from './rules.js';
import { itemAt } from './lists.js';
import { livingPlayers } from './queries.js';
import type { Strategy } from './strategies.js';
import type { GameState } from './types.js';

const STRATEGY_STREAM = 7;

export interface SimulatedHero {
  strategy: string;
  won: boolean;
  /** Damage this hero dealt to other heroes. */
  dealt: number;
  /** Damage taken from the Minotaur and from heroes. */
  fromMinotaur: number;
  fromHeroes: number;
  eliminatedRound: number | null;
  /** Who dealt the blow that eliminated this hero. */
  lastBlow: 'hero' | 'minotaur' | null;
}

export interface SimulatedGame {
  seed: number;
  rounds: number;
  /** Index into heroes of the winner, or null for a draw. */
  winner: number | null;
  heroes: SimulatedHero[];
}

/** One game: hero i plays strategies[i]; seats (start tiles) come from the seed. */
export function simulateGame(
  seed: number,
  strategies: readonly Strategy[],
  rules: Readonly<Rules> = RULES,
  maxRounds = 60,
): SimulatedGame {
  const ids = strategies.map((_, i) => `h${i}`);
  let s: GameState = createGame({
    id: `sim-${seed}`,
    code: 'SIMU',
    seed,
    creator: { id: itemAt(ids, 0), name: 'h0' },
    now: 0,
    roundMs: 1000,
    maxRounds,
  });
  for (const id of ids.slice(1)) s = expectOk(joinGame(s, { id, name: id }));
  s = expectOk(startGame(s, itemAt(ids, 0), 0, rules));
  const rng = createRng(deriveSeed(seed, STRATEGY_STREAM));
  const taken = ids.map(() => ({ fromMinotaur: 0, fromHeroes: 0 }));
  const lastBlow = ids.map((): 'hero' | 'minotaur' | null => null);
  let now = 0;
  while (s.status === 'playing') {
    for (const p of livingPlayers(s)) {
      const i = ids.indexOf(p.id);
      const choice = itemAt(strategies, i).choose(s, p.id, rng, rules);
      const r = submitAction(s, p.id, { id: `r${s.round}-${p.id}`, round: s.round, ...choice });
      if (r.ok) s = r.state;
    }
    now += 1000;
    s = resolveRound(s, now, rules);
    // Eliminations logged after the Minotaur's strike are its doing; earlier ones the heroes'.
    let minotaurStruck = false;
    for (const e of s.events) {
      if (e.kind === 'eliminated')
        lastBlow[ids.indexOf(e.actor)] = minotaurStruck ? 'minotaur' : 'hero';
      if (e.kind === 'minotaur-attack') minotaurStruck = true;
      if (e.kind === 'minotaur-attack')
        itemAt(taken, ids.indexOf(e.target)).fromMinotaur += e.damage;
      else if (e.kind === 'attack' && typeof e.target === 'string' && e.target !== 'minotaur')
        itemAt(taken, ids.indexOf(e.target)).fromHeroes += e.damage;
      else if (e.kind === 'riposte') itemAt(taken, ids.indexOf(e.target)).fromHeroes += e.damage;
    }
  }
  return {
    seed,
    rounds: s.round,
    winner: s.winner === null ? null : ids.indexOf(s.winner),
    heroes: s.players.map((p, i) => ({
      strategy: itemAt(strategies, i).name,
      won: s.winner === p.id,
      dealt: p.dealt,
      ...itemAt(taken, i),
      eliminatedRound: p.eliminatedRound,
      lastBlow: itemAt(lastBlow, i),
    })),
  };
}

/** The hero who won `g`, or null for a draw. */
function winnerOf(g: SimulatedGame): SimulatedHero | null {
  return g.winner === null ? null : itemAt(g.heroes, g.winner);
}

function expectOk(r: ReturnType<typeof joinGame>): GameState {
  if (!r.ok) throw new Error(`simulation setup failed: ${r.message}`);
  return r.state;
}

export interface RulesReport {
  name: string;
  games: number;
  strategies: string[];
  rounds: { median: number; mean: number; p10: number; p90: number };
  drawRate: number;
  /** Of games with a winner: the share whose winner dealt no damage to another hero. */
  winnerDealtNothing: number;
  /** Of all eliminations: the share where heroes, not the Minotaur, dealt the last blow. */
  heroKills: number;
  /**
   * Of games with a winner where one hero dealt more damage than any other: the share that hero
   * won.
   */
  topDealerWins: number;
  /** Score of strategy a against b in two-hero games: wins plus half the draws, over games. */
  pair(a: string, b: string): number;
  /** Win rate of each strategy in four-hero games with one of each. */
  ffa: Record<string, number>;
  ffaDraws: number;
}

/**
 * Plays `games` two-hero games for every pairing of different strategies (seats alternate)
 * and `games` games with one hero of each strategy, and sums them up.
 */
export function summarise(
  name: string,
  rules: Readonly<Rules>,
  strategies: readonly Strategy[],
  games: number,
  maxRounds = 60,
): RulesReport {
  const all: SimulatedGame[] = [];
  const wins = new Map<string, { won: number; played: number }>();
  const names = strategies.map((s) => s.name);
  let stream = 100;
  for (let a = 0; a < strategies.length; a++) {
    for (let b = a + 1; b < strategies.length; b++) {
      stream++;
      for (let i = 0; i < games; i++) {
        const seats =
          i % 2 === 0
            ? [itemAt(strategies, a), itemAt(strategies, b)]
            : [itemAt(strategies, b), itemAt(strategies, a)];
        const g = simulateGame(deriveSeed(i, stream), seats, rules, maxRounds);
        all.push(g);
        for (const [x, y] of [
          [0, 1],
          [1, 0],
        ] as const) {
          const k = `${itemAt(g.heroes, x).strategy}>${itemAt(g.heroes, y).strategy}`;
          const w = wins.get(k) ?? { won: 0, played: 0 };
          w.played++;
          if (g.winner === x) w.won++;
          else if (g.winner === null) w.won += 0.5;
          wins.set(k, w);
        }
      }
    }
  }
  const ffaWins = new Map(names.map((n) => [n, 0]));
  let ffaDraws = 0;
  stream++;
  for (let i = 0; i < games; i++) {
    const rot = i % strategies.length;
    const seats = [...strategies.slice(rot), ...strategies.slice(0, rot)];
    const g = simulateGame(deriveSeed(i, stream), seats, rules, maxRounds);
    all.push(g);
    const winner = winnerOf(g);
    if (winner === null) ffaDraws++;
    else ffaWins.set(winner.strategy, (ffaWins.get(winner.strategy) ?? 0) + 1);
  }

  const rounds = all.map((g) => g.rounds).sort((x, y) => x - y);
  // No games, no rounds: NaN, as the mean is then.
  const at = (q: number) =>
    rounds[Math.min(rounds.length - 1, Math.floor(q * rounds.length))] ?? NaN;
  const won = all.filter((g) => g.winner !== null);
  let eliminations = 0;
  let byHeroes = 0;
  for (const g of all) {
    for (const h of g.heroes) {
      if (h.eliminatedRound === null) continue;
      eliminations++;
      if (h.lastBlow === 'hero') byHeroes++;
    }
  }
  const decided = won.filter((g) => {
    const top = Math.max(...g.heroes.map((h) => h.dealt));
    return top > 0 && g.heroes.filter((h) => h.dealt === top).length === 1;
  });
  const topWon = decided.filter((g) => {
    const top = Math.max(...g.heroes.map((h) => h.dealt));
    return winnerOf(g)?.dealt === top;
  });
  return {
    name,
    games: all.length,
    strategies: names,
    rounds: {
      median: at(0.5),
      mean: rounds.reduce((x, y) => x + y, 0) / rounds.length,
      p10: at(0.1),
      p90: at(0.9),
    },
    drawRate: (all.length - won.length) / all.length,
    winnerDealtNothing: won.length
      ? won.filter((g) => winnerOf(g)?.dealt === 0).length / won.length
      : 0,
    heroKills: eliminations ? byHeroes / eliminations : 0,
    topDealerWins: decided.length ? topWon.length / decided.length : 0,
    pair: (a, b) => {
      const w = wins.get(`${a}>${b}`);
      return w && w.played ? w.won / w.played : 0;
    },
    ffa: Object.fromEntries(names.map((n) => [n, (ffaWins.get(n) ?? 0) / games])),
    ffaDraws: ffaDraws / games,
  };
}
