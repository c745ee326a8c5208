import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createGame, joinGame, type GameState } from '../../../src/game/index.js';
import type { Command } from '../../../src/sessions/commands.js';
import type { Games } from '../../../src/web/deps.js';
import type { Admission } from '../../../src/web/game-limits.js';
import { openRematch } from '../../../src/web/rematch.js';

const logger = pino({ level: 'silent' });

/** The account's game limits, always admitting; counts admissions, games made and releases. */
function admissions() {
  const counts = { admitted: 0, created: 0, released: 0 };
  return {
    counts,
    admit: async (): Promise<Admission> => {
      counts.admitted++;
      return {
        ok: true,
        created: () => {
          counts.created++;
        },
        release: () => {
          counts.released++;
        },
      };
    },
  };
}

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
    awaitGame: async (code: string) => games.get(code),
    /** What the node says of a game it does not show: 'unreachable' while its database is away. */
    pendingAnswer: null as 'resuming' | 'unreachable' | null,
    pending: async () => fake.pendingAnswer,
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

/** A rematch of PREV called for by `who` (bob unless said). */
function rematchOfPrev(
  g: FakeGames,
  admit: () => Promise<Admission>,
  who = { id: '2', name: 'bob' },
) {
  return openRematch(g as unknown as Games, 'PREV', who, logger, admit);
}

describe('openRematch', () => {
  it('opens a new game, points the finished one at it, and marks it as the rematch of the group', async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    const admitted = admissions();
    expect(await rematchOfPrev(g, admitted.admit)).toEqual({ ok: true, code: 'MINE' });
    expect(g.commands).toEqual([
      ['PREV', { kind: 'social', playerId: '2', op: { type: 'offer-rematch', code: 'MINE' } }],
      [
        'MINE',
        {
          kind: 'social',
          playerId: '2',
          op: { type: 'mark-rematch', of: { code: 'PREV', players: ['1', '2'], colors: [0, 1] } },
        },
      ],
    ]);
    expect(admitted.counts).toEqual({ admitted: 1, created: 1, released: 0 });
  });

  it('losing the race to another player: drops its own game and joins theirs once this replica hears of it', async () => {
    const admitted = admissions();
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
    expect(await rematchOfPrev(g, admitted.admit)).toEqual({ ok: true, code: 'ANNS' });
    expect(g.commands.map(([code, c]) => [code, c.kind])).toEqual([
      ['PREV', 'social'],
      ['MINE', 'leave'],
    ]);
    // The game it dropped does not count against the account's games an hour.
    expect(admitted.counts).toEqual({ admitted: 1, created: 1, released: 1 });
  });

  it('an existing rematch is simply returned; outsiders and unfinished games are refused', async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    const admitted = admissions();
    g.games.set('PREV', { ...finished(), rematch: { code: 'ANNS', by: '1' } });
    g.games.set('ANNS', { ...finished(), id: 'g2', code: 'ANNS', status: 'open' });
    expect(await rematchOfPrev(g, admitted.admit)).toEqual({ ok: true, code: 'ANNS' });
    expect(g.commands).toEqual([]);
    expect(admitted.counts.admitted).toBe(0);
    expect((await rematchOfPrev(g, admitted.admit, { id: '9', name: 'zed' })).ok).toBe(false);
    g.games.set('PREV', { ...finished(), status: 'playing' });
    expect((await rematchOfPrev(g, admitted.admit)).ok).toBe(false);
  });

  it('opens another in place of a rematch everybody left before it started', async () => {
    for (const left of ['emptied', 'dropped'] as const) {
      const g = fakeGames(() => ({ ok: true, duplicate: false }));
      g.games.set('PREV', { ...finished(), rematch: { code: 'GONE', by: '1' } });
      if (left === 'emptied')
        g.games.set('GONE', { ...finished(), id: 'g2', code: 'GONE', players: [], winner: null });
      expect(await rematchOfPrev(g, admissions().admit), left).toEqual({ ok: true, code: 'MINE' });
      expect(g.commands[0], left).toEqual([
        'PREV',
        {
          kind: 'social',
          playerId: '2',
          op: { type: 'offer-rematch', code: 'MINE', replaces: 'GONE' },
        },
      ]);
    }
    // Not shown here while the database cannot be read: it may well be there, so it stands.
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    g.games.set('PREV', { ...finished(), rematch: { code: 'AWAY', by: '1' } });
    g.pendingAnswer = 'unreachable';
    expect(await rematchOfPrev(g, admissions().admit)).toEqual({ ok: true, code: 'AWAY' });
    expect(g.commands).toEqual([]);
  });

  it("is refused by the account's game limits as a new game is, and opens nothing", async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    let created = 0;
    g.create = async () => (created++, { ok: true, code: 'MINE' });
    const message = 'You already have 1 game of your own waiting or in play (at most 1).';
    const refuse = async (): Promise<Admission> => ({ ok: false, reason: 'open', message });
    expect(await rematchOfPrev(g, refuse)).toEqual({ ok: false, message, refused: 'open' });
    expect(created).toBe(0);
    expect(g.commands).toEqual([]);
  });

  it('a game that could not be created does not count against the limits', async () => {
    const g = fakeGames(() => ({ ok: true, duplicate: false }));
    const admitted = admissions();
    Object.assign(g, { create: async () => ({ ok: false, message: 'No node can take it.' }) });
    expect(await rematchOfPrev(g, admitted.admit)).toEqual({
      ok: false,
      message: 'No node can take it.',
    });
    expect(admitted.counts).toEqual({ admitted: 1, created: 0, released: 1 });
  });
});
