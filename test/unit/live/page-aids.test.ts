// What the game and lobby templates give the page script and assistive technology to work with:
// the end box says which kind it is (a fallen hero's or the game's end) and has a title the
// focus can go to; the table talk's list is not a live region of its own (its permanent
// container is); a tired shield says so on its button; lobby rows have ids, and the heroes of a
// game being played are marked apart from an open game's host.

import { describe, expect, it } from 'vitest';
import {
  createGame,
  joinGame,
  resolveRound,
  startGame,
  type GameState,
} from '../../../src/game/index.js';
import { renderGamePartials } from '../../../src/live/game-socket.js';
import { GameFrames } from '../../../src/live/game-frame.js';
import {
  chatLine,
  chatPartial,
  compass,
  pagePartials,
  token,
} from '../../../src/live/game-templates.js';
import { gameView } from '../../../src/live/view-model.js';
import { toHtml } from '../../../src/live/html.js';
import { openGamesHtml } from '../../../src/live/lobby-templates.js';

/** A game of three heroes, started; `hurt` stands beside the Minotaur with 1 health. */
function started(names: string[]): GameState {
  let s = createGame({
    id: 'g',
    code: 'KEPS',
    seed: 7,
    creator: { id: '1', name: names[0]! },
    now: 0,
    roundMs: 10_000,
  });
  names.slice(1).forEach((name, i) => {
    const j = joinGame(s, { id: String(i + 2), name });
    if (!j.ok) throw new Error(j.message);
    s = j.state;
  });
  const st = startGame(s, '1', 1000);
  if (!st.ok) throw new Error(st.message);
  return st.state;
}

/** Resolves one round in which hero `id` stands beside the Minotaur with 1 health. */
function fall(s: GameState, id: string): GameState {
  return resolveRound(
    {
      ...s,
      minotaur: { pos: { q: 0, r: 0 } },
      walls: [],
      players: s.players.map((p) => (p.id === id ? { ...p, hp: 1, pos: { q: 1, r: 0 } } : p)),
    },
    2000,
  );
}

const overlay = (state: GameState, viewer: string | null) =>
  renderGamePartials(state, viewer, 'tok', new GameFrames(), 0).get('game-overlay') ?? '';

describe('the end box', () => {
  it('says whether it is a fallen hero’s or the game’s end, and its title takes the focus', () => {
    const three = fall(started(['ariadne', 'theseus', 'icarus']), '2');
    expect(three.status).toBe('playing');
    const fallen = overlay(three, '2');
    expect(fallen).toContain('data-overlay="fallen"');
    expect(fallen).toContain('Keep watching');
    expect(fallen).toMatch(/<h2 id="overlay-title" tabindex="-1">You have fallen<\/h2>/);
    // The others, still playing, have no box.
    expect(overlay(three, '1')).not.toContain('data-overlay');

    const two = fall(started(['ariadne', 'theseus']), '2');
    expect(two.status).toBe('finished');
    for (const viewer of ['1', '2', null]) {
      const over = overlay(two, viewer);
      expect(over).toContain('data-overlay="over"');
      expect(over).toMatch(/<h2 id="overlay-title" tabindex="-1">(Victory!|Game Over)<\/h2>/);
    }
  });
});

describe("a finished game's page read by a visitor not logged in", () => {
  it('offers a game of their own, not a lobby they have no way into', () => {
    const two = fall(started(['ariadne', 'theseus']), '2');
    const page = (visitor: boolean) =>
      pagePartials(gameView(two, null), 0, 'tok', true, visitor)['game-overlay']!;
    expect(page(true)).toContain('<a class="button" href="/signup">Sign up to play</a>');
    expect(page(true)).not.toContain('href="/lobby"');
    expect(page(false)).toContain('href="/lobby">Back to the lobby</a>');
  });
});

