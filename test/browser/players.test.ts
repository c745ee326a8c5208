// What makes people play again, in real Chromium: an invite link opened logged out leads
// through sign-up straight into the game; a rematch brings the same group back with one click
// each; profiles show records and recent games, whose final board stays viewable after the
// server restarts; a phone (390×844) gets the whole game without scrolling sideways; and the
// table talk of a hero who left the waiting room stays, marked as theirs no more; a password
// changed on one device sends the account's open pages on another to the login; and a long
// table talk keeps its newest line in view, past the 30 lines a game keeps, while a reader who
// scrolled up stays where they were, offered a button down to the new lines.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { adminGame, TEST_ADMIN_TOKEN } from '../support/admin.js';
import { BrowserSession, PHONE, SHOTS, createGame, nextTurn, signUp } from '../support/browser.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player } from '../support/player.js';

const nodes: NodeProcess[] = [];
let session: BrowserSession | undefined;
let node: NodeProcess;
let port: number;
let db: string;
const tag = String(Date.now() % 100000);
const env = { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '3', DRAIN_WINDOW_MS: '200' };

const shot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), animations: 'disabled', fullPage });

/**
 * Plays a page through to the end of its game by defending (the S key) in every round it is alive.
 */
async function defendToTheEnd(page: Page): Promise<void> {
  let acted = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const v = await nextTurn(page, acted, 60_000);
    if (v === 'over') return;
    await page.keyboard.press('s');
    acted = v;
  }
  throw new Error('the game did not end in time');
}

/** Whether the page scrolls sideways. */
const scrollsSideways = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

beforeAll(async () => {
  session = await BrowserSession.launch();
  port = await freePort();
  db = join(tempDir(), 'players.db');
  node = startNode({ port, databasePath: db, env });
  nodes.push(node);
  await node.ready();
});

afterAll(async () => {
  await session?.close();
  await Promise.all(nodes.map((n) => n.kill()));
});

