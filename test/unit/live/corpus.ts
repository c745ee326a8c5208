// Game states for the live layer's tests: whole games played by the rules from a seed, with
// every state a page can show along the way (waiting room, rematch, each action, each round,
// table talk with awkward text, a held round, heroes falling, a win, a draw, a rematch offer).

import { RULES } from '../../../src/game/balance.js';
import { holdRound, releaseHold } from '../../../src/game/hold.js';
import {
  createGame,
  joinGame,
  leaveGame,
  resolveRound,
  startGame,
  submitAction,
} from '../../../src/game/rules.js';
import { livingPlayers } from '../../../src/game/queries.js';
import { createRng, type Rng } from '../../../src/game/rng.js';
import { applySocial, markRematch, offerRematch } from '../../../src/game/social.js';
import { STRATEGIES, type Choice } from '../../../src/game/strategies.js';
import { DIRECTIONS, EMOTES, type GameState, type RuleResult } from '../../../src/game/types.js';

const NAMES = [
  'ariadne',
  'theseus',
  'minos',
  'icarus',
  'daedalus',
  'pasiphae',
  'phaedra',
  'androgeos',
];
const AWKWARD = ['<b>hi</b> & "bye"', "it's a trap", 'x'.repeat(120), 'Ünïcödé ♉ ✓', '  spaced  '];

function ok(r: RuleResult): GameState {
  if (!r.ok) throw new Error(`corpus: ${r.code} ${r.message}`);
  return r.state;
}

export interface Shown {
  label: string;
  state: GameState;
}

/** How often a hero moves or attacks (else defends), as a load client chooses. */
interface Mix {
  moveRate: number;
  attackRate: number;
}

/**
 * Every state of one game of `players` heroes (2–8), seeded. `asLoadClient`: the heroes act as
 * a load client does (moves and attacks at these rates in a random direction, else defend),
 * with no table talk and no held round.
 */
export function playedGame(
  seed: number,
  players: number,
  opts: { rematchOf?: boolean; maxRounds?: number; asLoadClient?: Mix } = {},
): Shown[] {
  const rng = createRng(seed);
  const ids = NAMES.slice(0, players).map((_, i) => String(i + 1));
  const out: Shown[] = [];
  let now = 1_000_000;
  let s = createGame({
    id: `g${seed}`,
    code: 'KEPS',
    seed,
    creator: { id: '1', name: NAMES[0]! },
    now,
    roundMs: 2000,
    maxRounds: opts.maxRounds ?? 60,
  });
  if (opts.rematchOf) s = ok(markRematch(s, '1', { code: 'ZORB', players: ids }));
  out.push({ label: 'created', state: s });
  for (const [i, id] of ids.slice(1).entries()) {
    s = ok(joinGame(s, { id, name: NAMES[i + 1]! }, opts.rematchOf ? undefined : now));
    out.push({ label: `joined ${id}`, state: s });
  }
  s = ok(startGame(s, '1', now));
  out.push({ label: 'started', state: s });
  let talk = 0;
  while (s.status === 'playing') {
    if (s.round === 3 && !opts.asLoadClient) {
      s = holdRound(s, now, 10_000);
      out.push({ label: 'held', state: s });
      s = releaseHold(s, now);
    }
    for (const p of livingPlayers(s)) {
      const choice = opts.asLoadClient
        ? asLoadClient(rng, opts.asLoadClient)
        : STRATEGIES[Number(p.id) % STRATEGIES.length]!.choose(s, p.id, rng, RULES);
      s = ok(submitAction(s, p.id, { id: `r${s.round}-${p.id}`, round: s.round, ...choice }));
      out.push({ label: `round ${s.round}: ${p.id} acted`, state: s });
      if (!opts.asLoadClient && rng.next() < 0.15) {
        const op =
          rng.next() < 0.5
            ? { type: 'say' as const, text: AWKWARD[talk++ % AWKWARD.length]! }
            : { type: 'react' as const, emote: EMOTES[talk++ % EMOTES.length]! };
        const said = applySocial(s, p.id, op);
        if (said.ok) {
          s = said.state;
          out.push({ label: `round ${s.round}: ${p.id} said`, state: s });
        }
      }
    }
    now += 2000;
    s = resolveRound(s, now);
    out.push({ label: `round ${s.round - 1} resolved`, state: s });
  }
  s = ok(offerRematch(s, ids[ids.length - 1]!, 'MAZE'));
  out.push({ label: 'rematch offered', state: s });
  return out;
}

/** A choice as a load client makes it (bench/players-client.ts). */
function asLoadClient(rng: Rng, mix: Mix): Choice {
  const r = rng.next();
  if (r >= mix.moveRate + mix.attackRate) return { kind: 'defend' };
  return {
    kind: r < mix.moveRate ? 'move' : 'attack',
    dir: DIRECTIONS[Math.floor(rng.next() * DIRECTIONS.length)]!,
  };
}

/**
 * A varied set: small and full games, a rematch's waiting room, a game cut short (draw or
 * survivors).
 */
export function corpus(): Shown[] {
  return [
    ...leftTheTable(),
    ...playedGame(7, 2),
    ...playedGame(11, 5),
    ...playedGame(13, 8, { maxRounds: 12 }),
    ...playedGame(17, 3, { rematchOf: true, maxRounds: 6 }),
    ...playedGame(19, 4),
  ];
}

/**
 * A waiting room where a hero talks, leaves (their lines stay, marked as theirs no more), another
 * takes a seat, and the first comes back.
 */
export function leftTheTable(): Shown[] {
  const now = 1_000_000;
  let s = createGame({
    id: 'gleft',
    code: 'LEFT',
    seed: 3,
    creator: { id: '1', name: NAMES[0]! },
    now,
    roundMs: 2000,
  });
  const out: Shown[] = [{ label: 'created', state: s }];
  const step = (label: string, r: RuleResult): void => {
    s = ok(r);
    out.push({ label, state: s });
  };
  step('joined 2', joinGame(s, { id: '2', name: NAMES[1]! }, now));
  step('joined 3', joinGame(s, { id: '3', name: NAMES[2]! }, now));
  step('3 said', applySocial(s, '3', { type: 'say', text: 'back in a minute' }));
  step('2 reacted', applySocial(s, '2', { type: 'react', emote: EMOTES[0] }));
  step('3 left', leaveGame(s, '3', now));
  step('4 joined', joinGame(s, { id: '4', name: NAMES[3]! }, now));
  step('3 came back', joinGame(s, { id: '3', name: NAMES[2]! }, now));
  return out;
}
