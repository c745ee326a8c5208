// What an outside playtest found, in real Chromium, on a phone (390×844) and on a desktop: the
// invite link only where inviting makes sense (a game still open, to its heroes, with a seat
// free); the "reconnecting…" badge covering nothing; tied heroes sharing a place in the results,
// whose table fits a phone; leaving a waiting room said on the page one lands on; "Waiting for
// …" leaving out the viewer's own hero ("Waiting for you" once nobody else is left), from the
// one status every viewer of the game shares; "How to play" within reach on a phone; heroes
// starting where the waiting room showed them; tokens told apart where names share an initial;
// names in the heroes' card using the room there is; a round held after a restart leaving out the
// reader's own hero too; a neighbour's token taking a click meant for the tile it stands on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pino } from 'pino';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { openStorage } from '../../src/db/storage.js';
import { equals, neighbor } from '../../src/game/hex.js';
import { tileKind } from '../../src/game/queries.js';
import {
  GAME_SCHEMA,
  type Direction,
  type GameState,
  type Player as Hero,
} from '../../src/game/types.js';
import { COMPASS } from '../../src/live/view-model.js';
import { adminGame, TEST_ADMIN_TOKEN } from '../support/admin.js';
import { BrowserSession, PHONE, SHOTS } from '../support/browser.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, roundIn, type LiveConnection } from '../support/player.js';

let session: BrowserSession | undefined;
let node: NodeProcess | undefined;
let db: string;
let base: string;
let port: number;
const tag = String(Date.now() % 100000).padStart(5, '0');
const sockets: LiveConnection[] = [];

const shot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), animations: 'disabled', fullPage });

beforeAll(async () => {
  session = await BrowserSession.launch();
  db = join(tempDir(), 'playtest.db');
  // Long rounds: a round here ends when every hero has chosen, as the test says.
  port = await freePort();
  node = boot();
  await node.ready();
  base = node.url;
});

afterAll(async () => {
  for (const s of sockets) s.ws.terminate();
  await session?.close();
  await node?.kill();
});

/** The node of these tests, on its port and database. */
function boot(): NodeProcess {
  return startNode({
    port,
    databasePath: db,
    env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '60' },
  });
}

/** Signed-up players (over HTTP), named `<name><tag>`. */
async function players(...names: string[]): Promise<Player[]> {
  const out = names.map((n) => new Player(base, `${n}${tag}`));
  for (const p of out) await p.signup();
  return out;
}

/** A browser page logged in as `p` (its session cookie), at `path`. */
async function pageOf(p: Player, path: string, options: BrowserContextOptions = {}): Promise<Page> {
  const page = await session!.newPage(options);
  await page.context().addCookies(p.cookies.map(({ name, value }) => ({ name, value, url: base })));
  await page.goto(`${base}${path}`);
  return page;
}

/** The game's live socket of `p`, as a page reads it; closed after the tests. */
function socketOf(p: Player, code: string): LiveConnection {
  const s = p.connect(code);
  sockets.push(s);
  return s;
}

/** Defends in the round the socket shows, once it shows round `round`. */
async function defendIn(s: LiveConnection, round: number): Promise<void> {
  await waitFor(
    () => roundIn(s.latestPartial('game-status')) === round,
    10_000,
    `round ${round} on the socket`,
  );
  expect((await s.act(round, 'defend')).type).toBe('ack');
}

/**
 * The line "Waiting for …" as the page draws it: hidden entries left out, the CSS's text (commas,
 * "you") in.
 */
function waitingShown(page: Page): Promise<string> {
  return page.evaluate(() => {
    const line = document.querySelector('#game-status .waiting-for');
    if (!line) return '';
    let out = '';
    const walk = (n: Node): void => {
      if (n.nodeType === Node.TEXT_NODE) {
        out += n.textContent ?? '';
        return;
      }
      if (!(n instanceof Element) || getComputedStyle(n).display === 'none') return;
      const generated = (pseudo: string) => {
        const content = getComputedStyle(n, pseudo).content;
        if (content.startsWith('"')) out += JSON.parse(content) as string;
      };
      generated('::before');
      n.childNodes.forEach(walk);
      generated('::after');
    };
    line.childNodes.forEach(walk);
    return out.replace(/\s+/g, ' ').trim();
  });
}

/** Whether two boxes overlap. */
type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Shows the badge as the page's script does while its socket is down (public/js/minotaur.js,
 * setBadge), and returns it and every control and label it must not cover that is on screen.
 */
