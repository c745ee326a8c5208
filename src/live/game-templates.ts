// The game page's partials as templates of statics and dynamics (see html.ts): the status bar,
// the round log, the board (its fixed tiles, and the pieces), the heroes, the viewer's actions,
// the end box and the table talk. The first HTTP response and every live update render them
// here. Pure functions of the view data (view-model.ts); whitespace is part of the output.
//
// Pieces that many viewers or many states share are separate functions, so the caller
// (game-frame.ts) can keep and reuse them while their inputs are unchanged. A view's `me` is a
// boolean for one viewer's page, or a seat: then the tree marks it for whoever sits there, and
// serves every viewer (html.ts, Mark).

import { html, mark, Memo, toHtml, type Dyn, type Rendered, type Seat, type Slot } from './html.js';
import type {
  BubbleView,
  ChatLineView,
  FallenView,
  GameView,
  HitView,
  PlayerRow,
  ReachTile,
  TileView,
  TokenView,
} from './view-model.js';
import { tileOutline } from './view-model.js';

/** A view whose `me` may be a seat (a mark resolved by each page). */
export type ForSeat<T extends { me: boolean }> = Omit<T, 'me'> & { me: boolean | Seat };

// ── status ──────────────────────────────────────────────────────────────────────────────

/**
 * The status bar. `now` (ms) is the time of the first render of the state; null shows the full
 * round. Whom the round waits for may be marked by seat: the status is one tree for every viewer.
 */
export type StatusView = Pick<
  GameView,
  | 'status'
  | 'playerCount'
  | 'maxPlayers'
  | 'rematchOf'
  | 'round'
  | 'maxRounds'
  | 'deadline'
  | 'roundSeconds'
  | 'hold'
  | 'waitingFor'
>;

export function statusPartial(g: StatusView, now: number | null, intent: Rendered | ''): Rendered {
  return html`${statusBranch(g, now, intent)}\n`;
}

function statusBranch(g: StatusView, now: number | null, intent: Rendered | ''): Rendered {
  if (g.status === 'open') {
    const rematch = g.rematchOf
      ? html`<span class="dim rematch-note">Rematch of ${g.rematchOf.code}: ${g.rematchOf.back} of ${g.rematchOf.total} back · starts when all are in</span>`
      : '';
    // A full room is marked: the page's script hides the invite link while it is (minotaur.js).
    const full = g.playerCount >= g.maxPlayers ? ' full' : '';
    return html`\n  <span class="phase waiting${full}">Waiting for heroes · ${g.playerCount}/${g.maxPlayers}</span>\n  ${rematch}\n`;
  }
  if (g.status === 'playing' && g.hold) {
    // A round held after an outage: whom it waits for, and when it starts anyway.
    const left = now === null ? '' : Math.max(0, Math.ceil((g.hold.until - now) / 1000));
    return html`\n  <div class="round-line">\n    <span class="phase">Round <strong>${g.round}</strong> waits</span>\n    <span class="countdown" data-deadline="${g.hold.until}" data-round="${g.round}" data-seconds="60" role="timer" aria-label="Seconds until round ${g.round} starts anyway">\n      <span class="countdown-num">${left}</span>s\n    </span>\n  </div>\n  <p class="waiting-for hold">A server restarted: waiting for ${g.hold.names.join(', ')} to come back. The round starts when everyone is here, or when the countdown ends.</p>\n`;
  }
  if (g.status === 'playing') {
    const left =
      now === null
        ? g.roundSeconds
        : Math.min(g.roundSeconds, Math.max(0, Math.ceil(((g.deadline || now) - now) / 1000)));
    return html`\n  <div class="round-line">\n    <span class="phase">Round <strong>${g.round}</strong><span class="dim"> / ${g.maxRounds}</span></span>\n    <span class="countdown" data-deadline="${g.deadline}" data-round="${g.round}" data-seconds="${g.roundSeconds}" role="timer" aria-label="Seconds left in round ${g.round}">\n      <span class="countdown-num">${left}</span>s\n    </span>\n  </div>\n  <div class="timer-bar" aria-hidden="true"><span class="timer-fill"></span></div>\n  <p class="waiting-for">${waitingLine(g.waitingFor)}</p>\n  ${intent}\n`;
  }
  return html`\n  <span class="phase over">Game over after ${g.round} rounds</span>\n`;
}

