// The game page's partials as players and spectators see them, rendered with the real
// templates: regressions from play-testing (a "last round" before any round, two ways back
// to the lobby at the end, a spectator's end box unlike the players').

import { describe, expect, it } from 'vitest';
import {
  createGame,
  holdRound,
  joinGame,
  markPresent,
  resolveRound,
  startGame,
  type GameState,
} from '../../../src/game/index.js';
import { renderGamePartials } from '../../../src/live/game-socket.js';
import { GameFrames } from '../../../src/live/game-frame.js';

function open(): GameState {
  const s = createGame({
    id: 'g',
    code: 'KEPS',
    seed: 7,
    creator: { id: '1', name: 'ariadne' },
    now: 0,
    roundMs: 10_000,
  });
  const j = joinGame(s, { id: '2', name: 'theseus' });
  if (!j.ok) throw new Error(j.message);
  return j.state;
}

function finished(): GameState {
  const st = startGame(open(), '1', 1000);
  if (!st.ok) throw new Error(st.message);
  // theseus stands beside the Minotaur with 1 health: it falls this round.
  const s: GameState = {
    ...st.state,
    minotaur: { pos: { q: 0, r: 0 } },
    walls: [],
    players: st.state.players.map((p) => (p.id === '2' ? { ...p, hp: 1, pos: { q: 1, r: 0 } } : p)),
  };
  const end = resolveRound(s, 2000);
  expect(end.status).toBe('finished');
  return end;
}

const page = (state: GameState, viewer: string | null) =>
  [...renderGamePartials(state, viewer, 'tok', new GameFrames(), 0).values()].join('\n');
const count = (html: string, text: string) => html.split(text).length - 1;

describe('game page partials', () => {
  it('the waiting room speaks of no round yet', () => {
    const html = page(open(), '1');
    expect(html).not.toContain('Last round');
    expect(html).not.toMatch(/Round \d+<\/h2>/);
    expect(renderGamePartials(open(), '1', 'tok', new GameFrames(), 0).get('game-log')).toBe('');
  });

  it('at the end, players and spectators get the same box, with one way back to the lobby', () => {
    const end = finished();
    const views = { winner: page(end, '1'), loser: page(end, '2'), spectator: page(end, '99') };
    for (const [who, html] of Object.entries(views)) {
      expect(count(html, 'Back to the lobby'), who).toBe(1);
      expect(html, who).toContain('class="standings"');
      expect(html, who).toContain('See the board');
    }
    expect(views.winner).toContain('Victory!');
    expect(views.loser).toContain('ariadne won the game.');
    expect(views.spectator).toContain('ariadne won the game.');
    // Only those who played are offered a rematch.
    expect(views.loser).toContain('/games/KEPS/rematch');
    expect(views.spectator).not.toContain('/games/KEPS/rematch');
  });

  it('escapes what players write', () => {
    const s = {
      ...open(),
      chat: [{ n: 1, by: '2', kind: 'say' as const, text: '<img src=x onerror=alert(1)>' }],
    };
    const html = page(s, '1');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('a round held after an outage says whom it waits for and counts down to when it starts anyway', () => {
    const st = startGame(open(), '1', 1000);
    if (!st.ok) throw new Error(st.message);
    const held = holdRound(st.state, 5000, 10_000);
    const back = markPresent(held, '1', 5500);
    if (!back.ok) throw new Error(back.message);
    const status =
      renderGamePartials(back.state, '1', 'tok', new GameFrames(), 6000).get('game-status') ?? '';
    expect(status).toContain('waiting for theseus to come back');
    expect(status).not.toContain('ariadne');
    expect(status).toContain(`data-deadline="${held.hold!.until}"`);
    expect(status).toContain('>9<');
    // Once everyone is back, a normal round with a full countdown.
    const all = markPresent(back.state, '2', 7000);
    if (!all.ok) throw new Error(all.message);
    const normal =
      renderGamePartials(all.state, '1', 'tok', new GameFrames(), 7000).get('game-status') ?? '';
    expect(normal).not.toContain('come back');
    expect(normal).toContain(`data-deadline="${7000 + 10_000}"`);
  });
});