async function badgeAndNeighbours(page: Page): Promise<{ badge: Box; covered: string[] }> {
  return page.evaluate(() => {
    const badge = document.getElementById('conn-badge')!;
    badge.hidden = false;
    document.documentElement.classList.add('offline');
    const b = badge.getBoundingClientRect();
    const covered: string[] = [];
    const sel =
      'header a, header button, .game-title > *, .game-tools > *, #game-status *, #game-board svg, .lobby-head > *, .flash, main h1';
    document.querySelectorAll(sel).forEach((el) => {
      if (el === badge || badge.contains(el)) return;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) return;
      if (r.x < b.right && b.x < r.right && r.y < b.bottom && b.y < r.bottom)
        covered.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim()}"`);
    });
    return { badge: { x: b.x, y: b.y, width: b.width, height: b.height }, covered };
  });
}

describe('the invite link', () => {
  it("is offered to a game's heroes while it waits for more, never to others or once it started or ended", async () => {
    const [a, b, w] = await players('ariadne', 'theseus', 'watcher');
    const code = await a!.createGame();
    const pa = await pageOf(a!, `/games/${code}`);
    expect(await pa.locator('button.copy-link').isVisible()).toBe(true);
    // Someone who is not in the game has no one to invite to it (they can join it).
    const pw = await pageOf(w!, `/games/${code}`);
    await pw.locator('#game-actions button:has-text("Join this game")').waitFor();
    expect(await pw.locator('button.copy-link').count()).toBe(0);
    expect(await pw.locator('#game-actions').textContent()).not.toContain('link above');
    expect((await b!.join(code)).status).toBe(303);
    const pb = await pageOf(b!, `/games/${code}`);
    expect(await pb.locator('button.copy-link').isVisible()).toBe(true);
    await pa.evaluate(
      () => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true),
    );

    // The game starts: the open pages lose the link as the status changes, without a reload.
    expect((await a!.start(code)).status).toBe(303);
    for (const p of [pa, pb])
      await p.locator('button.copy-link').waitFor({ state: 'detached', timeout: 10_000 });
    expect(
      await pa.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
    ).toBe(true);
    // A spectator's page, and a hero's loaded during the game, have none.
    await pw.reload();
    await pw.getByText('You are watching this game.').waitFor();
    expect(await pw.locator('button.copy-link').count()).toBe(0);
    await pb.reload();
    await pb.locator('#game-actions button.defend').waitFor();
    expect(await pb.locator('button.copy-link').count()).toBe(0);

    // Played to its end (both heroes defend every round; at most the game's 60 rounds).
    const [sa, sb] = [socketOf(a!, code), socketOf(b!, code)];
    await Promise.all([sa.opened, sb.opened]);
    for (let round = 1; ; round++) {
      const status = await waitFor(
        () => {
          const s = sa.latestPartial('game-status');
          return s && (s.includes('phase over') || roundIn(s) >= round) ? s : null;
        },
        10_000,
        `round ${round} or the end`,
      );
      if (status.includes('phase over')) break;
      await Promise.all([defendIn(sa, round), defendIn(sb, round)]);
    }
    expect((await adminGame(base, code)).state.status).toBe('finished');
    // The finished game's page (the game is still in memory: a live page) offers no invite.
    await pa.reload();
    await pa.locator('#game-overlay .overlay').waitFor();
    expect(await pa.locator('#game[data-live]').count()).toBe(1);
    expect(await pa.locator('button.copy-link').count()).toBe(0);
    await shot(pa, 'playtest-finished-no-invite');
  });
});

describe('leaving a waiting room', () => {
  it('says so on the lobby the player lands on', async () => {
    const [host, guest] = await players('minos', 'icarus');
    const code = await host!.createGame();
    expect((await guest!.join(code)).status).toBe(303);
    const page = await pageOf(guest!, `/games/${code}`, PHONE);
    await Promise.all([
      page.waitForURL(`${base}/lobby`),
      page.tap('#game-actions form[action$="/leave"] button'),
    ]);
    const flash = page.locator('.flash');
    await flash.waitFor();
    expect(await flash.textContent()).toBe(`You left game ${code}.`);
    expect(await flash.getAttribute('role')).toBe('status');
    await shot(page, 'playtest-left-game');
    // Said once: not again on the next page.
    await page.reload();
    expect(await page.locator('.flash').count()).toBe(0);
    expect((await adminGame(base, code)).state.players.map((p) => p.name)).toEqual([
      host!.username,
    ]);
  });
});