/**
 * Whom the round still waits for: one line for every page of the game (a hero's own page leaves
 * its hero out, or reads "you" when nobody else is left: public/js/minotaur.js, waitingForOthers).
 */
export function waitingLine(waitingFor: readonly string[]): Rendered {
  return waitingFor.length ? html`Waiting for ${waitingFor.join(', ')}` : html`Everyone has chosen`;
}

/** What the Minotaur does this round (the same for every viewer of a state). */
export function intentOf(g: Pick<GameView, 'intent' | 'tokens'>): Rendered | '' {
  return g.intent
    ? intentLine(
        g.intent,
        g.tokens.some((t) => t.hunted && t.me),
      )
    : '';
}

/**
 * What the Minotaur does this round; `me`: the hero it is after is the viewer's (a boolean for
 * one viewer, or that hero's seat for every viewer), who reads "you".
 */
export function intentLine(i: NonNullable<GameView['intent']>, me: boolean | Seat): Rendered {
  let line: Rendered;
  const who = i.hunted === null ? '' : mark(me, 'you', i.hunted);
  if (i.besideSomeone && i.hunted)
    line = html`The Minotaur gores the weakest hero beside it when this round ends: now <strong>${who}</strong>.\n      `;
  else if (i.steps && i.hunted)
    line = html`The Minotaur steps toward <strong>${who}</strong> this round.\n      `;
  else if (i.hunted)
    line = html`The Minotaur watches <strong>${who}</strong>; it steps next round.\n      `;
  else line = html`The Minotaur waits.`;
  return html`\n    <p class="intent"><span class="intent-mark" aria-hidden="true">♉</span>\n      ${line}\n    </p>\n  `;
}

// ── round log ───────────────────────────────────────────────────────────────────────────

export function logPartial(g: Pick<GameView, 'status' | 'logRound' | 'log'>): Rendered | '' {
  return g.status === 'open' ? '' : roundLog(g.logRound, g.log);
}

/** What happened in round `logRound` (0: before the first round was played). */
export function roundLog(logRound: number, log: readonly string[]): Rendered {
  const g = { logRound, log };
  const title = g.logRound > 0 ? `Round ${g.logRound}` : 'The first round';
  if (!g.log.length)
    return html`<h2>${title}</h2>\n<p class="dim">${g.logRound > 0 ? 'Nothing happened.' : 'What happens each round shows here.'}</p>\n`;
  return html`<h2>${title}</h2>\n<ul class="events">${g.log.map((line) => html`<li>${line}</li>`)}</ul>\n`;
}

// ── board ───────────────────────────────────────────────────────────────────────────────

/** The fixed labyrinth: tile shapes and walls (rendered once per game). */
export function tilesPartial(g: Pick<GameView, 'viewBox' | 'tiles'>): Rendered {
  return html`<svg viewBox="${g.viewBox}" role="img" aria-label="The labyrinth" class="hexboard tiles">\n  <defs>\n    <pattern id="rock" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(35)">\n      <rect width="8" height="8" fill="#241d17"/>\n      <line x1="0" y1="0" x2="0" y2="8" stroke="#3a3027" stroke-width="3"/>\n    </pattern>\n  </defs>\n  <g class="tiles">\n  ${g.tiles.map(tile)}\n  </g>\n</svg>\n`;
}

function tile(t: TileView): Rendered {
  return html`<polygon points="${t.points}" class="tile ${t.kind}"><title>${t.kind === 'wall' ? 'Wall' : t.kind === 'lair' ? 'The lair' : 'Floor'} (${t.q}, ${t.r})</title></polygon>\n  `;
}

/** The pieces on the board, from its parts (each a tree or a list of trees). */
export interface BoardParts {
  viewBox: string;
  danger: readonly Rendered[];
  next: Rendered | '';
  /** The viewer's reachable tiles, or the slot each page fills with its own. */
  reach: readonly Rendered[] | Slot;
  fallen: readonly Rendered[];
  minotaur: Rendered;
  tokens: readonly Rendered[];
  hits: readonly Rendered[];
  bubbles: readonly Rendered[];
}

