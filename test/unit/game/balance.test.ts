// The property the rules are tuned for, over a few hundred seeded games between scripted
// heroes: fighting other heroes and defending well decide who wins, not the Minotaur alone.
// The classic rules fail it, which shows the check can fail.

import { describe, expect, it } from 'vitest';
import { CLASSIC_RULES, RULES, type Rules } from '../../../src/game/balance.js';
import { simulateGame, summarise, type RulesReport } from '../../../src/game/simulate.js';
import { STRATEGIES, aggressiveHero, defensiveHero } from '../../../src/game/strategies.js';

const GAMES = 60; // per pairing: 6 pairings and the four-hero games, 420 games per rule set

function heroesMatter(r: RulesReport): string[] {
  const problems: string[] = [];
  // Defending well: the hero who fights and raises its shield in time beats every other way of
  // playing.
  for (const other of ['random', 'aggressive', 'avoider']) {
    if (r.pair('defensive', other) <= 0.55)
      problems.push(
        `defensive scores only ${r.pair('defensive', other).toFixed(2)} against ${other}`,
      );
  }
  if (r.pair('defensive', 'random') < 0.65)
    problems.push(
      `defensive beats random by too little (${r.pair('defensive', 'random').toFixed(2)})`,
    );
  // Fighting: among games where heroes hurt each other, the one who hurt most wins far more
  // often than chance (at most one in two here: half the games have two heroes, the rest four).
  if (r.topDealerWins < 0.6)
    problems.push(`the top damage-dealer wins only ${r.topDealerWins.toFixed(2)} of games`);
  if (r.winnerDealtNothing > 0.5)
    problems.push(`${r.winnerDealtNothing.toFixed(2)} of winners dealt no damage`);
  if (r.heroKills < 0.3)
    problems.push(`heroes dealt only ${r.heroKills.toFixed(2)} of the final blows`);
  return problems;
}

const report = (rules: Readonly<Rules>) => summarise('rules', rules, STRATEGIES, GAMES);

describe('balance', () => {
  it('under the rules in force, fighting and defending well decide who wins', () => {
    const r = report(RULES);
    expect(heroesMatter(r)).toEqual([]);
    // And games last long enough for that to happen, without dragging to the round limit.
    expect(r.rounds.median).toBeGreaterThanOrEqual(8);
    expect(r.drawRate).toBeLessThan(0.2);
  }, 60_000);

  it('under the classic rules the Minotaur decided instead (the check can fail)', () => {
    const problems = heroesMatter(report(CLASSIC_RULES));
    expect(problems.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('simulated games are reproducible from their seed', () => {
    const a = simulateGame(42, [defensiveHero, aggressiveHero]);
    expect(simulateGame(42, [defensiveHero, aggressiveHero])).toEqual(a);
    expect(a.heroes.map((h) => h.strategy)).toEqual(['defensive', 'aggressive']);
    expect(a.rounds).toBeGreaterThan(0);
  });
});
