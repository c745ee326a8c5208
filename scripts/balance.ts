// npm run balance: thousands of seeded games between scripted heroes (random, aggressive,
// defensive, Minotaur-avoiding) under the rules in force and the classic rules, printing
// win rates, game lengths and who did the damage. `--games N` per pairing (default 500),
// `--explore` adds the rules in force with one change undone at a time, `--markdown` prints tables
// for docs/balance.md. The same options always print the same numbers.

import { parseArgs } from 'node:util';
import { CLASSIC_RULES, RULES, type Rules } from '../src/game/balance.js';
import { summarise, type RulesReport } from '../src/game/simulate.js';
import { STRATEGIES } from '../src/game/strategies.js';

const { values } = parseArgs({
  options: {
    games: { type: 'string', default: '500' },
    explore: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
  },
});
const games = Number(values.games);
if (!Number.isInteger(games) || games < 10 || games > 100_000) {
  console.error('--games must be a whole number from 10 to 100000');
  process.exit(2);
}

/** The rules in force with one of their changes undone at a time: what each change is worth. */
const ABLATIONS: [string, Rules][] = [
  ['in force, heroes spread round the rim', { ...RULES, startGap: CLASSIC_RULES.startGap }],
  ['in force, Minotaur steps and strikes together', { ...RULES, strikeAfterStep: true }],
  ['in force, Minotaur steps every round', { ...RULES, minotaurPace: 1 }],
  ['in force, shield lets 1 through', { ...RULES, minotaurDamageDefended: 1 }],
  ['in force, shield never tires', { ...RULES, tiredShield: false }],
  ['in force, no riposte', { ...RULES, riposteDamage: 0 }],
];

const sets: [string, Readonly<Rules>][] = [
  ['classic (schema 2)', CLASSIC_RULES],
  ...(values.explore ? ABLATIONS : []),
  ['in force', RULES],
];
const reports: RulesReport[] = sets.map(([name, rules]) =>
  summarise(name, rules, STRATEGIES, games),
);

const pct = (x: number) => `${Math.round(x * 100)}%`;
const one = (x: number) => x.toFixed(1);

if (values.markdown) {
  console.log(
    '| Rules | Median rounds (p10–p90) | Draws | Winner dealt 0 damage | Eliminations by heroes | Top damage-dealer wins | Defensive vs random | Aggressive vs avoider |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of reports) {
    console.log(
      `| ${r.name} | ${r.rounds.median} (${r.rounds.p10}–${r.rounds.p90}) | ${pct(r.drawRate)} | ${pct(r.winnerDealtNothing)} | ${pct(r.heroKills)} | ${pct(r.topDealerWins)} | ${pct(r.pair('defensive', 'random'))} | ${pct(r.pair('aggressive', 'avoider'))} |`,
    );
  }
  console.log('');
  for (const r of reports) {
    console.log(
      `**${r.name}**, two heroes (row's score against column: wins plus half the draws):\n`,
    );
    console.log(`| | ${r.strategies.join(' | ')} |`);
    console.log(`| --- |${r.strategies.map(() => ' --- |').join('')}`);
    for (const a of r.strategies)
      console.log(
        `| ${a} | ${r.strategies.map((b) => (a === b ? '–' : pct(r.pair(a, b)))).join(' | ')} |`,
      );
    console.log(
      `\nFour heroes, one of each: ${r.strategies.map((s) => `${s} ${pct(r.ffa[s] ?? 0)}`).join(', ')}, draws ${pct(r.ffaDraws)}.\n`,
    );
  }
} else {
  for (const r of reports) {
    console.log(`\n${r.name}: ${r.games} games`);
    console.log(
      `  rounds       median ${r.rounds.median}, mean ${one(r.rounds.mean)}, p10 ${r.rounds.p10}, p90 ${r.rounds.p90}; draws ${pct(r.drawRate)}`,
    );
    console.log(
      `  damage       winners who dealt 0 damage ${pct(r.winnerDealtNothing)}; eliminations by heroes ${pct(r.heroKills)} (rest by the Minotaur)`,
    );
    console.log(
      `               games where heroes dealt damage: the top damage-dealer won ${pct(r.topDealerWins)}`,
    );
    console.log(`  two heroes   row's score against column (wins plus half the draws)`);
    console.log(`               ${r.strategies.map((s) => s.padStart(11)).join('')}`);
    for (const a of r.strategies)
      console.log(
        `    ${a.padEnd(11)}${r.strategies
          .map((b) => (a === b ? '–' : pct(r.pair(a, b))))
          .map((x) => x.padStart(11))
          .join('')}`,
      );
    console.log(
      `  four heroes  ${r.strategies.map((s) => `${s} ${pct(r.ffa[s] ?? 0)}`).join(', ')}, draws ${pct(r.ffaDraws)}`,
    );
  }
}