export function boardPartial(p: BoardParts): Rendered {
  return html`<svg viewBox="${p.viewBox}" role="group" aria-label="Heroes and the Minotaur" class="hexboard pieces">\n  <defs>\n    <filter id="glow" x="-50%" y="-50%" width="200%" height="200%">\n      <feGaussianBlur stdDeviation="3" result="b"/><feMerge><feMergeNode in="b"/><feMergeNode in="SourceGraphic"/></feMerge>\n    </filter>\n  </defs>\n  <g class="danger-zone" aria-hidden="true">\n    ${p.danger}\n  </g>\n  ${p.next}\n  ${p.reach}\n  ${p.fallen}\n  ${p.minotaur}\n  ${p.tokens}\n  ${p.hits}\n  ${p.bubbles}\n</svg>\n`;
}

/** The board of one viewer from a whole view (the caller may share the parts instead). */
export function boardOf(g: GameView): Rendered {
  return boardPartial({
    viewBox: g.viewBox,
    danger: g.danger ? [around(g.danger, g.danger.tiles.map(dangerTile))] : [],
    next: g.minotaurNext ? minotaurNext(g.minotaurNext) : '',
    reach: g.reach ? [around(g.reach, g.reach.tiles.map(reachTile))] : [],
    fallen: g.fallen.map(fallenMark),
    minotaur: minotaurPiece(g.minotaur),
    tokens: g.tokens.map(token),
    hits: g.hits.map(hit),
    bubbles: g.bubbles.map(bubble),
  });
}

/** A tile's outline, to be moved to a tile's centre (the same text for every overlay). */
const OUTLINE = tileOutline();

/**
 * Tiles placed around a tile's centre (view-model.ts, Around): when the piece at the centre
 * moves, a page is sent its two numbers, and the tiles as they were.
 */
export function around(at: { x: number; y: number }, tiles: readonly Rendered[]): Rendered {
  return html`<g transform="translate(${at.x} ${at.y})">${tiles}</g>`;
}

/** A tile beside the Minotaur, placed from its tile (`around`). */
export function dangerTile(at: { x: number; y: number }): Rendered {
  return html`<polygon points="${OUTLINE}" transform="translate(${at.x} ${at.y})" class="tile danger"/>`;
}

export function minotaurNext(at: { x: number; y: number }): Rendered {
  return html`<polygon points="${OUTLINE}" transform="translate(${at.x} ${at.y})" class="tile minotaur-next"><title>The Minotaur steps here this round if the heroes stay where they are</title></polygon>`;
}

/**
 * A tile the viewer's hero can reach this round, and the aiming mark under it, placed once for
 * both, from the hero's tile (`around`). A walkable one moves there when clicked, with the round
 * of the actions panel's form (as its buttons do); one a hero stands on says that the move
 * succeeds only if that hero moves away.
 */
export function reachTile(t: ReachTile): Rendered {
  const move = !t.walkable
    ? ''
    : t.held
      ? html`\n    <polygon points="${OUTLINE}" class="tile reach follow" tabindex="0" role="button" aria-label="Move ${t.name} (${t.key}), if the hero there moves away" hx-ws:send hx-vals='{"kind":"move","dir":"${t.dir}"}' hx-include="#game-actions [name=round]" data-action="move" data-dir="${t.dir}"><title>Move ${t.name}: only if the hero there moves away this round</title></polygon>\n    `
      : html`\n    <polygon points="${OUTLINE}" class="tile reach" tabindex="0" role="button" aria-label="Move ${t.name} (${t.key})" hx-ws:send hx-vals='{"kind":"move","dir":"${t.dir}"}' hx-include="#game-actions [name=round]" data-action="move" data-dir="${t.dir}"><title>Move ${t.name}</title></polygon>\n    `;
  return html`\n    <g transform="translate(${t.x} ${t.y})"><polygon points="${OUTLINE}" class="aim" data-aim="${t.dir}" aria-hidden="true"/>\n    ${move}</g>\n  `;
}

export function fallenMark(f: FallenView): Rendered {
  return html`\n    <g class="fallen" transform="translate(${f.x} ${f.y})"><circle r="11" class="fallen-mark"/><path d="M-5,-5 L5,5 M5,-5 L-5,5" class="fallen-cross"/><title>${f.name} fell here${f.round ? ` in round ${f.round}` : ''}</title></g>\n  `;
}

