// The TypeScript templates against the EJS partials they replace: byte for byte, for every
// state of several played games, every player, a spectator and the page's own variants.

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
