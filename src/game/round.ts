// Resolution of one round: defends, simultaneous moves, simultaneous attacks (and ripostes), then
// the Minotaur, then the end-of-game check. Pure: the state passed in is never changed.

import { equals, key, neighbor, onBoard } from './hex.js';
import { RULES, type Rules } from './balance.js';
import { minotaurStep, minotaurTarget } from './minotaur.js';
import { defendedLastRound, submittedBy, wallKeys } from './queries.js';
import { idRecordOf } from './records.js';
import type { GameState, Hex, Player, PlayerAction, PlayerId, RoundEvent } from './types.js';

/** Resolves the current round once and returns the next state; not playing => state unchanged. */
export function resolveRound(
  state: GameState,
  now: number,
  rules: Readonly<Rules> = RULES,
): GameState {
  if (state.status !== 'playing') return state;

  const players: Player[] = state.players.map((p) => ({ ...p, pos: { ...p.pos } }));
  const walls = wallKeys(state);
  const events: RoundEvent[] = [];
  const actionOf = (p: Player): PlayerAction | undefined =>
    p.alive ? submittedBy(state, p.id) : undefined;

  // 1. Defends: a defending character takes no damage from players and less from the Minotaur.
  const defending = new Set<PlayerId>();
  for (const p of players) {
    if (actionOf(p)?.kind === 'defend') {
      defending.add(p.id);
      events.push({ kind: 'defend', actor: p.id });
    }
  }

  // 2. Moves, all at once.
  const moved = resolveMoves(players, actionOf, walls, state.radius, state.minotaur.pos);
  for (const p of players) {
    const a = actionOf(p);
    if (a?.kind !== 'move') continue;
    const to = moved.get(p.id);
    if (to) {
      events.push({ kind: 'move', actor: p.id, from: { ...p.pos }, to: { ...to } });
    } else {
      events.push({ kind: 'blocked', actor: p.id, at: { ...p.pos } });
    }
  }
  for (const p of players) {
    const to = moved.get(p.id);
    if (to) p.pos = to;
  }

  // 3. Attacks, all at once: targets are found after the moves, damage lands together, so a
  //    character knocked out this round still lands its own blow.
  const damage = new Map<PlayerId, number>();
  for (const p of players) {
    const a = actionOf(p);
    if (a?.kind !== 'attack' || a.dir === undefined) continue;
    const at = neighbor(p.pos, a.dir);
    if (equals(at, state.minotaur.pos)) {
      // The Minotaur cannot be hurt; the blow is recorded for the round log.
      events.push({ kind: 'attack', actor: p.id, target: 'minotaur', at, damage: 0 });
      continue;
    }
    const victim = players.find((v) => v.alive && equals(v.pos, at));
    if (!victim) {
      events.push({ kind: 'attack', actor: p.id, target: null, at, damage: 0 });
      continue;
    }
    const dealt = defending.has(victim.id) ? 0 : rules.attackDamage;
    damage.set(victim.id, (damage.get(victim.id) ?? 0) + dealt);
    p.dealt += dealt;
    events.push({ kind: 'attack', actor: p.id, target: victim.id, at, damage: dealt });
    if (dealt === 0 && rules.riposteDamage > 0) {
      // The shield throws the blow back at the attacker.
      damage.set(p.id, (damage.get(p.id) ?? 0) + rules.riposteDamage);
      victim.dealt += rules.riposteDamage;
      events.push({ kind: 'riposte', actor: victim.id, target: p.id, damage: rules.riposteDamage });
    }
  }
  for (const p of players) {
    const d = damage.get(p.id);
    if (d) p.hp = Math.max(0, p.hp - d);
  }
  eliminate(players, state.round, events);

  // 4. The Minotaur strikes a character beside it or steps toward the nearest one (the rules
  //    say whether it may do both in one round, and how often it steps).
  let minotaurPos: Hex = { ...state.minotaur.pos };
  const living = players.filter((p) => p.alive);
  const besideAlready = minotaurTarget(minotaurPos, living) !== null;
  if (minotaurStepsIn(state.round, rules) && (rules.strikeAfterStep || !besideAlready)) {
    const step = minotaurStep(minotaurPos, living, walls, state.radius);
    if (step) {
      events.push({ kind: 'minotaur-move', from: { ...minotaurPos }, to: { ...step } });
      minotaurPos = step;
    }
  }
  const target =
    rules.strikeAfterStep || besideAlready ? minotaurTarget(minotaurPos, living) : null;
  if (target) {
    // A shield raised two rounds running is tired and lets the Minotaur through
    // (rules.tiredShield).
    const shielded =
      defending.has(target.id) && !(rules.tiredShield && defendedLastRound(state, target.id));
    const dealt = shielded ? rules.minotaurDamageDefended : rules.minotaurDamage;
    target.hp = Math.max(0, target.hp - dealt);
    events.push({ kind: 'minotaur-attack', target: target.id, damage: dealt });
  }
  eliminate(players, state.round, events);

  // 5. Bookkeeping and the end of the game.
  const previous: Record<PlayerId, string> = idRecordOf(
    Object.entries(state.submitted).map(([id, a]) => [id, a.id] as const),
  );
  const next: GameState = {
    ...state,
    players,
    minotaur: { pos: minotaurPos },
    submitted: {},
    previous,
    events,
  };

  const survivors = players.filter((p) => p.alive);
  if (survivors.length <= 1) {
    return finish(next, now, survivors[0]?.id ?? null);
  }
  if (state.round >= state.maxRounds) {
    const top = Math.max(...survivors.map((p) => p.hp));
    const leaders = survivors.filter((p) => p.hp === top);
    return finish(next, now, leaders.length === 1 ? (leaders[0] as Player).id : null);
  }
  // From `now`, not from the old deadline: a game resumed after downtime gets a full round
  // instead of racing through every round it missed.
  return { ...next, round: state.round + 1, deadline: now + state.roundMs, hold: null };
}