export function minotaurPiece(at: { x: number; y: number }): Rendered {
  return html`<g class="minotaur" transform="translate(${at.x} ${at.y})">\n    <circle r="19" class="minotaur-body" filter="url(#glow)"/>\n    <path d="M-14,-8 C-20,-18 -12,-22 -8,-14 M14,-8 C20,-18 12,-22 8,-14" class="horns"/>\n    <text y="6" text-anchor="middle" class="minotaur-face">♉</text>\n    <title>The Minotaur</title>\n  </g>`;
}

const ME_RING = html`<circle r="23" class="me-ring"/>`;

/**
 * A token's health pips: an arc centred under its body, in the band between the body
 * (r 16) and the ring around the viewer's own token (r 23) or the hunted one's (r 25), so
 * neither ring covers them; built once per number of pips.
 */
const PIPS: Rendered[] = [];
function pipsOf(hp: number): Rendered {
  for (let n = PIPS.length; n <= hp; n++) {
    const arc: Rendered[] = [];
    for (let i = 0; i < n; i++) {
      const a = ((90 + 8 * (n - 1) - 16 * i) * Math.PI) / 180;
      const [x, y] = [Math.cos(a) * 19.5, Math.sin(a) * 19.5].map((v) => Math.round(v * 10) / 10);
      arc.push(html`<circle cx="${x}" cy="${y}" r="1.7" class="pip"/>`);
    }
    PIPS.push(html`${arc}`);
  }
  return PIPS[hp] ?? html``;
}

export function token(t: ForSeat<TokenView>): Rendered {
  const pips = pipsOf(Math.max(0, t.hp));
  return html`\n    <g class="token${mark(t.me, ' me', '')}${t.hunted ? ' hunted' : ''}" transform="translate(${t.x} ${t.y})">\n      ${t.hunted ? html`<circle r="25" class="hunted-ring"/>` : ''}\n      ${mark(t.me, ME_RING, '')}\n      <circle r="16" fill="${t.color}" class="token-body"/>\n      <text y="5.5" text-anchor="middle" class="token-initial${t.label.length > 1 ? ' pair' : ''}">${t.label}</text>\n      ${pips}\n      <title>${t.name} · ${t.hp} HP${mark(t.me, ' (you)', '')}${t.hunted ? ' · the Minotaur is after this hero' : ''}</title>\n    </g>\n  `;
}

export function hit(h: ForSeat<HitView>): Rendered {
  return html`\n    <g class="hit hit-${h.kind}${mark(h.me, ' mine', '')}" id="${h.id}" transform="translate(${h.x} ${h.y})">\n      <circle r="18" class="hit-flash"/>\n      <text y="-24" text-anchor="middle" class="hit-text">${h.text}</text>\n      <title>${h.label}</title>\n    </g>\n  `;
}

export function bubble(b: BubbleView): Rendered {
  return html`\n    <g class="bubble" id="${b.id}" transform="translate(${b.x} ${b.y - 36})"><text text-anchor="middle" class="bubble-text">${b.text}</text></g>\n  `;
}

// ── heroes ──────────────────────────────────────────────────────────────────────────────

export function playersPartial(rows: readonly Rendered[]): Rendered {
  return html`<h2>Heroes</h2>\n<ul class="players">\n  ${rows}\n</ul>\n`;
}

const YOU_TAG = html`<span class="tag"> (you)</span>`;

export function playerRow(
  p: ForSeat<PlayerRow>,
  g: { status: GameView['status']; winnerId: string | null },
): Rendered {
  let health: Rendered | '' = '';
  if (g.status !== 'open') {
    const pips: Rendered[] = [];
    for (let i = 0; i < p.maxHp; i++) pips.push(i < p.hp ? FULL_PIP : EMPTY_PIP);
    const won = g.winnerId === p.id;
    const title = !p.alive
      ? 'Fallen'
      : g.status === 'finished'
        ? won
          ? 'Winner'
          : ''
        : p.submitted
          ? 'Action chosen'
          : 'Choosing…';
    const mark = !p.alive
      ? '☠'
      : g.status === 'finished'
        ? won
          ? '♛'
          : ''
        : p.submitted
          ? '✓'
          : '…';
    health = html`\n        <span class="hp" role="img" aria-label="${p.hp} of ${p.maxHp} health">\n          ${pips}\n        </span>\n        <span class="tick" title="${title}">${mark}</span>\n      `;
  }
  return html`\n    <li class="player${mark(p.me, ' me', '')}${p.alive ? '' : ' fallen'}">\n      <span class="swatch c${p.colorIndex}" title="${p.colorName}"></span>\n      <span class="pname"><span class="n" title="${p.name}">${p.name}</span>${mark(p.me, YOU_TAG, '')}${p.creator ? html`<span class="tag" title="Opened this game">&nbsp;★</span>` : ''}</span>\n      ${health}\n    </li>\n  `;
}