describe('"Waiting for …"', () => {
  it('leaves out the viewer\'s own hero, and says "Waiting for you" once nobody else is left', async () => {
    const [a, b, c, w] = await players('phaedra', 'androgeos', 'pasiphae', 'glaucus');
    const code = await a!.createGame();
    for (const p of [b!, c!]) expect((await p.join(code)).status).toBe(303);
    expect((await a!.start(code)).status).toBe(303);
    const [na, nb, nc] = [a!.username, b!.username, c!.username];

    const pa = await pageOf(a!, `/games/${code}`, PHONE);
    const pb = await pageOf(b!, `/games/${code}`);
    const pw = await pageOf(w!, `/games/${code}`);
    // As the page first comes, and live after.
    expect(await waitingShown(pa)).toBe(`Waiting for ${nb}, ${nc}`);
    expect(await waitingShown(pb)).toBe(`Waiting for ${na}, ${nc}`);
    expect(await waitingShown(pw)).toBe(`Waiting for ${na}, ${nb}, ${nc}`);
    await shot(pa, 'playtest-waiting-phone');
    await shot(pb, 'playtest-waiting-desktop');

    // B chooses: gone from every page; C too: A is the last one the round waits for.
    const [sb, sc] = [socketOf(b!, code), socketOf(c!, code)];
    await Promise.all([sb.opened, sc.opened]);
    await defendIn(sb, 1);
    await expect.poll(() => waitingShown(pa)).toBe(`Waiting for ${nc}`);
    await expect.poll(() => waitingShown(pb)).toBe(`Waiting for ${na}, ${nc}`);
    await defendIn(sc, 1);
    await expect.poll(() => waitingShown(pa)).toBe('Waiting for you');
    await expect.poll(() => waitingShown(pb)).toBe(`Waiting for ${na}`);
    await expect.poll(() => waitingShown(pw)).toBe(`Waiting for ${na}`);
    await shot(pa, 'playtest-waiting-for-you-phone');
    // Reloaded, the same: the page as first sent (before its socket brings anything) has the
    // one line every page has, which the page reads for its hero.
    const first = await (await pa.reload())!.text();
    expect(first).toContain(`<p class="waiting-for">Waiting for ${na}</p>`);
    expect(await waitingShown(pa)).toBe('Waiting for you');
  });
});

describe('the "reconnecting…" badge', () => {
  it('covers nothing on a phone or a desktop, on a game page and in the lobby', async () => {
    const [a, b] = await players('deucalion', 'ariadne2');
    const code = await a!.createGame();
    expect((await b!.join(code)).status).toBe(303);
    /** Shows the badge on `page` and checks where it lands. */
    const check = async (page: Page, what: string): Promise<void> => {
      const { badge, covered } = await badgeAndNeighbours(page);
      expect(covered, what).toEqual([]);
      // On screen, whole, and with the page still not scrolling sideways.
      expect(badge.width, what).toBeGreaterThan(0);
      expect(badge.x, what).toBeGreaterThanOrEqual(0);
      expect(badge.x + badge.width, what).toBeLessThanOrEqual(page.viewportSize()!.width);
      expect(
        await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
        what,
      ).toBe(true);
      await shot(page, `playtest-badge-${what}`);
    };
    // The waiting room, with the invite link beside the code.
    const waiting = await pageOf(a!, `/games/${code}`, PHONE);
    await waiting.locator('button.copy-link').waitFor();
    await check(waiting, 'phone-waiting-room');

    expect((await a!.start(code)).status).toBe(303);
    const phone = await pageOf(a!, `/games/${code}`, PHONE);
    await phone.locator('#game-actions button.defend').waitFor();
    await check(phone, 'phone-game');
    const desk = await pageOf(a!, `/games/${code}`);
    await desk.locator('#game-actions button.defend').waitFor();
    await check(desk, 'desktop-game');
    // The widths between, where the header has the least room to spare.
    for (const width of [641, 900, 901]) {
      const page = await pageOf(a!, `/games/${code}`, { viewport: { width, height: 800 } });
      await page.locator('#game-actions button.defend').waitFor();
      await check(page, `game-${width}px`);
    }
    await check(await pageOf(b!, '/lobby', PHONE), 'phone-lobby');
    // The whole board under the header on a laptop's screen; on a tablet, the board and the
    // action bar fixed under it both in view, neither over the other.
    const laptop = await pageOf(a!, `/games/${code}`, { viewport: { width: 1366, height: 768 } });
    await laptop.locator('#game-actions button.defend').waitFor();
    const onLaptop = (await laptop.locator('#game-board svg').boundingBox())!;
    expect(onLaptop.y + onLaptop.height).toBeLessThanOrEqual(768);
    const tablet = await pageOf(a!, `/games/${code}`, { viewport: { width: 768, height: 1024 } });
    await tablet.locator('#game-actions button.defend').waitFor();
    const onTablet = (await tablet.locator('#game-board svg').boundingBox())!;
    const bar = (await tablet.locator('.actions-card').boundingBox())!;
    const defend = (await tablet.locator('#game-actions button.defend').boundingBox())!;
    expect(defend.y + defend.height).toBeLessThanOrEqual(1024);
    expect(onTablet.y + onTablet.height).toBeLessThanOrEqual(bar.y);

    // The game code in particular, on the phone.
    const codeBox = (await phone.locator('.game-title .code.big').boundingBox())!;
    const badge = (await phone.locator('#conn-badge').boundingBox())!;
    expect(overlap(codeBox, badge)).toBe(false);
    // Still in view when the player scrolls down to the table talk.
    await phone.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const scrolled = (await phone.locator('#conn-badge').boundingBox())!;
    expect(scrolled.y).toBeGreaterThanOrEqual(0);
    expect(scrolled.y + scrolled.height).toBeLessThanOrEqual(844);
  });
});