function finish(state: GameState, now: number, winner: PlayerId | null): GameState {
  return { ...state, status: 'finished', winner, deadline: null, hold: null, finishedAt: now };
}

/** Whether the Minotaur may take a step in this round. */
export function minotaurStepsIn(round: number, rules: Readonly<Rules>): boolean {
  return round % rules.minotaurPace === 0;
}

function eliminate(players: Player[], round: number, events: RoundEvent[]): void {
  for (const p of players) {
    if (p.alive && p.hp <= 0) {
      p.alive = false;
      p.eliminatedRound = round;
      events.push({ kind: 'eliminated', actor: p.id });
    }
  }
}

/**
 * Simultaneous moves. A move is blocked when its target is off the board, a wall, the Minotaur's
 * tile, wanted by another mover too, or held by a character that does not itself get away; two
 * characters never swap through each other. Blocking one move can block the move behind it, so
 * this repeats until nothing changes. Returns the destination of every move that succeeds.
 */
export function resolveMoves(
  players: readonly Player[],
  actionOf: (p: Player) => PlayerAction | undefined,
  walls: ReadonlySet<string>,
  radius: number,
  minotaur: Hex,
): Map<PlayerId, Hex> {
  const targets = new Map<PlayerId, Hex>();
  for (const p of players) {
    const a = actionOf(p);
    if (p.alive && a?.kind === 'move' && a.dir !== undefined)
      targets.set(p.id, neighbor(p.pos, a.dir));
  }
  const wanted = new Map<string, number>();
  for (const t of targets.values()) wanted.set(key(t), (wanted.get(key(t)) ?? 0) + 1);

  const going = new Set<PlayerId>();
  for (const [id, t] of targets) {
    const k = key(t);
    if (onBoard(t, radius) && !walls.has(k) && !equals(t, minotaur) && wanted.get(k) === 1)
      going.add(id);
  }

  const holder = new Map<string, Player>();
  for (const p of players) if (p.alive) holder.set(key(p.pos), p);

  const from = new Map<PlayerId, Hex>(players.map((p) => [p.id, p.pos]));
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of [...going]) {
      const occupant = holder.get(key(targets.get(id) as Hex));
      if (!occupant) continue;
      // Blocked if the occupant stays put, or if it is coming the other way (a swap).
      if (!going.has(occupant.id) || equals(targets.get(occupant.id) as Hex, from.get(id) as Hex)) {
        going.delete(id);
        changed = true;
      }
    }
  }
  const result = new Map<PlayerId, Hex>();
  for (const id of going) result.set(id, targets.get(id) as Hex);
  return result;
}