const pip = (full: boolean): Rendered => html`<i class="${full ? 'full' : ''}"></i>`;
const FULL_PIP = pip(true);
const EMPTY_PIP = pip(false);

// ── the viewer's actions ────────────────────────────────────────────────────────────────

export function actionsPartial(g: GameView, csrfToken: string): Rendered {
  return html`${actionsBranch(g, csrfToken)}\n`;
}

function actionsBranch(g: GameView, csrfToken: string): Rendered {
  if (g.status === 'open') {
    let choice: Rendered;
    if (g.canJoin)
      choice = html`\n    <form method="post" action="/games/${g.code}/join"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit">Join this game</button></form>\n  `;
    else if (g.canStart)
      choice = html`\n    <form method="post" action="/games/${g.code}/start"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit" class="go">Start the game</button></form>\n  `;
    else if (g.isCreator)
      choice = html`\n    <p class="hint">You can start as soon as another hero joins.</p>\n  `;
    else if (g.me)
      choice = html`\n    <p class="hint">${g.rematchOf ? 'The rematch starts when everyone is back, or when the host starts it.' : 'The host starts the game.'}</p>\n  `;
    else choice = html`\n    <p class="hint">This game is full.</p>\n  `;
    const leave = g.me
      ? html`\n    <form method="post" action="/games/${g.code}/leave"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit" class="link">Leave</button></form>\n  `
      : '';
    // Only the game's heroes have the invite link (views/pages/game.ejs), and only while a seat
    // is free.
    const full = g.playerCount >= g.maxPlayers;
    const invite = !g.me
      ? ''
      : full
        ? html`All ${g.maxPlayers} seats are taken. `
        : html`Invite friends with the link above, or share the code <strong class="code">${g.code}</strong>. `;
    return html`\n  <h2>Waiting room</h2>\n  <p class="hint">${invite}${g.minPlayers}–${g.maxPlayers} heroes can play. Each hero starts where the board shows them; the tiles are dealt again as heroes come and go.</p>\n  ${choice}\n  ${leave}\n`;
  }
  if (g.status === 'playing' && g.me && g.me.alive) {
    const inner = g.myAction
      ? submitted(
          g.round,
          g.myAction.label,
          g.waitingFor.filter((n) => n !== g.me?.name),
        )
      : compass(g.round, g.moveDirs, g.shieldTired);
    return yourMove(g.round, inner);
  }
  if (g.status === 'playing' && g.me)
    return html`\n  <h2>You have fallen</h2>\n  <p class="hint">You fell in round ${g.me.eliminatedRound}. Watch the others fight on.</p>\n`;
  if (g.status === 'playing') return SPECTATING;
  return html`\n  <h2>Game over</h2>\n  <p class="hint">${g.winner ? `${g.winner.name} won after ${g.round} rounds.` : `Nobody walked out after ${g.round} rounds.`}</p>\n  <button type="button" class="small ghost" data-show-result>Show the result</button>\n`;
}

const SPECTATING = html`\n  <h2>Spectating</h2>\n  <p class="hint">You are watching this game.</p>\n`;

export function yourMove(round: number, inner: Rendered): Rendered {
  return html`\n  <h2>Your move <span class="dim">· round ${round}</span></h2>\n  ${inner}\n`;
}

/** The viewer already chose: what, and whom the round still waits for (others than the viewer). */
export function submitted(round: number, label: string, others: readonly string[]): Rendered {
  return html`\n    <p class="submitted" data-submitted-round="${round}">✓ Submitted: <strong>${label}</strong>.\n      \n      ${others.length ? 'Waiting for ' + others.join(', ') + '…' : 'Resolving…'}</p>\n  `;
}

type MoveDir = GameView['moveDirs'][number];

