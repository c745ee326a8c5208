import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createGame, joinGame, type GameState } from '../../../src/game/index.js';
import type { Command } from '../../../src/sessions/commands.js';
import type { Games } from '../../../src/web/deps.js';
import { openRematch } from '../../../src/web/rematch.js';

const logger = pino({ level: 'silent' });

function finished(): GameState {
  const s = createGame({
    id: 'g1',
    code: 'PREV',
    seed: 3,
    creator: { id: '1', name: 'ann' },
    now: 0,
    roundMs: 1000,
  });
  const j = joinGame(s, { id: '2', name: 'bob' });
  if (!j.ok) throw new Error(j.message);
  return { ...j.state, status: 'finished', winner: '1', finishedAt: 5 };
}

/**
 * Games whose finished game PREV starts without a rematch; `onClaim` decides the owner's answer.
 */
function fakeGames(
  onClaim: (
    g: FakeGames,
  ) => { ok: true; duplicate: boolean } | { ok: false; code: string; message: string },
) {
  const games = new Map<string, GameState>([['PREV', finished()]]);
  const listeners = new Set<(code: string) => void>();
  const commands: [string, Command][] = [];
  const fake = {
    games,
    commands,
    game: (code: string) => games.get(code),
    unreadable: () => false,
    lobbyGames: () => [],
    gamesOf: () => [],
    subscribe: (l: (code: string) => void) => (listeners.add(l), () => void listeners.delete(l)),
    watch: (code: string, l: () => void) => {
      const one = (changed: string) => changed === code && l();
      listeners.add(one);
      return () => void listeners.delete(one);
    },
    create: async () => ({ ok: true, code: 'MINE' }),
    execute: async (code: string, command: Command) => {
      commands.push([code, command]);
      if (command.kind === 'social' && command.op.type === 'offer-rematch') return onClaim(fake);
      return { ok: true as const, duplicate: false };
    },
    /** Another node's write arriving in this replica. */
    arrive(code: string, state: GameState) {
      games.set(code, state);
      for (const l of listeners) l(code);
    },
  };
  return fake;
}
type FakeGames = ReturnType<typeof fakeGames>;

describe('openRematch', () => {
  it('opens a new game, points the finished one at it, and marks it as the rematch of the group', async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    expect(
      await openRematch(g as unknown as Games, 'PREV', { id: '2', name: 'bob' }, logger),
    ).toEqual({ ok: true, code: 'MINE' });
    expect(g.commands).toEqual([
      ['PREV', { kind: 'social', playerId: '2', op: { type: 'offer-rematch', code: 'MINE' } }],
      [
        'MINE',
        {
          kind: 'social',
          playerId: '2',
          op: { type: 'mark-rematch', of: { code: 'PREV', players: ['1', '2'] } },
        },
      ],
    ]);
  });

  it('losing the race to another player: drops its own game and joins theirs once this replica hears of it', async () => {
    const g = fakeGames((fake) => {
      // The owner already recorded ann's rematch; this replica hears of it a moment later.
      setTimeout(
        () => fake.arrive('PREV', { ...finished(), rematch: { code: 'ANNS', by: '1' } }),
        20,
      );
      return {
        ok: false,
        code: 'rematch-exists',
        message: 'ann has already opened a rematch: game ANNS.',
      };
    });
    expect(
      await openRematch(g as unknown as Games, 'PREV', { id: '2', name: 'bob' }, logger),
    ).toEqual({ ok: true, code: 'ANNS' });
    expect(g.commands.map(([code, c]) => [code, c.kind])).toEqual([
      ['PREV', 'social'],
      ['MINE', 'leave'],
    ]);
  });

  it('an existing rematch is simply returned; outsiders and unfinished games are refused', async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    g.games.set('PREV', { ...finished(), rematch: { code: 'ANNS', by: '1' } });
    expect(
      await openRematch(g as unknown as Games, 'PREV', { id: '2', name: 'bob' }, logger),
    ).toEqual({ ok: true, code: 'ANNS' });
    expect(g.commands).toEqual([]);
    expect(
      (await openRematch(g as unknown as Games, 'PREV', { id: '9', name: 'zed' }, logger)).ok,
    ).toBe(false);
    g.games.set('PREV', { ...finished(), status: 'playing' });
    expect(
      (await openRematch(g as unknown as Games, 'PREV', { id: '2', name: 'bob' }, logger)).ok,
    ).toBe(false);
  });
});