describe('the results', () => {
  it('rank tied heroes alike (1, 2, 2, 4), and fit a phone without wrapping', async () => {
    // A finished game as the database keeps it, with the heroes of a real one: two fell in the
    // same round.
    const [a, b, c, d] = await players('theseus2', 'hippolyta', 'antiope', 'peirithous');
    const live = await a!.createGame();
    for (const p of [b!, c!, d!]) expect((await p.join(live)).status).toBe(303);
    expect((await a!.start(live)).status).toBe(303);
    const started = (await adminGame(base, live)).state;
    const code = live === 'QXZW' ? 'QXZV' : 'QXZW';
    const byName = (p: Player) => started.players.find((h) => h.name === p.username)!;
    const fate: Record<string, Partial<Hero>> = {
      [byName(a!).id]: { hp: 3, dealt: 4 },
      [byName(b!).id]: { hp: 0, alive: false, eliminatedRound: 17, dealt: 3 },
      [byName(c!).id]: { hp: 0, alive: false, eliminatedRound: 17, dealt: 2 },
      [byName(d!).id]: { hp: 0, alive: false, eliminatedRound: 9, dealt: 12 },
    };
    const final: GameState = {
      ...started,
      id: `${started.id}-ties`,
      code,
      status: 'finished',
      round: 23,
      deadline: null,
      winner: byName(a!).id,
      finishedAt: Date.now(),
      submitted: {},
      events: [],
      players: started.players.map((p) => ({ ...p, ...fate[p.id] })),
    };
    const storage = openStorage(
      { engine: 'sqlite', path: db },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      await storage.open();
      await storage.results.record({
        gameId: final.id,
        code,
        finishedAt: final.finishedAt!,
        rounds: final.round,
        winnerId: final.winner,
        players: final.players.map((p) => ({
          accountId: p.id,
          won: p.id === final.winner,
          eliminatedRound: p.eliminatedRound,
          dealt: p.dealt,
        })),
        final: { schema: GAME_SCHEMA, state: final },
      });
    } finally {
      await storage.close();
    }

    // Seen by Hippolyta, who shares the second place.
    for (const [options, what] of [
      [PHONE, 'phone'],
      [{}, 'desktop'],
    ] as const) {
      const page = await pageOf(b!, `/games/${code}`, options);
      const table = page.locator('#game-overlay table.standings');
      await table.waitFor();
      const rows = await table
        .locator('tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            [...tr.querySelectorAll('td')].map((td) => td.textContent.replace(/\s+/g, ' ').trim()),
          ),
        );
      expect(
        rows.map((r) => `${r[0]} ${r[1]}`),
        what,
      ).toEqual([
        `1 ${a!.username}`,
        `2 ${b!.username} (you)`,
        `2 ${c!.username}`,
        `4 ${d!.username}`,
      ]);
      if (what === 'desktop') {
        // On screen too, a space between the name and "(you)".
        const gap = await table
          .locator('tr.me')
          .evaluate(
            (tr) =>
              tr.querySelector('.tag')!.getBoundingClientRect().left -
              tr.querySelector('.n')!.getBoundingClientRect().right,
          );
        expect(gap, what).toBeGreaterThanOrEqual(3);
      }
      // Every cell on one line, the table within its card, and no sideways scrolling.
      const fit = await page.evaluate(() => {
        const t = document.querySelector('#game-overlay table.standings')!;
        const card = t.closest('.overlay-card')!.getBoundingClientRect();
        const box = t.getBoundingClientRect();
        const wrapped: string[] = [];
        t.querySelectorAll('th, td').forEach((cell) => {
          // The lines its text is laid out on (a rectangle per line of each text node), but for
          // text for screen readers only (in a 1-pixel box).
          const tops = new Set<number>();
          const forReaders = (n: Node) => {
            for (let e = n.parentElement; e && e !== cell; e = e.parentElement) {
              const r = e.getBoundingClientRect();
              if (r.width <= 1 && r.height <= 1) return true;
            }
            return false;
          };
          const texts = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          for (let n = texts.nextNode(); n; n = texts.nextNode()) {
            if (forReaders(n)) continue;
            const range = document.createRange();
            range.selectNodeContents(n);
            for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
          }
          if (tops.size > 1) wrapped.push(cell.textContent.trim());
        });
        return {
          wrapped,
          inCard: box.left >= card.left - 0.5 && box.right <= card.right + 0.5,
          sideways: document.documentElement.scrollWidth > window.innerWidth,
        };
      });
      await shot(page, `playtest-results-${what}`);
      expect(fit, what).toEqual({ wrapped: [], inCard: true, sideways: false });
    }
  });
});