describe("a token's health", () => {
  it('shows a pip per point of health, between the body and either ring around it', () => {
    const at = { id: '1', x: 0, y: 0, label: 'A', name: 'ariadne', color: '#e0533a' };
    const radius = (svg: string, cls: string) =>
      Number(new RegExp(`<circle r="([0-9.]+)" class="${cls}"`).exec(svg)?.[1]);
    for (let hp = 0; hp <= 5; hp++) {
      const svg = toHtml(token({ ...at, hp, me: true, hunted: true }), { seat: 0 });
      const pips = [
        ...svg.matchAll(/<circle cx="(-?[0-9.]+)" cy="(-?[0-9.]+)" r="([0-9.]+)" class="pip"/g),
      ];
      expect(pips).toHaveLength(hp);
      const [body, ring, hunted] = [
        Number(/<circle r="([0-9.]+)" fill="[^"]*" class="token-body"/.exec(svg)?.[1]),
        radius(svg, 'me-ring'),
        radius(svg, 'hunted-ring'),
      ];
      expect(ring).toBeLessThan(hunted);
      for (const [, cx, cy, r] of pips) {
        const d = Math.hypot(Number(cx), Number(cy));
        // Clear of the body's outline (2.5 wide) and of the ring's (2.5 wide).
        expect(d - Number(r)).toBeGreaterThan(body + 1.25);
        expect(d + Number(r)).toBeLessThan(ring - 1.25);
        expect(Number(cy), 'under the body').toBeGreaterThan(0);
      }
      // Side by side, not on top of each other, and centred under the body.
      for (let i = 1; i < pips.length; i++)
        expect(Number(pips[i]![1]) - Number(pips[i - 1]![1])).toBeGreaterThan(2 * 1.7);
      const xs = pips.map((p) => Number(p[1]));
      if (hp) expect(Math.abs(Math.min(...xs) + Math.max(...xs))).toBeLessThan(0.2);
    }
  });
});

describe('table talk', () => {
  it('is not a live region of its own: the page’s permanent container is', () => {
    const line = chatLine({
      n: 1,
      me: false,
      colorIndex: 0,
      name: 'ariadne',
      text: 'hi',
      call: false,
    });
    const html = toHtml(chatPartial([line], { player: true, archived: false }));
    expect(html).toContain('<ol class="chat-lines">');
    expect(html).not.toContain('aria-live');
  });
});

describe('the Minotaur beside the hero', () => {
  it('disables the move onto its tile, saying why, and keeps the blow', () => {
    const dirs = [
      { dir: 'e' as const, arrow: '→', name: 'east', key: 'D', open: true, minotaur: true },
      { dir: 'w' as const, arrow: '←', name: 'west', key: 'A', open: true, minotaur: false },
    ];
    const html = toHtml(compass(3, dirs, false));
    const button = (action: string, dir: string) =>
      new RegExp(`<button[^>]*data-action="${action}" data-dir="${dir}"[^>]*>`).exec(html)?.[0] ??
      '';
    expect(button('move', 'e')).toContain(' disabled ');
    expect(button('move', 'e')).toContain(
      'data-blocked="The Minotaur stands east: no hero can step onto its tile. Shift+D strikes it."',
    );
    expect(button('move', 'e')).not.toContain('hx-ws:send');
    expect(button('attack', 'e')).not.toContain('disabled');
    expect(button('move', 'w')).not.toContain('disabled');
    expect(button('move', 'w')).not.toContain('data-blocked');
  });
});

describe('the shield', () => {
  const dirs = [
    { dir: 'e' as const, arrow: '→', name: 'east', key: 'D', open: true, minotaur: false },
  ];
  it('says it is tired on its button, not by its colour alone', () => {
    const tired = toHtml(compass(3, dirs, true));
    expect(tired).toMatch(
      /class="defend tired"[^>]*>.*Defend<span class="tired-tag"> \(tired\)<\/span>/s,
    );
    const fresh = toHtml(compass(3, dirs, false));
    expect(fresh).not.toContain('tired');
  });
});

describe('the lobby', () => {
  it('gives each row the id of its game, and marks who plays apart from who hosts', () => {
    const html = openGamesHtml(
      {
        rows: [{ code: 'OPEN', host: 'ariadne', players: 1, max: 4, joined: false, canJoin: true }],
        page: 1,
        pages: 1,
        total: 1,
        playing: {
          rows: [{ code: 'PLAY', heroes: ['theseus', 'icarus'], standing: 2, joined: false }],
          total: 1,
          page: 1,
          pages: 1,
        },
      },
      'tok',
    );
    expect(html).toContain('<h2 class="list-head" id="open-games-head">Open games</h2>');
    expect(html).toMatch(
      /<li class="game-item" id="lobby-OPEN">[^]*<span class="host">hosted by ariadne<\/span>/,
    );
    expect(html).toMatch(
      /<li class="game-item" id="lobby-PLAY">[^]*<span class="host heroes">theseus, icarus<\/span>/,
    );
  });
});
