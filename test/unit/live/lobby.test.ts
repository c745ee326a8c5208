// The lobby's lists: open games by pages, and the newest games being played, to watch.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GameState } from '../../../src/game/types.js';
import { LOBBY_PLAYING_SHOWN, lobbyPage } from '../../../src/live/lobby-socket.js';
import { lobby, started } from '../game/fixtures.js';

/** A game of these players, opened at `createdAt`, with code `code`. */
function game(code: string, createdAt: number, state: GameState): GameState {
  return { ...state, code, createdAt };
}

describe('the lobby', () => {
  it('lists open games to join and the newest games being played to watch, never a finished one', () => {
    const open = game('OPEN', 5, lobby(['ann', 'bob']));
    const playing = Array.from({ length: LOBBY_PLAYING_SHOWN + 3 }, (_, i) =>
      game(`P${String.fromCharCode(65 + i)}AA`, 100 + i, started(['cy', 'dee', 'eve'])),
    );
    const fallen = game('FELL', 1000, started(['cy', 'dee', 'eve']));
    fallen.players = fallen.players.map((p) => (p.id === 'dee' ? { ...p, alive: false } : p));
    const over: GameState = { ...game('OVER', 2000, started(['ann', 'bob'])), status: 'finished' };

    const page = lobbyPage([open, ...playing, fallen, over], 'ann', 1);
    expect(page.rows.map((r) => r.code)).toEqual(['OPEN']);
    expect(page.total).toBe(1);
    expect(page.playing.total).toBe(LOBBY_PLAYING_SHOWN + 4);
    expect(page.playing.rows).toHaveLength(LOBBY_PLAYING_SHOWN);
    // Newest first; the oldest are counted, not listed.
    expect(page.playing.rows[0]).toEqual({
      code: 'FELL',
      heroes: ['cy', 'DEE', 'EVE'],
      standing: 2,
      joined: false,
    });
    expect(page.playing.rows[1]?.code).toBe(
      `P${String.fromCharCode(65 + LOBBY_PLAYING_SHOWN + 2)}AA`,
    );
    expect(page.playing.rows.map((r) => r.code)).not.toContain('PAAA');
    expect(page.playing.rows.every((r) => r.standing === 3 || r.code === 'FELL')).toBe(true);

    // A hero of a game being played is offered to open it.
    expect(lobbyPage([fallen], 'dee', 1).playing.rows[0]?.joined).toBe(true);
    expect(lobbyPage([fallen], null, 1).playing.rows[0]?.joined).toBe(false);
    expect(lobbyPage([open, over], 'ann', 1).playing).toEqual({ rows: [], total: 0 });
  });

  it('lists the newest games being played first, ties by code, at most the shown number, and counts them all', () => {
    const base = started(['cy', 'dee']);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 20 }), playing: fc.boolean() }), {
          maxLength: 40,
        }),
        (specs) => {
          const games = specs.map((x, i): GameState => ({
            ...game(`G${String(i).padStart(3, '0')}`, x.at, base),
            status: x.playing ? 'playing' : 'open',
          }));
          const sorted = games
            .filter((g) => g.status === 'playing')
            .sort((a, b) => b.createdAt - a.createdAt || (a.code < b.code ? -1 : 1));
          const { rows, total } = lobbyPage(games, null, 1).playing;
          expect(total).toBe(sorted.length);
          expect(rows.map((r) => r.code)).toEqual(
            sorted.slice(0, LOBBY_PLAYING_SHOWN).map((g) => g.code),
          );
        },
      ),
    );
  });
});