/** Each token on the page's board: the hero's name (from its title), its place and its letters. */
function tokensOn(page: Page): Promise<{ name: string; at: string; label: string }[]> {
  return page.locator('#game-board g.token').evaluateAll((gs) =>
    gs.map((g) => ({
      name: (g.querySelector('title')?.textContent ?? '').split(' · ')[0]!,
      at: g.getAttribute('transform') ?? '',
      label: g.querySelector('text.token-initial')?.textContent ?? '',
    })),
  );
}

/**
 * The lines of the heroes' card whose name ends in "…" though the line has room left (what the
 * line's parts leave of its width, and the name's own box leaves of the name).
 */
function cutWithRoomLeft(page: Page): Promise<string[]> {
  return page.locator('#game-players li.player').evaluateAll((lis) =>
    lis.flatMap((li) => {
      const n = li.querySelector('.pname .n')!;
      if (n.scrollWidth <= n.clientWidth) return [];
      const style = getComputedStyle(li);
      const inner =
        li.getBoundingClientRect().width -
        parseFloat(style.paddingLeft) -
        parseFloat(style.paddingRight);
      const width = (els: Iterable<Element>) => {
        let sum = 0;
        let count = 0;
        for (const el of els) {
          const w = el.getBoundingClientRect().width;
          if (w === 0) continue;
          sum += w;
          count++;
        }
        return { sum, count };
      };
      const parts = width(li.children);
      const gap = parseFloat(style.columnGap) || 0;
      const pname = li.querySelector('.pname')!;
      const left =
        inner -
        parts.sum -
        gap * (parts.count - 1) +
        (pname.getBoundingClientRect().width - width(pname.children).sum);
      return left > 2 ? [`${n.textContent} (${Math.round(left)} px left)`] : [];
    }),
  );
}