describe('invite, rematch, profile', () => {
  const host = `ariadne${tag}`;
  const guest = `theseus${tag}`;
  let pa: Page;
  let pb: Page;
  let code = '';
  let rematchCode = '';

  it('an invite link opened logged out leads through sign-up into the game, ready to join', async () => {
    const base = node.url;
    pa = await session!.newPage({ permissions: ['clipboard-read', 'clipboard-write'] });
    await signUp(pa, base, host);
    code = await createGame(pa);

    // "Copy invite link" copies the full address of the game.
    await pa.click('button.copy-link');
    await expect
      .poll(() => pa.evaluate(() => navigator.clipboard.readText()))
      .toBe(`${base}/games/${code}`);
    const invite = await pa.evaluate(() => navigator.clipboard.readText());

    // A new player opens it: sign-up (not log-in) first, with the invitation shown.
    pb = await session!.newPage();
    // (A link to a game there is not says so at once, not after the sign-up.)
    const wrong = code === 'ZZZZ' ? 'ZZZY' : 'ZZZZ';
    const missing = await pb.goto(`${base}/games/${wrong}`);
    expect(missing!.status()).toBe(404);
    expect(await pb.locator('h1').textContent()).toBe(`No game ${wrong}`);
    expect(new URL(pb.url()).pathname).toBe(`/games/${wrong}`);
    await pb.goto(invite);
    expect(new URL(pb.url()).pathname).toBe('/signup');
    expect(new URL(pb.url()).searchParams.get('next')).toBe(`/games/${code}`);
    expect(await pb.locator('.invite').textContent()).toContain(code);
    // Someone with an account can log in instead and still land in the game.
    expect(await pb.locator('.switch a').getAttribute('href')).toBe(
      `/login?next=${encodeURIComponent(`/games/${code}`)}`,
    );
    await pb.fill('input[name="username"]', guest);
    await pb.fill('input[name="password"]', 'correct horse battery');
    await pb.locator('#username-status.ok').waitFor();
    await shot(pb, 'invite-signup');
    await Promise.all([
      pb.waitForURL(`${base}/games/${code}`),
      pb.click('form[data-signup] button[type="submit"]'),
    ]);

    // In the game, ready to join with one click; the host sees the guest arrive live.
    const join = pb.locator('#game-actions button:has-text("Join this game")');
    await join.waitFor();
    await Promise.all([pb.waitForURL(`${base}/games/${code}`), join.click()]);
    await pb.locator('#game-players').getByText(guest).waitFor();
    await pa.locator('#game-players').getByText(guest).waitFor();
    await pa.locator('#game-actions button:has-text("Start the game")').waitFor();
    await shot(pa, 'waiting-room');
    // Regression: the waiting room does not speak of a "last round" before any round.
    expect(await pa.locator('#game').textContent()).not.toContain('Last round');
  });

  it('a rematch brings the same group back: one click each, and it starts once both are in', async () => {
    const base = node.url;
    await Promise.all([
      pa.waitForResponse(
        (r) => r.url() === `${base}/games/${code}` && r.request().method() === 'GET',
      ),
      pa.click('#game-actions button:has-text("Start the game")'),
    ]);
    await pa.locator('#game-status .countdown[data-round]').waitFor();
    await pb.locator('#game-status .countdown[data-round]').waitFor();
    // Table talk: a quick call and a typed line, escaped, shown to the other player live.
    await pb.click('.emotes button:has-text("Nice!")');
    await pb.fill('#chat-input', 'watch the <b>red</b> tiles');
    await pb.press('#chat-input', 'Enter');
    await pa.locator('#game-chat li', { hasText: 'watch the <b>red</b> tiles' }).waitFor();
    expect(await pa.locator('#game-chat li').allTextContents()).toEqual([
      expect.stringContaining('Nice!'),
      expect.stringContaining('watch the <b>red</b> tiles'),
    ]);
    expect(await pb.inputValue('#chat-input')).toBe('');
    expect(await pa.locator('#game-board .bubble').count()).toBe(1);
    await pa.click('a[href="#howto"]');
    expect(await pa.locator('#howto').getAttribute('open')).not.toBeNull();
    await pa.evaluate(() => window.scrollTo(0, 0));
    await shot(pa, 'game-round-1');
    await Promise.all([defendToTheEnd(pa), defendToTheEnd(pb)]);
    const end = await adminGame(base, code);
    expect(end.state.status).toBe('finished');

    // One end-of-game box each, with one way back to the lobby (regression: there were two).
    for (const p of [pa, pb]) {
      await p.locator('#game-overlay .overlay').waitFor();
      expect(await p.locator('a:has-text("Back to the lobby")').count()).toBe(1);
      expect(await p.locator('.overlay table.standings tbody tr').count()).toBe(2);
    }
    await shot(pa, 'game-over');

    // The host calls for a rematch and lands in its waiting room.
    await Promise.all([
      pa.waitForURL((u) => /\/games\/[A-Z]{4}$/.test(u.pathname) && !u.pathname.endsWith(code)),
      pa.click('.overlay button:has-text("Rematch")'),
    ]);
    rematchCode = pa.url().slice(-4);
    expect(rematchCode).not.toBe(code);
    expect(await pa.locator('#game-status').textContent()).toMatch(
      new RegExp(`Rematch of ${code}: 1 of 2 back`),
    );
    // The guest's end-of-game box offers to join it, live, and links to it.
    const joinRematch = pb.locator('.overlay button:has-text("Go to the rematch")');
    await joinRematch.waitFor({ timeout: 10_000 });
    expect(await pb.locator('.overlay .rematch-note').textContent()).toContain(rematchCode);
    expect(await pb.locator('.overlay .rematch-note a').getAttribute('href')).toBe(
      `/games/${rematchCode}`,
    );
    await shot(pb, 'rematch-offer');
    await Promise.all([pb.waitForURL(`${base}/games/${rematchCode}`), joinRematch.click()]);

    // Everyone is back: it starts by itself, on both pages.
    for (const p of [pa, pb])
      await p.locator('#game-status .countdown[data-round="1"]').waitFor({ timeout: 10_000 });
    const rematch = await adminGame(base, rematchCode);
    expect(rematch.state.status).toBe('playing');
    expect(rematch.state.rematchOf).toEqual({
      code,
      players: end.state.players.map((p) => p.id),
      colors: end.state.players.map((p) => p.color),
    });
    // Each hero in their colour of the game before.
    const colorOf = (g: typeof end) =>
      Object.fromEntries(g.state.players.map((p) => [p.id, p.color]));
    expect(colorOf(rematch)).toEqual(colorOf(end));
    expect(rematch.state.players.map((p) => p.name).sort()).toEqual([host, guest].sort());
    expect((await adminGame(base, code)).state.rematch).toMatchObject({ code: rematchCode });
    await shot(pb, 'rematch-started');
  });

  it('profiles show the record and recent games; a finished game stays viewable after a restart', async () => {
    const base = node.url;
    const finished = await adminGame(base, code);
    const winner = finished.state.players.find((p) => p.id === finished.state.winner)?.name ?? null;

    // The leaderboard links each name to its profile.
    await pa.goto(`${base}/leaderboard`);
    const link = pa.locator(`table.board-table a[href="/players/${guest}"]`);
    await link.waitFor();
    await Promise.all([pa.waitForURL(`${base}/players/${guest}`), link.click()]);
    expect(await pa.locator('h1').textContent()).toContain(guest);
    const stats = await pa.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll('.stats div')].map((d) => [
          d.querySelector('dt')!.textContent,
          d.querySelector('dd')!.textContent,
        ]),
      ),
    );
    expect(stats).toMatchObject({ Won: String(winner === guest ? 1 : 0), Played: '1' });
    const row = pa.locator('table.recent tbody tr').first();
    expect(await row.locator('a.code').textContent()).toBe(code);
    expect(await row.textContent()).toContain(host);
    expect(await pa.locator('.now-playing').textContent()).toContain(rematchCode);
    await shot(pa, 'profile');
    // Times show in the reader's own time zone and language (the page is written in UTC).
    const tokyo = await session!.newPage({ timezoneId: 'Asia/Tokyo', locale: 'en-GB' });
    await tokyo.goto(`${base}/players/${guest}`);
    const when = tokyo.locator('table.recent tbody tr').first().locator('time');
    const iso = (await when.getAttribute('datetime'))!;
    const local = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'Asia/Tokyo',
    }).format(new Date(iso));
    await expect.poll(() => when.textContent()).toBe(local);
    expect(await when.getAttribute('title')).toBe(`${iso.slice(0, 16).replace('T', ' ')} UTC`);
    await tokyo.close();
    const gameLink = (await row.locator('a.code').getAttribute('href'))!;
    expect(gameLink).toBe(`/games/${code}?game=${encodeURIComponent(finished.state.id)}`);

    // The server restarts (no peer: the finished game is not resumed, only its result is kept).
    node.signal('SIGTERM');
    await waitFor(() => !node.alive, 15_000, 'node to exit');
    node = startNode({ port, databasePath: db, env });
    nodes.push(node);
    await node.ready();

    // Both the game's address and the profile's link show its final board and result.
    for (const path of [`/games/${code}`, gameLink]) {
      const res = await pa.goto(`${base}${path}`);
      expect(res?.status(), path).toBe(200);
      expect(await pa.locator('.archived-badge').textContent()).toBe('Finished game');
      expect(await pa.locator('#game-status').textContent()).toContain(
        `Game over after ${finished.state.round} rounds`,
      );
      // Several heroes still stand when the game ended at its last round.
      const standing = finished.state.players.filter((p) => p.alive).length;
      expect(await pa.locator('.overlay .outcome-line').textContent()).toContain(
        winner
          ? winner === host
            ? standing > 1
              ? 'you are the healthiest hero standing'
              : 'You are the last hero standing'
            : `${winner} won the game.`
          : standing > 1
            ? 'tied: nobody wins'
            : 'Nobody walks out',
      );
      expect(await pa.locator('#game-board-tiles polygon.wall').count()).toBe(
        finished.state.walls.length,
      );
      // Nothing to reconnect to: the page of a finished game is not live.
      expect(await pa.locator('[data-live]').count()).toBe(0);
    }
    await pa.click('.overlay [data-dismiss]');
    await shot(pa, 'finished-game-after-restart');

    // Its link is there for anyone to open, account or not: the same board and result, told in
    // the third person, with a way in to play.
    const visitor = await session!.newPage();
    for (const path of [`/games/${code}`, gameLink]) {
      const res = await visitor.goto(`${base}${path}`);
      expect(res?.status(), path).toBe(200);
      expect(visitor.url()).toBe(`${base}${path}`);
      expect(await visitor.locator('.archived-badge').textContent()).toBe('Finished game');
      expect(await visitor.locator('#game-status').textContent()).toContain(
        `Game over after ${finished.state.round} rounds`,
      );
      expect(await visitor.locator('.overlay .outcome-line').textContent()).not.toMatch(/\byou\b/i);
      expect(await visitor.locator('#game-board-tiles polygon.wall').count()).toBe(
        finished.state.walls.length,
      );
      expect(await visitor.locator('[data-live]').count()).toBe(0);
      expect(await visitor.locator('header a[href^="/signup"]').count()).toBe(1);
      // What was said at the table stays with those who have an account.
      expect(await visitor.locator('#game-chat').count()).toBe(0);
      expect(await visitor.locator('.chat .hint').textContent()).toContain(
        'to read what was said at the table',
      );
      expect(await visitor.locator('.overlay-actions a.button').getAttribute('href')).toBe(
        '/signup',
      );
    }
    await shot(visitor, 'finished-game-logged-out');
    await visitor.context().close();
    await pa.context().close();
    await pb.context().close();
  });
});