/**
 * A tired shield says so on its button: where the note under it does not fit (a phone, whose
 * stylesheet hides the note), the button reads "Defend (tired)" rather than only looking paler.
 */
const TIRED_TAG = html`<span class="tired-tag"> (tired)</span>`;

/**
 * The move and attack buttons and the shield, for a round. The round is one hidden field of the
 * form around them (sent with whichever button is pressed), not a value of each button: so from
 * one round to the next the buttons stay the same trees, and an update carries the round once.
 */
export function compass(round: number, dirs: readonly MoveDir[], shieldTired: boolean): Rendered {
  return html`\n    <form class="moves"><input type="hidden" name="round" value="${round}">\n    <div class="compass-pair">\n      <div class="compass" role="group" aria-label="Move">\n        <span class="compass-title" aria-hidden="true">Move</span>\n        ${buttons('move', dirs)}\n      </div>\n      <div class="compass attack" role="group" aria-label="Attack">\n        <span class="compass-title" aria-hidden="true">Attack</span>\n        ${buttons('attack', dirs)}\n      </div>\n    </div>\n    <button type="button" class="defend${shieldTired ? ' tired' : ''}" hx-ws:send hx-vals='{"kind":"defend"}' data-action="defend" aria-keyshortcuts="S" aria-describedby="defend-note"><svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5z"/></svg> Defend${shieldTired ? TIRED_TAG : ''} <kbd aria-hidden="true">S</kbd></button>\n    <p class="hint defend-note" id="defend-note">${shieldTired ? 'Your shield is tired from last round: it stops heroes, not the Minotaur.' : 'Blocks every blow this round and hits back at heroes who strike it.'}</p>\n    </form>\n  `;
}

/**
 * The six move or attack buttons for `dirs`, the same trees (and the same list) whenever the
 * same directions are open: a button depends on its direction and whether it is open, never on
 * the round, so each list (at most 64 ways six directions can be open, for each kind) is built
 * once per process. Built anew for every player's every round, they and the panels holding them
 * were most of what a node at 1,000 players kept alive past young-generation collections
 * (docs/benchmarks.md).
 */
function buttons(kind: 'move' | 'attack', dirs: readonly MoveDir[]): readonly Rendered[] {
  let key: string = kind;
  for (const d of dirs)
    key += `|${d.dir}:${d.name}:${d.key}:${d.open ? 1 : 0}${kind === 'move' && d.minotaur ? 'm' : ''}`;
  return BUTTON_LISTS.get(key, () =>
    Object.freeze(dirs.map(kind === 'move' ? moveButton : attackButton)),
  );
}

/**
 * 320 lists at most (64 ways for attacks; for moves, 64 more with the Minotaur on one of the
 * open directions, 6 × 32): the cache never has to drop one.
 */
const BUTTON_LISTS = new Memo<readonly Rendered[]>(512);

function moveButton(d: MoveDir): Rendered {
  if (d.open && d.minotaur)
    return html`\n          <button type="button" class="dir dir-${d.dir}" data-action="move" data-dir="${d.dir}" disabled aria-label="Move ${d.name} (${d.key}): the Minotaur stands there" aria-keyshortcuts="${d.key}" title="The Minotaur stands ${d.name}: no hero can step onto its tile (Shift+${d.key} strikes it)" data-blocked="The Minotaur stands ${d.name}: no hero can step onto its tile. Shift+${d.key} strikes it."><svg class="arrow" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3 20 12h-5v9H9v-9H4z"/></svg><kbd aria-hidden="true">${d.key}</kbd></button>\n        `;
  return html`\n          <button type="button" class="dir dir-${d.dir}" hx-ws:send hx-vals='{"kind":"move","dir":"${d.dir}"}' data-action="move" data-dir="${d.dir}" ${d.open ? '' : 'disabled'} aria-label="Move ${d.name} (${d.key})" aria-keyshortcuts="${d.key}" title="Move ${d.name} (${d.key})"><svg class="arrow" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3 20 12h-5v9H9v-9H4z"/></svg><kbd aria-hidden="true">${d.key}</kbd></button>\n        `;
}