describe('a full table', () => {
  it('hides the invite link while every seat is taken, starts heroes where the waiting room showed them, and tells apart heroes who share an initial', async () => {
    // Two pairs of names that share an initial, and a long name (its owner opened the game).
    const heroes = await players(
      'pentheusbacch',
      'thalia',
      'thoas',
      'aegeus',
      'alcestis',
      'medea',
      'nisos',
      'procris',
    );
    const [host, ...rest] = heroes as [Player, ...Player[]];
    const code = await host.createGame();
    for (const p of rest.slice(0, 6)) expect((await p.join(code)).status).toBe(303);
    const desk = await pageOf(host, `/games/${code}`);
    const phone = await pageOf(rest[0]!, `/games/${code}`, PHONE);
    const invite = (page: Page) => page.locator('button.copy-link');
    for (const page of [desk, phone]) expect(await invite(page).isVisible()).toBe(true);

    // Names use the room their line has: the long one whole in the waiting room, where the line
    // shows no health.
    expect(await cutWithRoomLeft(desk)).toEqual([]);
    expect(await cutWithRoomLeft(phone)).toEqual([]);
    const longName = desk.locator('#game-players li.me .n');
    expect(await longName.evaluate((n) => n.scrollWidth <= n.clientWidth)).toBe(true);

    // The eighth hero sits down: no seat left, no invite (live, without a reload).
    await desk.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    expect((await rest[6]!.join(code)).status).toBe(303);
    for (const page of [desk, phone]) {
      await invite(page).waitFor({ state: 'hidden', timeout: 10_000 });
      expect(await page.locator('#game-actions').textContent()).not.toContain('link above');
      expect(await page.locator('#game-actions').textContent()).toContain('All 8 seats are taken.');
    }
    await shot(phone, 'playtest-full-table-phone');
    await shot(desk, 'playtest-full-table-desktop');
    // Loaded while full: hidden from the first render.
    await phone.reload();
    await phone.locator('#game-status .phase.waiting').waitFor();
    expect(await invite(phone).count()).toBe(1);
    expect(await invite(phone).isVisible()).toBe(false);
    // A hero leaves: a seat is free, and the link is back; it goes again when the seat is taken.
    expect((await rest[6]!.post(`/games/${code}/leave`, {}, `/games/${code}`)).status).toBe(303);
    for (const page of [desk, phone])
      await invite(page).waitFor({ state: 'visible', timeout: 10_000 });
    expect((await rest[6]!.join(code)).status).toBe(303);
    for (const page of [desk, phone])
      await invite(page).waitFor({ state: 'hidden', timeout: 10_000 });

    // Every token shows letters of its own: two where an initial is shared.
    const waiting = await tokensOn(desk);
    expect(waiting).toHaveLength(8);
    expect(new Set(waiting.map((t) => t.label)).size).toBe(8);
    const label = (name: string) => waiting.find((t) => t.name === name)?.label;
    expect(label(heroes[1]!.username)).toBe('Ta');
    expect(label(heroes[2]!.username)).toBe('To');
    expect(label(heroes[7]!.username)).toBe('Pr');
    expect(label(heroes[5]!.username)).toBe('M');
    // Readable on the phone: inside the token, in letters at least 8.5 pixels high.
    const sizes = await phone.locator('#game-board g.token').evaluateAll((gs) =>
      gs.map((g) => {
        const text = g.querySelector('text.token-initial') as SVGTextElement;
        const body = g.querySelector('circle.token-body')!.getBoundingClientRect();
        const box = text.getBoundingClientRect();
        const scale = (text.ownerSVGElement!.getScreenCTM() ?? { a: 1 }).a;
        return {
          label: text.textContent,
          inside: box.width <= body.width - 4,
          px: parseFloat(getComputedStyle(text).fontSize) * scale,
        };
      }),
    );
    for (const s of sizes) {
      expect(s.inside, s.label).toBe(true);
      expect(s.px, s.label).toBeGreaterThanOrEqual(8.5);
    }

    // The game starts: the open pages lose the link, and nobody moves.
    expect((await host.start(code)).status).toBe(303);
    for (const page of [desk, phone]) {
      await invite(page).waitFor({ state: 'detached', timeout: 10_000 });
      await page.locator('#game-actions button.defend').waitFor();
    }
    expect(await desk.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(
      true,
    );
    expect(await tokensOn(desk)).toEqual(waiting);
    expect(await tokensOn(phone)).toEqual(waiting);
    // In the game, a name is cut only where its line has no room left.
    expect(await cutWithRoomLeft(desk)).toEqual([]);
    expect(await cutWithRoomLeft(phone)).toEqual([]);
    // The long name, cut beside the health on a desktop, has its line to itself: "(you) ★" went
    // below it.
    const cut = await desk.locator('#game-players .pname').evaluateAll((names) =>
      names.flatMap((p) => {
        const n = p.querySelector('.n')!;
        if (n.scrollWidth <= n.clientWidth) return [];
        const whole = n.getBoundingClientRect().width >= p.getBoundingClientRect().width - 1;
        return [{ name: n.textContent, whole }];
      }),
    );
    expect(cut).toEqual([{ name: host.username, whole: true }]);
    await shot(phone, 'playtest-full-table-started-phone');
    await shot(desk, 'playtest-full-table-started-desktop');
  });
});

describe('"How to play" on a phone', () => {
  it('is a tap away at the top of the game page, without pushing the board down, and leaves the keys to keyboards', async () => {
    const [a, b] = await players('sinis', 'sciron');
    const code = await a!.createGame();
    expect((await b!.join(code)).status).toBe(303);
    /** Checks the link on `page` (as `what`), then follows it. */
    const check = async (page: Page, what: string): Promise<void> => {
      const link = page.getByRole('link', { name: 'How to play' });
      expect(await link.isVisible(), what).toBe(true);
      const box = (await link.boundingBox())!;
      const board = async () => (await page.locator('.board-wrap').boundingBox())!.y;
      const top = await board();
      // Above the board, on screen, and where it stands the board would be without it.
      expect(box.y + box.height, what).toBeLessThanOrEqual(top);
      expect(box.x + box.width, what).toBeLessThanOrEqual(390);
      await page.evaluate(() => {
        const l = document.querySelector<HTMLElement>('.howto-link')!;
        l.hidden = true;
      });
      expect(await board(), what).toBe(top);
      await page.evaluate(() => {
        document.querySelector<HTMLElement>('.howto-link')!.hidden = false;
      });
      await shot(page, `playtest-howto-link-${what}`);
      // Tapped: the rules open, in view below the sticky header.
      await link.tap();
      const howto = page.locator('#howto');
      await expect.poll(() => howto.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
      await expect
        .poll(async () => {
          const summary = (await howto.locator('summary').boundingBox())!;
          const header = (await page.locator('header.topbar').boundingBox())!;
          return summary.y >= header.y + header.height && summary.y + summary.height <= 844;
        })
        .toBe(true);
      expect(
        await howto.getByText('Every round each hero secretly picks one action').isVisible(),
      ).toBe(true);
      // A touch screen has no keys to read about.
      expect(await howto.locator('.keys').isVisible(), what).toBe(false);
      await shot(page, `playtest-howto-open-${what}`);
      // And back to the board.
      await page.getByRole('link', { name: 'Back to the board ↑' }).tap();
      await expect
        .poll(async () => (await page.locator('.board-wrap').boundingBox())!.y)
        .toBeLessThan(844);
    };
    // The waiting room, where the header also holds the invite link.
    const waiting = await pageOf(a!, `/games/${code}`, PHONE);
    await waiting.locator('button.copy-link').waitFor();
    await check(waiting, 'waiting-room');
    expect((await a!.start(code)).status).toBe(303);
    const playing = await pageOf(b!, `/games/${code}`, PHONE);
    await playing.locator('#game-actions button.defend').waitFor();
    await check(playing, 'game');
    // On a desktop, the words themselves.
    const desk = await pageOf(a!, `/games/${code}`);
    expect(await desk.locator('.howto-link').innerText()).toBe('How to play');
    await desk.locator('#howto summary').click();
    expect(await desk.locator('#howto .keys').isVisible()).toBe(true);
  });
});

describe('A round held after a restart', () => {
  /**
   * What `p`'s browser shows of `html`, a game page as the server sent it to `p`: the page's
   * script runs on it, its live socket held back (answered by nothing).
   */
  async function shownOf(p: Player, code: string, html: string): Promise<string> {
    const page = await session!.newPage();
    await page.routeWebSocket(/\/live/, () => {});
    await page.route(`${base}/games/${code}`, (route) =>
      route.fulfill({ contentType: 'text/html; charset=utf-8', body: html }),
    );
    await page
      .context()
      .addCookies(p.cookies.map(({ name, value }) => ({ name, value, url: base })));
    await page.goto(`${base}/games/${code}`);
    await shot(page, 'playtest-held-round');
    return waitingShown(page);
  }

  it("leaves the reader's own hero out of those it waits for", async () => {
    const [a, b, c] = await players('aeacus', 'europa', 'sarpedon');
    const code = await a!.createGame();
    for (const p of [b!, c!]) expect((await p.join(code)).status).toBe(303);
    expect((await a!.start(code)).status).toBe(303);
    const [na, nb, nc] = [a!.username, b!.username, c!.username];

    /**
     * Restarts the node, whose successor holds the round for 10 s, and takes A's game page as
     * sent while all three are away, then once B and C are back; null if the hold ran out first
     * (a slow machine).
     */
    const duringAHold = async (): Promise<[string, string] | null> => {
      node!.signal('SIGTERM');
      await waitFor(() => !node!.alive, 10_000, 'the node to exit');
      node = boot();
      await node.ready();
      const { hold } = (await adminGame(base, code)).state;
      expect(hold?.waiting).toHaveLength(3);
      const within = () => Date.now() < hold!.until;
      const all = (await a!.page(`/games/${code}`)).html;
      const [sb, sc] = [socketOf(b!, code), socketOf(c!, code)];
      await Promise.all([sb.opened, sc.opened]);
      await waitFor(
        async () => (await adminGame(base, code)).state.hold?.waiting.length === 1 || !within(),
        10_000,
        'B and C back',
      );
      const last = (await a!.page(`/games/${code}`)).html;
      return within() ? [all, last] : null;
    };
    let sent = await duringAHold();
    for (let tries = 1; !sent; tries++) {
      expect(tries, 'a hold long enough to take two pages').toBeLessThan(3);
      sent = await duringAHold();
    }
    const [all, last] = sent;

    // The page as sent names all three; A reads the two others.
    expect(all).toContain(`waiting for ${na}, ${nb}, ${nc} to come back`);
    const held = (list: string) =>
      `A server restarted: waiting for ${list} to come back. The round starts when everyone is here, or when the countdown ends.`;
    expect(await shownOf(a!, code, all)).toBe(held(`${nb}, ${nc}`));
    // B and C came back: A is the last one away, and A's page says A is back.
    expect(last).toContain(`waiting for ${na} to come back`);
    expect(await shownOf(a!, code, last)).toBe(
      'A server restarted: you are back, and the round starts in a moment.',
    );

    // A's page with its socket brings A back: the round starts.
    const pa = await pageOf(a!, `/games/${code}`);
    await expect.poll(() => waitingShown(pa)).toBe(`Waiting for ${nb}, ${nc}`);
  });
});

describe("A neighbour's token", () => {
  it('moves the hero onto its tile when clicked, as the tile around it does', async () => {
    const [a, b] = await players('perses', 'chryses');
    const code = await a!.createGame();
    expect((await b!.join(code)).status).toBe(303);
    expect((await a!.start(code)).status).toBe(303);

    // The last node stops and keeps the game; B is put on a tile A can walk to (not the
    // Minotaur's), and the next node resumes the game from there.
    node!.signal('SIGTERM');
    await waitFor(() => !node!.alive, 10_000, 'the node to exit');
    const storage = openStorage(
      { engine: 'sqlite', path: db },
      { logger: pino({ level: 'silent' }) },
    );
    let dir: Direction | undefined;
    try {
      await storage.open();
      const saved = (await storage.snapshots.all()).find((s) => s.code === code)!;
      const state = saved.state;
      const [ha, hb] = [a!, b!].map((p) => state.players.find((h) => h.name === p.username)!);
      dir = COMPASS.find((d) => {
        const to = neighbor(ha!.pos, d);
        return tileKind(state, to) === 'floor' && !equals(to, state.minotaur.pos);
      });
      expect(dir, 'a tile beside A to walk to').toBeDefined();
      hb!.pos = neighbor(ha!.pos, dir!);
      expect(await storage.snapshots.save({ ...saved, seq: saved.seq + 1, state })).toBe(true);
    } finally {
      await storage.close();
    }
    node = boot();
    await node.ready();
    await socketOf(b!, code).opened;

    const page = await pageOf(a!, `/games/${code}`);
    const follow = page.locator(`#game-board .tile.reach.follow[data-dir="${dir}"]`);
    await follow.waitFor();
    // The middle of B's token, over the tile: hovering lights the tile up, a click moves there.
    const body = await page.locator('#game-board g.token:not(.me) circle.token-body').boundingBox();
    const [x, y] = [body!.x + body!.width / 2, body!.y + body!.height / 2];
    await page.mouse.move(x, y);
    await expect.poll(() => follow.getAttribute('class')).toContain('hot');
    await shot(page, 'playtest-neighbour-token-hover');
    await page.mouse.click(x, y);
    await expect
      .poll(async () => {
        const { state } = await adminGame(base, code);
        const hero = state.players.find((h) => h.name === a!.username)!;
        return state.submitted[hero.id];
      })
      .toMatchObject({ kind: 'move', dir });
    await page.context().close();
  });
});