describe('a phone, 390×844', () => {
  it('fits every page without sideways scrolling, and keeps the actions in reach with the board in view', async () => {
    const base = node.url;
    const host = new Player(base, `minos${tag}`);
    await host.signup();
    const code = await host.createGame();
    const phone = await session!.newPage(PHONE);
    const errors: string[] = [];
    phone.on('pageerror', (e) => errors.push(e.message));

    await phone.goto(`${base}/`);
    expect(await scrollsSideways(phone), 'home').toBe(false);
    await shot(phone, 'phone-home');
    await phone.goto(`${base}/games/${code}`);
    expect(await scrollsSideways(phone), 'sign-up').toBe(false);
    await phone.fill('input[name="username"]', `icarus${tag}`);
    await phone.fill('input[name="password"]', 'correct horse battery');
    await phone.locator('#username-status.ok').waitFor();
    await Promise.all([
      phone.waitForURL(`${base}/games/${code}`),
      phone.tap('form[data-signup] button[type="submit"]'),
    ]);

    // The header fits: "Log out" is entirely on screen.
    const logout = await phone.locator('header button:has-text("Log out")').boundingBox();
    expect(logout).not.toBeNull();
    expect(logout!.x + logout!.width).toBeLessThanOrEqual(390);
    const header = await phone.evaluate(() => document.querySelector('header')!.scrollWidth);
    expect(header).toBeLessThanOrEqual(390);

    // The join posts and comes back to the same address: wait for the page that lists the new hero.
    await phone.tap('#game-actions button:has-text("Join this game")');
    await phone.locator('#game-players').getByText(`icarus${tag}`).waitFor();
    expect(await scrollsSideways(phone), 'waiting room').toBe(false);
    await shot(phone, 'phone-waiting-room');
    expect((await host.start(code)).status).toBe(303);
    await phone.locator('#game-actions button.defend').waitFor();
    expect(await scrollsSideways(phone), 'game').toBe(false);

    // Countdown, board and action bar all on the first screen.
    const box = async (sel: string) => (await phone.locator(sel).first().boundingBox())!;
    const [countdown, board, actions, defend] = await Promise.all([
      box('#game-status .countdown'),
      box('#game-board svg'),
      box('#game-actions'),
      box('#game-actions button.defend'),
    ]);
    expect(countdown.y + countdown.height).toBeLessThanOrEqual(844);
    expect(board.y).toBeLessThan(400);
    expect(actions.y + actions.height).toBeLessThanOrEqual(844);
    expect(defend.y + defend.height).toBeLessThanOrEqual(844);
    // Most of the board is visible above the action bar.
    expect(actions.y - board.y).toBeGreaterThan(board.height * 0.6);
    // Scrolled down, the action bar stays put at the bottom.
    await phone.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const after = await box('#game-actions button.defend');
    expect(after.y + after.height).toBeLessThanOrEqual(844);
    await phone.evaluate(() => window.scrollTo(0, 0));
    await shot(phone, 'phone-game');

    // A tap plays. Rounds here last 3 s and the host never acts: a tap that reaches the node
    // just after its round closed is refused quietly (stale-round) and the next round's buttons
    // come up, so the player taps again, as a person would.
    const move = phone
      .locator('#game-actions .compass:not(.attack) button:not([disabled])')
      .first();
    const submitted = phone.locator('#game-actions .submitted');
    for (let tap = 1; ; tap++) {
      await move.tap();
      const shown = await submitted
        .waitFor({ timeout: 5000 })
        .then(() => true)
        .catch(() => false);
      if (shown) break;
      expect(tap, 'taps on a move button without it being submitted').toBeLessThan(3);
    }
    await shot(phone, 'phone-submitted');

    const another = await host.createGame();
    for (const path of ['/lobby', '/leaderboard', `/players/icarus${tag}`]) {
      await phone.goto(`${base}${path}`);
      expect(await scrollsSideways(phone), path).toBe(false);
      if (path === '/lobby') {
        await phone.locator(`#open-games form[action="/games/${another}/join"] button`).waitFor();
        await shot(phone, 'phone-lobby');
      }
    }
    await shot(phone, 'phone-profile');
    // Sent to the lobby from a waiting room that closed: the lobby says so once, and its address
    // drops the word (a reload says nothing more).
    await phone.goto(`${base}/lobby?closed=KEPS&page=1`);
    expect(await phone.locator('.flash').textContent()).toContain(
      'Game KEPS closed before it started',
    );
    await expect.poll(() => phone.evaluate(() => window.location.search)).toBe('?page=1');
    await phone.reload();
    expect(await phone.locator('.flash').count()).toBe(0);
    // One tap on "Join" in the lobby, and the phone's player is in that game.
    await phone.goto(`${base}/lobby`);
    await Promise.all([
      phone.waitForURL(`${base}/games/${another}`),
      phone.tap(`#open-games form[action="/games/${another}/join"] button`),
    ]);
    await phone.locator('#game-players').getByText(`icarus${tag}`).waitFor();
    expect((await adminGame(base, another)).state.players.map((p) => p.name)).toContain(
      `icarus${tag}`,
    );
    expect(errors).toEqual([]);
  });
});

