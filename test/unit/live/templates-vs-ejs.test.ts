// The TypeScript templates against the EJS partials they replace: byte for byte, for every
// state of several played games, every player, a spectator and the page's own variants; and the
// lobby's partial for random lists.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  actionsPartial,
  boardOf,
  chatLine,
  chatPartial,
  intentOf,
  logPartial,
  overlayPartial,
  playerRow,
  playersPartial,
  statusPartial,
  tilesPartial,
} from '../../../src/live/game-templates.js';
import { toHtml } from '../../../src/live/html.js';
import type { LobbyPage } from '../../../src/live/lobby-socket.js';
import { openGamesHtml } from '../../../src/live/lobby-templates.js';
import { Renderer } from '../../../src/live/render.js';
import { gameView } from '../../../src/live/view-model.js';
import { VIEWS_DIR } from '../../../src/web/app.js';
import { corpus } from './corpus.js';

const ejs = new Renderer(VIEWS_DIR);

describe('game templates', () => {
  it('render what the EJS partials rendered', () => {
    let compared = 0;
    for (const { label, state } of corpus()) {
      for (const viewer of [...state.players.map((p) => p.id), 'spectator', null]) {
        const g = gameView(state, viewer);
        const at = `${label}, viewer ${viewer}`;
        for (const now of [null, state.deadline === null ? 0 : state.deadline - 1500]) {
          expect(toHtml(statusPartial(g, now, intentOf(g))), `status: ${at}`).toBe(
            ejs.render('partials/game/status', { g, now }),
          );
        }
        expect(toHtml(logPartial(g)), `log: ${at}`).toBe(ejs.render('partials/game/log', { g }));
        expect(toHtml(boardOf(g)), `board: ${at}`).toBe(ejs.render('partials/game/board', { g }));
        expect(
          toHtml(
            playersPartial(
              g.players.map((p) =>
                playerRow(p, { status: g.status, winnerId: g.winner?.id ?? null }),
              ),
            ),
          ),
          `players: ${at}`,
        ).toBe(ejs.render('partials/game/players', { g }));
        expect(toHtml(actionsPartial(g, 'tok&"<')), `actions: ${at}`).toBe(
          ejs.render('partials/game/actions', { g, csrfToken: 'tok&"<' }),
        );
        expect(toHtml(overlayPartial(g, 'tok')), `overlay: ${at}`).toBe(
          ejs.render('partials/game/overlay', { g, csrfToken: 'tok' }),
        );
        expect(toHtml(overlayPartial(g, undefined)), `overlay without a form token: ${at}`).toBe(
          ejs.render('partials/game/overlay', { g }),
        );
        expect(
          toHtml(chatPartial(g.chat.map(chatLine), { player: !!g.me, archived: false })),
          `chat: ${at}`,
        ).toBe(ejs.render('partials/game/chat', { g }));
        expect(
          toHtml(chatPartial(g.chat.map(chatLine), { player: !!g.me, archived: true })),
          `archived chat: ${at}`,
        ).toBe(ejs.render('partials/game/chat', { g, archived: true }));
        compared++;
      }
      const g = gameView(state, null);
      expect(toHtml(tilesPartial(g)), `tiles: ${label}`).toBe(
        ejs.render('partials/game/tiles', { g }),
      );
    }
    expect(compared).toBeGreaterThan(1000);
  });
});

describe('the lobby template', () => {
  it('renders what the EJS partial rendered, for any lists, viewer and token', () => {
    // Names and tokens with every character HTML escapes.
    const text = fc.stringMatching(/^[a-z&<>"' ]{1,12}$/);
    const code = fc.stringMatching(/^[A-Z]{4}$/);
    const open = fc.record({
      code,
      host: text,
      players: fc.integer({ min: 1, max: 8 }),
      max: fc.constant(8),
      joined: fc.boolean(),
      canJoin: fc.boolean(),
    });
    const playing = fc.record({
      code,
      heroes: fc.array(text, { minLength: 1, maxLength: 8 }),
      standing: fc.integer({ min: 0, max: 8 }),
      joined: fc.boolean(),
    });
    const lobby: fc.Arbitrary<LobbyPage> = fc
      .record({
        rows: fc.array(open, { maxLength: 6 }),
        page: fc.integer({ min: 1, max: 4 }),
        pages: fc.integer({ min: 1, max: 4 }),
        extra: fc.nat(5000),
        playingRows: fc.array(playing, { maxLength: 8 }),
        playingExtra: fc.constantFrom(0, 0, 1, 3, 1500),
        watch: fc.integer({ min: 1, max: 200 }),
      })
      .map((l) => ({
        rows: l.rows,
        page: Math.min(l.page, l.pages),
        pages: l.pages,
        total: l.rows.length + (l.rows.length ? l.extra : 0),
        playing: {
          rows: l.playingRows,
          total: l.playingRows.length + l.playingExtra,
          ...pageOf(l.playingRows.length + l.playingExtra, l.watch),
        },
      }));
    // A page of the games being played: `watch` clamped to the pages there are.
    function pageOf(total: number, watch: number): { page: number; pages: number } {
      const pages = Math.max(1, Math.ceil(total / 8));
      return { page: Math.min(watch, pages), pages };
    }
    fc.assert(
      fc.property(lobby, text, (page, token) => {
        expect(openGamesHtml(page, token)).toBe(
          ejs.render('partials/open-games', { lobby: page, csrfToken: token }),
        );
      }),
      { numRuns: 300 },
    );
  });
});
