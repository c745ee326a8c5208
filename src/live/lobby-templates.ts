// The lobby's live partial (its open games, and the games being played) as a template of statics
// and dynamics (see html.ts). The first HTTP response and every live update render it here; the
// same tree serves every lobby page that shows the same rows, its form token a slot each page
// fills from its own part. Pure; whitespace is part of the output.

import { html, Slot, toHtml, escape, type Dyn, type Memo, type Rendered } from './html.js';
import type { LobbyPage, OpenGameRow, PlayingGameRow } from './lobby-socket.js';

/** The partial's target on the page. */
export const OPEN_GAMES = 'open-games';
/** The page's own part that fills the join forms' token (html.ts: `host~part` fills a slot). */
export const CSRF_PART = `${OPEN_GAMES}~csrf`;
const CSRF = new Slot(CSRF_PART);

const NO_OPEN_GAMES = html`\n  <p class="empty">No open games right now. Start one and share its link.</p>\n`;
const NO_LINK = html`<span></span>`;

/**
 * Where rows' trees are kept: the same row gives back the same tree, so a row that moved (a game
 * opened above it, or one above it started) is sent to a page as a reference to the row it
 * holds (patch.ts) rather than as the values that differ from the row it replaces.
 */
export type RowTrees = Pick<Memo<Rendered>, 'get'>;

/** Rows made afresh (the first HTTP response renders them once). */
const FRESH: RowTrees = { get: (_key, make) => make() };

/** The open games (a page of them) and the games being played, for any viewer with these rows. */
export function openGamesPartial(lobby: LobbyPage, rows: RowTrees = FRESH): Rendered {
  return html`<h2 class="list-head" id="open-games-head">Open games</h2>\n${lobby.total ? openList(lobby, rows) : NO_OPEN_GAMES}\n${lobby.playing.total ? playingList(lobby, rows) : ''}\n`;
}

/** The partial as HTML for a page whose form token is `csrfToken`. */
export function openGamesHtml(lobby: LobbyPage, csrfToken: string): string {
  return toHtml(openGamesPartial(lobby), {
    seat: -1,
    slots: new Map<string, Dyn>([[CSRF_PART, escape(csrfToken)]]),
  });
}

function openList(lobby: LobbyPage, rows: RowTrees): Rendered {
  const trees = lobby.rows.map((g) => rows.get(`open ${JSON.stringify(g)}`, () => openRow(g)));
  return html`\n  <ul class="game-list">\n    ${trees}\n  </ul>\n  ${lobby.pages > 1 ? pager(lobby) : ''}\n`;
}

function openRow(g: OpenGameRow): Rendered {
  const act = g.canJoin
    ? html`\n          <form method="post" action="/games/${g.code}/join" class="inline"><input type="hidden" name="_csrf" value="${CSRF}"><button type="submit" class="small" aria-label="Join game ${g.code}">Join</button></form>\n        `
    : html`\n          ${openLink(g.code, g.joined)}\n        `;
  return html`\n      <li class="game-item" id="lobby-${g.code}">\n        <a href="/games/${g.code}" class="code" aria-label="Game ${g.code}">${g.code}</a>\n        <span class="host">hosted by ${g.host}</span>\n        <span class="seats">${g.players}/${g.max} heroes</span>\n        ${act}\n      </li>\n    `;
}

/** "Open" for a game the viewer plays in, "Watch" for any other. */
function openLink(code: string, joined: boolean): Rendered {
  const verb = joined ? 'Open' : 'Watch';
  return html`<a class="button small ghost" href="/games/${code}" aria-label="${verb} game ${code}">${verb}</a>`;
}

/** The lobby's address showing page `page` of the open games and `watch` of those played. */
function lobbyHref(page: number, watch: number, fragment = ''): string {
  return `/lobby?page=${page}${watch > 1 ? `&watch=${watch}` : ''}${fragment}`;
}

/** Links to the pages before and after `page` of `pages` ("Newer" and "Older"). */
function pageLinks(page: number, pages: number, href: (page: number) => string): [Dyn, Dyn] {
  return [
    page > 1 ? html`<a href="${href(page - 1)}" rel="prev">← Newer</a>` : NO_LINK,
    page < pages ? html`<a href="${href(page + 1)}" rel="next">Older →</a>` : NO_LINK,
  ];
}

function pager(lobby: LobbyPage): Rendered {
  const [newer, older] = pageLinks(lobby.page, lobby.pages, (p) =>
    lobbyHref(p, lobby.playing.page),
  );
  return html`\n    <nav class="pager" aria-label="Open games pages">\n      ${newer}\n      <span class="pages">Page ${lobby.page} of ${lobby.pages} · ${lobby.total} open games</span>\n      ${older}\n    </nav>\n  `;
}

function playingList(lobby: LobbyPage, rows: RowTrees): Rendered {
  const { playing } = lobby;
  const trees = playing.rows.map((g) =>
    rows.get(`playing ${JSON.stringify(g)}`, () => playingRow(g)),
  );
  return html`\n  <h2 class="list-head" id="being-played">Being played</h2>\n  <ul class="game-list">\n    ${trees}\n  </ul>\n  ${playing.pages > 1 ? playingPager(lobby) : ''}\n`;
}

function playingPager(lobby: LobbyPage): Rendered {
  const { playing } = lobby;
  const [newer, older] = pageLinks(playing.page, playing.pages, (w) =>
    lobbyHref(lobby.page, w, '#being-played'),
  );
  return html`\n    <nav class="pager" aria-label="Pages of games being played">\n      ${newer}\n      <span class="pages">Page ${playing.page} of ${playing.pages} · ${playing.total.toLocaleString('en')} being played</span>\n      ${older}\n    </nav>\n  `;
}

function playingRow(g: PlayingGameRow): Rendered {
  const names =
    g.heroes.slice(0, 4).join(', ') + (g.heroes.length > 4 ? ` +${g.heroes.length - 4}` : '');
  return html`\n      <li class="game-item" id="lobby-${g.code}">\n        <a href="/games/${g.code}" class="code" aria-label="Game ${g.code}">${g.code}</a>\n        <span class="host heroes">${names}</span>\n        <span class="seats">${g.standing} of ${g.heroes.length} standing</span>\n        ${openLink(g.code, g.joined)}\n      </li>\n    `;
}