describe('table talk in the waiting room', () => {
  it('keeps the lines of a hero who left, marked as theirs no more, on the pages already open', async () => {
    const base = node.url;
    const pa = await session!.newPage();
    const pb = await session!.newPage();
    await signUp(pa, base, `phaedra${tag}`);
    await signUp(pb, base, `icarus2${tag}`);
    const code = await createGame(pa);
    await pb.goto(`${base}/games/${code}`);
    await Promise.all([
      pb.waitForURL(`${base}/games/${code}`),
      pb.click('#game-actions button:has-text("Join this game")'),
    ]);
    await pb.locator('#chat-input').fill('back in a minute');
    await pb.locator('#chat-input').press('Enter');
    const line = pa.locator('#game-chat li', { hasText: 'back in a minute' });
    await line.waitFor();
    expect(await line.locator('strong').textContent()).toBe(`icarus2${tag}`);

    await Promise.all([pb.waitForURL(`${base}/lobby`), pb.click('form[action$="/leave"] button')]);
    // The host's open page: the line stays, its author marked as gone, with no seat colour.
    await line.locator('strong', { hasText: `icarus2${tag} (left)` }).waitFor();
    expect(await line.locator('.swatch').getAttribute('class')).toContain('c-1');
    await line.screenshot({ path: join(SHOTS, 'chat-left.png') });
    // A page opened afterwards shows the same.
    await pa.reload();
    await pa.locator('#game-chat strong', { hasText: `icarus2${tag} (left)` }).waitFor();
  });
});