function attackButton(d: MoveDir): Rendered {
  return html`\n          <button type="button" class="dir dir-${d.dir}" hx-ws:send hx-vals='{"kind":"attack","dir":"${d.dir}"}' data-action="attack" data-dir="${d.dir}" ${d.open ? '' : 'disabled'} aria-label="Attack ${d.name} (${d.key})" aria-keyshortcuts="Shift+${d.key}" title="Attack ${d.name} (Shift+${d.key})"><svg class="arrow" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3 20 12h-5v9H9v-9H4z"/></svg><kbd aria-hidden="true">${d.key}</kbd></button>\n        `;
}

// ── the end box ─────────────────────────────────────────────────────────────────────────

/** The end box (won, lost, fallen); `csrfToken` undefined leaves out the rematch form. */
/**
 * The result box (or the fallen hero's). `visitor`: the page is read by someone not logged in
 * (a finished game's link), who is offered a game of their own rather than a lobby.
 */
export function overlayPartial(
  g: GameView,
  csrfToken: string | undefined,
  visitor = false,
): Rendered {
  const finished = g.status === 'finished';
  if (!finished && g.outcome !== 'eliminated') return NO_OVERLAY;
  const win = g.outcome === 'won';
  const icon = win ? TROPHY : SKULL;
  let body: Rendered;
  if (!finished) {
    body = html`\n        <p>You fell in round ${g.me && g.me.eliminatedRound}. The others fight on.</p>\n        ${g.me ? html`<p class="dim">You dealt ${g.me.dealt} damage.</p>` : ''}\n      `;
  } else {
    // At the last round several heroes may still stand: the healthiest wins, or nobody on a tie.
    const standing = g.standings.filter((p) => p.alive).length;
    const line = win
      ? standing > 1
        ? `The rounds ran out after ${g.round}, and you are the healthiest hero standing.`
        : `You are the last hero standing after ${g.round} rounds.`
      : g.winner
        ? g.winner.name + ' won the game.'
        : standing > 1
          ? `The rounds ran out after ${g.round} with the healthiest heroes tied: nobody wins.`
          : 'Nobody walks out of the labyrinth this time.';
    const rows = g.standings.map((p) => {
      // A fate, and a name that ends in "…" where the table is narrow (its title has it whole):
      // every line of the table on one line (public/css/minotaur.css, .standings).
      const fate: Rendered | string =
        g.winner && g.winner.id === p.id
          ? 'Winner'
          : p.alive
            ? 'Survived'
            : html`<span class="long">Fell in round</span><span class="short"><span aria-hidden="true">☠</span><span class="visually-hidden">Fell in</span> Round</span> ${p.eliminatedRound}`;
      return html`\n              <tr class="${p.me ? 'me' : ''}"><td>${p.place}</td><td><span class="pname"><span class="swatch c${p.colorIndex}" aria-hidden="true"></span><span class="n" title="${p.name}">${p.name}</span>${p.me ? YOU_TAG : ''}</span></td><td>${p.hp}</td><td>${p.dealt}</td><td>${fate}</td></tr>\n            `;
    });
    body = html`\n        <p class="outcome-line">${line}</p>\n        <table class="standings">\n          <caption class="visually-hidden">Final standings</caption>\n          <thead><tr><th scope="col">#</th><th scope="col">Hero</th><th scope="col"><span class="long">Health</span><span class="short">HP</span></th><th scope="col"><span class="long">Damage dealt</span><span class="short">Dealt</span></th><th scope="col">Fate</th></tr></thead>\n          <tbody>\n            ${rows}\n          </tbody>\n        </table>\n      `;
  }
  const rematch =
    finished && g.canRematch && csrfToken !== undefined
      ? html`\n          <form method="post" action="/games/${g.code}/rematch" class="inline">\n            <input type="hidden" name="_csrf" value="${csrfToken}">\n            <button type="submit" class="go">${g.rematch ? 'Go to the rematch' : 'Rematch'}</button>\n          </form>\n        `
      : '';
  const note =
    finished && g.rematch
      ? html`<p class="hint rematch-note">${g.rematch.by} opened a rematch for this group: game <a href="/games/${g.rematch.code}">${g.rematch.code}</a>.</p>\n      `
      : finished && g.canRematch
        ? html`<p class="hint rematch-note">Rematch opens a new game for this group; it starts once everyone has joined.</p>`
        : '';
  const box = html`\n  \n  <div class="overlay ${win ? 'win' : 'lose'}" role="dialog" aria-labelledby="overlay-title" data-overlay="${finished ? 'over' : 'fallen'}">\n    <div class="overlay-card">\n      <div class="overlay-icon" aria-hidden="true">\n        ${icon}\n      </div>\n      <h2 id="overlay-title" tabindex="-1">${win ? 'Victory!' : finished ? 'Game Over' : 'You have fallen'}</h2>\n      ${body}\n      <div class="overlay-actions">\n        ${rematch}\n        ${visitor ? PLAY_TOO : html`<a class="button${finished && g.canRematch ? ' ghost' : ''}" href="/lobby">Back to the lobby</a>`}\n        <button type="button" class="link dismiss" data-dismiss>${finished ? 'See the board' : 'Keep watching'}</button>\n      </div>\n      ${note}\n    </div>\n  </div>\n`;
  return html`\n${box}\n`;
}