describe('a password changed on another device', () => {
  it("sends the other device's open page to the login, and back to it after logging in", async () => {
    const base = node.url;
    const name = `pasiphae${tag}`;
    const laptop = await session!.newPage();
    await signUp(laptop, base, name, 'first password');
    // The same account in another browser, on the lobby.
    const phone = await session!.newPage();
    await phone.goto(`${base}/login?next=%2Flobby`);
    await phone.fill('input[name="username"]', name);
    await phone.fill('input[name="password"]', 'first password');
    await Promise.all([
      phone.waitForURL(`${base}/lobby`),
      phone.click('form[action^="/login"] button[type="submit"]'),
    ]);
    await phone.locator('section.lobby[data-live]').waitFor();

    await laptop.goto(`${base}/players/${name}`);
    await Promise.all([
      laptop.waitForURL(`${base}/account/password`),
      laptop.click('a[href="/account/password"]'),
    ]);
    await laptop.fill('input[name="current"]', 'first password');
    await laptop.fill('input[name="password"]', 'second password');
    await laptop.fill('input[name="again"]', 'second password');
    await Promise.all([
      laptop.waitForURL(`${base}/players/${name}`),
      laptop.click('form[action="/account/password"] button[type="submit"]'),
    ]);
    expect(await laptop.locator('.flash').textContent()).toContain(
      'You are logged out everywhere else.',
    );
    await shot(laptop, 'password-changed');

    await phone.waitForURL(`${base}/login?next=%2Flobby&ended=1`, { timeout: 15_000 });
    expect(await phone.locator('.flash').textContent()).toContain('Your session has ended.');
    await phone.fill('input[name="username"]', name);
    await phone.fill('input[name="password"]', 'second password');
    await Promise.all([
      phone.waitForURL(`${base}/lobby`),
      phone.click('form[action^="/login"] button[type="submit"]'),
    ]);
    // The laptop stays logged in.
    await laptop.goto(`${base}/lobby`);
    expect(laptop.url()).toBe(`${base}/lobby`);
  });
});

describe('logging out in one tab', () => {
  it("sends the browser's other open pages to the login at once, and this one home", async () => {
    const base = node.url;
    const name = `daedalus${tag}`;
    const first = await session!.newPage();
    // Counts each live socket a page opens.
    await first.context().addInitScript(() => {
      const w = window as unknown as { liveOpened: number };
      w.liveOpened = 0;
      document.addEventListener('htmx:ws:after:connection', () => {
        w.liveOpened++;
      });
    });
    await signUp(first, base, name, 'a password');
    const second = await first.context().newPage();
    await second.goto(`${base}/lobby`);
    await second.waitForFunction(
      () => (window as unknown as { liveOpened: number }).liveOpened > 0,
    );

    await Promise.all([
      first.waitForURL(`${base}/`),
      first.click('form[action="/logout"] button[type="submit"]'),
    ]);
    // Well within the 30-s session check: the node closed the other tab's page when it logged out.
    await second.waitForURL(`${base}/login?next=%2Flobby&ended=1`, { timeout: 5_000 });
    expect(await second.locator('.flash').textContent()).toContain('Your session has ended.');
    expect(first.url()).toBe(`${base}/`);
    await shot(second, 'logged-out-elsewhere');
  });
});

describe('table talk', () => {
  it('keeps the newest line of a long talk in view, and a reader who scrolled up where they were', async () => {
    const base = node.url;
    // Seven heroes talk over sockets of their own; an eighth and a spectator in the browser.
    const talkers = Array.from({ length: 7 }, (_, i) => new Player(base, `talk${i}${tag}`));
    for (const p of talkers) await p.signup();
    const code = await talkers[0]!.createGame();
    for (const p of talkers.slice(1)) expect((await p.join(code)).status).toBe(303);
    const hero = await session!.newPage();
    // The lines of table talk the hero's page sends, on any of its sockets.
    const heroSaid: string[] = [];
    let firstSaidAt = 0;
    hero.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        const m = /^\{"type":"say","text":"([^"]*)"\}$/.exec(String(payload));
        if (!m) return;
        if (heroSaid.length === 0) firstSaidAt = Date.now();
        heroSaid.push(m[1]!);
      }),
    );
    await signUp(hero, base, `talk7${tag}`);
    await hero.goto(`${base}/games/${code}`);
    await Promise.all([
      hero.waitForResponse((r) => r.url() === `${base}/games/${code}`),
      hero.click('#game-actions button:has-text("Join")'),
    ]);
    const watcher = await session!.newPage();
    await signUp(watcher, base, `watch${tag}`);
    await watcher.goto(`${base}/games/${code}`);
    // A second tab of the hero's. What the server refuses there is held back (`held`) until the
    // test lets it through, so that the tab's box can hold another line by then.
    const other = await hero.context().newPage();
    const held: (() => void)[] = [];
    let holding = true;
    let opened = false;
    await other.routeWebSocket(/\/live/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((m) => {
        opened = true;
        if (holding && typeof m === 'string' && m.includes('"unsaid"')) held.push(() => ws.send(m));
        else ws.send(m);
      });
    });
    await other.goto(`${base}/games/${code}`);
    // The server's first message (its clock) says the tab's socket is open.
    await waitFor(() => opened, 10_000, "the other tab's socket");
    const sockets = talkers.map((p) => p.connect(code));
    await Promise.all(sockets.map((s) => s.opened));
    let said = 0;
    const talk = (each: number) => {
      for (let k = 0; k < each; k++)
        for (const s of sockets) s.send({ type: 'say', text: `line ${said++} of the talk` });
    };
    // What the list shows, and where it is scrolled to.
    const chat = (page: Page) =>
      page.evaluate(() => {
        const list = document.querySelector('#game-chat .chat-lines')!;
        return {
          lines: [...list.querySelectorAll('.chat-text')].map((e) => e.textContent),
          overflows: list.scrollHeight > list.clientHeight,
          fromBottom: list.scrollHeight - list.scrollTop - list.clientHeight,
          top: list.scrollTop,
        };
      });
    // The lines as a fresh load of the page shows them: the order the game took them in.
    const loaded = async () =>
      [
        ...(await talkers[0]!.page(`/games/${code}`)).html.matchAll(
          /<span class="chat-text[^"]*">([^<]*)<\/span>/g,
        ),
      ].map((m) => m[1]);

    talk(3);
    for (const page of [hero, watcher])
      await page
        .locator('#game-chat .chat-text')
        .nth(said - 1)
        .waitFor();
    const first = await chat(hero);
    expect(first.overflows).toBe(true);
    expect(first.fromBottom).toBeLessThan(2);
    expect((await chat(watcher)).fromBottom).toBeLessThan(2);
    // The spectator scrolls up to read; the talk goes on past the 30 lines a game keeps, the
    // last line the hero's own.
    await watcher.evaluate(() => {
      document.querySelector('#game-chat .chat-lines')!.scrollTop = 0;
    });
    const seenBefore = said;
    talk(2);
    await hero.fill('#chat-input', 'the last word');
    await hero.press('#chat-input', 'Enter');
    await waitFor(
      async () => {
        const want = await loaded();
        return want.length === 30 &&
          want.at(-1) === 'the last word' &&
          JSON.stringify((await chat(hero)).lines) === JSON.stringify(want) &&
          JSON.stringify((await chat(watcher)).lines) === JSON.stringify(want)
          ? true
          : null;
      },
      15_000,
      'both pages showing the last 30 lines, as a fresh load does',
    );
    expect((await chat(hero)).fromBottom).toBeLessThan(2);
    expect((await chat(watcher)).top).toBe(0);
    await hero.locator('#game-chat').screenshot({ path: join(SHOTS, 'chat-long.png') });
    // The reader who scrolled up is offered the new lines; the hero, at the bottom, is not.
    const newLines = (page: Page) => page.locator('[data-chat-new]');
    expect(await newLines(watcher).isVisible()).toBe(true);
    // Every line said since it scrolled up, the hero's included.
    expect(await newLines(watcher).textContent()).toBe(`${said - seenBefore + 1} new lines ↓`);
    expect(await newLines(hero).isVisible()).toBe(false);
    await watcher.locator('section.chat').screenshot({ path: join(SHOTS, 'chat-new-lines.png') });
    await newLines(watcher).click();
    expect((await chat(watcher)).fromBottom).toBeLessThan(2);
    expect(await newLines(watcher).isVisible()).toBe(false);
    // Talking faster than the table allows (5 lines in 10 s): the line past the limit stays in
    // the box with the notice, not sent to be refused. First the window of the hero's earlier
    // line passes (the server counts in windows of 10 s from a line, the page over the last
    // 10 s), so that both count from the first of these lines, and the other tab's line below
    // is surely within the server's window.
    expect(heroSaid).toHaveLength(1);
    await waitFor(() => Date.now() - firstSaidAt > 10_500, 15_000, "the first line's window");
    for (let k = 1; k <= 6; k++) {
      await hero.fill('#chat-input', `one more ${k}`);
      await hero.press('#chat-input', 'Enter');
    }
    await hero.locator('#game-notice', { hasText: /^Easy there: wait \d+ seconds?/ }).waitFor();
    expect(await hero.inputValue('#chat-input')).toBe('one more 6');
    expect(await loaded()).not.toContain('one more 6');
    expect(heroSaid.slice(1)).toEqual([1, 2, 3, 4, 5].map((k) => `one more ${k}`));
    // The other tab knows nothing of those lines, so it sends its own, and the server refuses it
    // (5 in 10 s for the account). By the time the refusal arrives the player has typed on:
    // that text stays in the box, and the refused line waits for it to be sent.
    await other.fill('#chat-input', 'from the other tab');
    await other.press('#chat-input', 'Enter');
    await waitFor(() => held.length > 0, 10_000, "the server's refusal of the other tab's line");
    await other.fill('#chat-input', 'a second thought');
    holding = false;
    for (const send of held.splice(0)) send();
    await other.locator('#game-notice', { hasText: '"from the other tab" comes back' }).waitFor();
    await other.screenshot({ path: join(SHOTS, 'chat-refused-line-waits.png') });
    expect(await other.inputValue('#chat-input')).toBe('a second thought');
    // Sent again once the table allows it (the notice said when): said, and the box empty.
    await waitFor(
      async () => {
        await hero.press('#chat-input', 'Enter');
        return (await hero.inputValue('#chat-input')) === '';
      },
      15_000,
      'the line sent once the table allows it',
      500,
    );
    await waitFor(async () => (await loaded()).includes('one more 6'), 5000, 'the line said');
    // Said once. (Sent once, or twice on a loaded machine: a page whose clock let it through a
    // moment before the server's window ended gets it back in its box, and it goes next time.)
    expect((await loaded()).filter((l) => l === 'one more 6')).toHaveLength(1);
    expect(heroSaid.filter((l) => l === 'one more 6').length).toBeLessThanOrEqual(2);
    // In the other tab: its line goes, the refused one comes back into the box, and goes too.
    for (const line of ['a second thought', 'from the other tab'])
      await waitFor(
        async () => {
          if ((await other.inputValue('#chat-input')) === line)
            await other.press('#chat-input', 'Enter');
          return (await loaded()).includes(line);
        },
        15_000,
        `"${line}" said from the other tab`,
        500,
      );
    expect((await loaded()).slice(-2)).toEqual(['a second thought', 'from the other tab']);
    expect(await other.inputValue('#chat-input')).toBe('');
    for (const s of sockets) s.ws.terminate();
  });
});