/** The end box when there is none to show. */
export const NO_OVERLAY = html`\n\n`;
const TROPHY = html`<svg viewBox="0 0 24 24"><path d="M7 3h10v2h4v3a5 5 0 0 1-5 5h-.3A5 5 0 0 1 13 15.9V19h3v2H8v-2h3v-3.1A5 5 0 0 1 8.3 13H8a5 5 0 0 1-5-5V5h4zm0 4H5v1a3 3 0 0 0 2 2.8zm10 0v3.8A3 3 0 0 0 19 8V7z"/></svg>\n        `;
const SKULL = html`<svg viewBox="0 0 24 24"><path d="M12 2C6.5 2 3 5.6 3 10.3c0 2.7 1.3 4.6 3 5.7V19a1 1 0 0 0 1 1h2v-2h2v2h2v-2h2v2h2a1 1 0 0 0 1-1v-3c1.7-1.1 3-3 3-5.7C21 5.6 17.5 2 12 2zM8.5 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4zm7 0a2 2 0 1 1 0-4 2 2 0 0 1 0 4z"/></svg>`;

// ── table talk ──────────────────────────────────────────────────────────────────────────

/**
 * The table talk: its lines, or what to say when there are none (to a player, a spectator, on a
 * finished game's page).
 */
export function chatPartial(
  lines: readonly Rendered[],
  empty: { player: boolean | Seat; archived: boolean },
): Rendered {
  if (!lines.length) {
    const hint: Dyn = empty.archived
      ? 'Nothing was said.'
      : mark(empty.player, 'Say hello, or send a quick call.', 'Nothing said yet.');
    return html`\n  <p class="dim chat-empty">${hint}</p>\n\n`;
  }
  // Read out as lines come in by #game-chat, the page's own container (views/pages/game.ejs):
  // this list is created with its first line, too late to be a live region for that line.
  return html`\n  <ol class="chat-lines">\n    ${lines}\n  </ol>\n\n`;
}

export function chatLine(l: ForSeat<ChatLineView>): Rendered {
  return html`\n      <li id="chat-${l.n}" class="${mark(l.me, 'me', '')}"><span class="swatch c${l.colorIndex}" aria-hidden="true"></span> <strong>${l.name}</strong> <span class="chat-text${l.call ? ' call' : ''}">${l.text}</span></li>\n    `;
}

// ── a whole page's partials from one view ───────────────────────────────────────────────

const PLAY_TOO = html`<a class="button" href="/signup">Sign up to play</a>`;

/**
 * Every partial of one viewer's page, as HTML, from a whole view (a finished game's page);
 * `visitor`: read by someone not logged in.
 */
export function pagePartials(
  g: GameView,
  now: number | null,
  csrfToken: string,
  archived: boolean,
  visitor = false,
): Record<string, string> {
  return {
    'game-status': toHtml(statusPartial(g, now, intentOf(g))),
    'game-board-tiles': toHtml(tilesPartial(g)),
    'game-board': toHtml(boardOf(g)),
    'game-overlay': toHtml(overlayPartial(g, csrfToken, visitor)),
    'game-actions': toHtml(actionsPartial(g, csrfToken)),
    'game-players': toHtml(
      playersPartial(
        g.players.map((p) => playerRow(p, { status: g.status, winnerId: g.winner?.id ?? null })),
      ),
    ),
    'game-log': toHtml(logPartial(g)),
    'game-chat': toHtml(chatPartial(g.chat.map(chatLine), { player: !!g.me, archived })),
  };
}
