// What a live page says when its socket will not come back, and what it keeps across updates, in
// real Chromium: a page pushed out by newer tabs of the same account (4429), by a frame too big
// (1009) or by a session that ended twice in a minute (4401) says so for good, with a way back;
// a game the server cannot find (4404) is reloaded once, not in a loop; a page restored from the
// back/forward cache loads afresh; screen readers hear the start, each new round and the end;
// a result box the player closed stays closed when the socket reconnects and after a reload, and
// a box of a new kind shows; a keyboard player's place in the lobby survives its updates; and
// the "One moment" page tries again by itself.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { axeViolations } from '../support/axe.js';
import {
  BrowserSession,
  SHOTS,
  createGame,
  defendToTheEnd,
  recordReconnects,
  scheduledReconnects,
  signUp,
} from '../support/browser.js';
import { freePort, startNode, tempDir, type NodeProcess } from '../support/node-process.js';
import { Player } from '../support/player.js';
import { MAX_FRAME_BYTES } from '../../src/live/messages.js';

let session: BrowserSession | undefined;
let node: NodeProcess;
let base = '';
const tag = String(Date.now() % 100000);
// One live page per account: a second one closes the first (4429).
const env = {
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  ROUND_SECONDS: '30',
  DRAIN_WINDOW_MS: '200',
  SOCKETS_PER_ACCOUNT: '1',
};

interface LiveLog {
  opened: number;
  closes: (number | null)[];
  messages: number;
}

beforeAll(async () => {
  session = await BrowserSession.launch();
  const port = await freePort();
  node = startNode({ port, databasePath: join(tempDir(), 'live-states.db'), env });
  await node.ready();
  base = node.url;
});

afterAll(async () => {
  await session?.close();
  await node.kill();
});

/** A page in a context of its own whose live socket's opens, closes and messages are counted. */
async function watchedPage(): Promise<Page> {
  const page = await session!.newPage();
  await watchContext(page.context());
  return page;
}
async function watchContext(ctx: BrowserContext): Promise<void> {
  await ctx.addInitScript(() => {
    const live = { opened: 0, closes: [] as (number | null)[], messages: 0 };
    (window as unknown as { __live: typeof live }).__live = live;
    document.addEventListener('htmx:ws:after:connection', () => {
      live.opened++;
      live.messages = 0;
    });
    document.addEventListener('htmx:ws:close', (e) => {
      live.closes.push((e as CustomEvent<{ code: number | null }>).detail.code);
    });
    document.addEventListener('htmx:ws:after:message:incoming', () => live.messages++);
  });
}
const liveLog = (page: Page) =>
  page.evaluate(() => (window as unknown as { __live: LiveLog }).__live);

/** Waits until the page's live socket has opened `n` times (since the page loaded). */
const opened = (page: Page, n = 1) =>
  page.waitForFunction((n) => (window as unknown as { __live: LiveLog }).__live.opened >= n, n, {
    timeout: 15_000,
  });

/**
 * Closes the page's live socket from the page (code 1005: hx-ws reconnects); with `code`, the
 * reconnect goes to that game's socket instead.
 */
async function dropSocket(page: Page, code?: string): Promise<void> {
  await page.evaluate((code) => {
    const root = document.querySelector('[data-live]') as unknown as {
      _htmx: { ws: { connection: { url: string; socket: WebSocket } } };
    };
    const connection = root._htmx.ws.connection;
    if (code) {
      const url = new URL(connection.url);
      url.pathname = `/games/${code}/live`;
      connection.url = url.toString();
    }
    connection.socket.close();
  }, code);
}

/** Marks the document, to tell whether the page was loaded again. */
const mark = (page: Page) =>
  page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
const sameDocument = (page: Page) =>
  page.evaluate(() => (window as unknown as { __same?: boolean }).__same === true);

const badgeText = (page: Page) => page.locator('#conn-badge').textContent();

describe('a socket that will not come back', () => {
  it('says a newer tab took over (4429), lastingly, and Reload brings the page back', async () => {
    const first = await watchedPage();
    await signUp(first, base, `pasiphae${tag}`);
    const code = await createGame(first);
    await opened(first);

    const second = await first.context().newPage();
    await second.goto(`${base}/games/${code}`);
    await opened(second);
    await first.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    expect(await badgeText(first)).toContain(
      'This page stopped updating: Minotaur is open in too many tabs or windows.',
    );
    expect((await liveLog(first)).closes).toContain(4429);
    expect(await axeViolations(first)).toEqual([]);
    await first.screenshot({ path: join(SHOTS, 'live-stopped-too-many-tabs.png') });
    await first.setViewportSize({ width: 390, height: 844 });
    expect(await first.evaluate(() => document.documentElement.scrollWidth > innerWidth)).toBe(
      false,
    );
    await first.screenshot({ path: join(SHOTS, 'live-stopped-too-many-tabs-phone.png') });
    await first.setViewportSize({ width: 1200, height: 860 });
    // Not a "reconnecting…" that pulses forever: hx-ws does not try again, and the page says so.
    expect(await badgeText(first)).not.toContain('reconnecting');
    // The second page works on; the first one's Reload makes it the one that works.
    expect(await second.locator('#conn-badge').isHidden()).toBe(true);
    await Promise.all([
      first.waitForEvent('load'),
      first.locator('#conn-badge').getByRole('button', { name: 'Reload' }).click(),
    ]);
    await opened(first);
    await second.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    expect(await first.locator('#conn-badge').isHidden()).toBe(true);

    // A tab in the background when it is closed so: hx-ws opens its socket again once the tab is
    // looked at (whatever the code), and the page, live again, drops its lasting message.
    const hide = (hidden: boolean) => {
      Object.defineProperty(document, 'hidden', { value: hidden, configurable: true });
      Object.defineProperty(document, 'visibilityState', {
        value: hidden ? 'hidden' : 'visible',
        configurable: true,
      });
    };
    await first.evaluate(hide, true); // hidden, its socket still open (no event yet)
    await Promise.all([second.waitForEvent('load'), second.reload()]);
    await opened(second);
    await first.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    await first.evaluate(hide, false);
    await first.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await first.locator('#conn-badge').waitFor({ state: 'hidden' });
    expect(await first.locator('#conn-badge.stopped').count()).toBe(0);
    await second.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    // …and a later drop is a plain reconnect again.
    const opens = (await liveLog(first)).opened;
    await dropSocket(first);
    await opened(first, opens + 1);
    expect(await first.locator('#conn-badge').isHidden()).toBe(true);
    expect(await badgeText(first)).toBe('reconnecting…');
    await second.close();
  });

  it('reloads a page whose game is not found (4404) once, then says so rather than loop', async () => {
    const page = await watchedPage();
    await signUp(page, base, `minos${tag}`);
    const code = await createGame(page);
    await opened(page);

    await mark(page);
    await dropSocket(page, 'ZZZZ');
    // Loaded again: the game page, whose own socket opens as usual.
    await page.waitForFunction(
      () =>
        !(window as unknown as { __same?: boolean }).__same &&
        (window as unknown as { __live?: LiveLog }).__live?.opened === 1,
      null,
      { timeout: 15_000 },
    );
    expect(page.url()).toBe(`${base}/games/${code}`);
    expect(await page.locator('#conn-badge').isHidden()).toBe(true);

    // Again within 30 s: no second reload, a lasting message.
    await mark(page);
    await dropSocket(page, 'ZZZZ');
    await page.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    expect(await badgeText(page)).toContain('the game could not be found');
    expect((await liveLog(page)).closes).toContain(4404);
    expect(await sameDocument(page)).toBe(true);
  });

  it('says a session that ended again within a minute (4401) has ended, with Log in; the login then says it once', async () => {
    const page = await watchedPage();
    const me = `icarus${tag}`;
    await signUp(page, base, me);
    const code = await createGame(page);
    await opened(page);
    // The page went to the login for an ended session a moment ago (public/js/minotaur.js).
    await page.evaluate(() => sessionStorage.setItem('minotaur_logged_out_at', String(Date.now())));
    await page.context().clearCookies();
    await mark(page);
    await dropSocket(page);
    await page.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    expect(await badgeText(page)).toContain('Your session has ended');
    expect((await liveLog(page)).closes).toContain(4401);
    expect(await sameDocument(page)).toBe(true);
    const login = page.locator('#conn-badge').getByRole('link', { name: 'Log in' });
    expect(await login.getAttribute('href')).toBe(`/login?next=%2Fgames%2F${code}&ended=1`);
    await Promise.all([page.waitForURL(/\/login\?/), login.click()]);
    expect(await page.locator('.flash').textContent()).toContain('Your session has ended');
    // Not also "You're invited to game …": the note above already says where the login leads.
    expect(await page.locator('.invite').count()).toBe(0);
    // (An invitation is shown where no session ended.)
    await page.goto(`${base}/login?next=%2Fgames%2F${code}`);
    expect(await page.locator('.invite').textContent()).toContain(`invited to game ${code}`);
    await page.fill('input[name="username"]', me);
    await page.fill('input[name="password"]', 'correct horse battery');
    await Promise.all([
      page.waitForURL(`${base}/games/${code}`),
      page.click('form[action^="/login"] button[type="submit"]'),
    ]);
    await opened(page);
  });

  it('says a page whose frame was too big (1009) stopped updating, with Reload', async () => {
    const page = await watchedPage();
    await signUp(page, base, `daedalus${tag}`);
    await createGame(page);
    await opened(page);
    await page.evaluate((size) => {
      const root = document.querySelector('[data-live]') as unknown as {
        _htmx: { ws: { connection: { socket: WebSocket } } };
      };
      root._htmx.ws.connection.socket.send('x'.repeat(size));
    }, MAX_FRAME_BYTES + 1);
    await page.locator('#conn-badge.stopped').waitFor({ state: 'visible' });
    expect((await liveLog(page)).closes).toContain(1009);
    expect(await badgeText(page)).toContain('This page stopped updating');
    expect(await page.locator('#conn-badge').getByRole('button', { name: 'Reload' }).count()).toBe(
      1,
    );
  });

  it('loads a page restored from the back/forward cache again', async () => {
    const page = await watchedPage();
    await signUp(page, base, `ariadne${tag}`);
    await createGame(page);
    await opened(page);
    await mark(page);
    // What Chromium fires on a page it restores (the socket hx-ws closed on leaving stays shut).
    await Promise.all([
      page.waitForEvent('load'),
      page.evaluate(() =>
        window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })),
      ),
    ]);
    expect(await sameDocument(page)).toBe(false);
    await opened(page);
  });
});

describe('a server that takes the socket and closes it at once', () => {
  it('is tried less and less often, and a socket that lived a while starts over', async () => {
    const page = await watchedPage();
    // The delay of each reconnect the page schedules.
    await recordReconnects(page.context());
    await signUp(page, base, `talos${tag}`);
    await createGame(page);
    await opened(page);
    const delays = async () => (await scheduledReconnects(page)).map((r) => r.delay);

    // The page says it saw far more of the game than the server holds: each socket is accepted,
    // waited on, and closed with 1012 (catching up) without a message.
    await page.evaluate(() => {
      const root = document.querySelector('[data-live]') as unknown as {
        _htmx: { ws: { connection: { url: string; socket: WebSocket } } };
      };
      const url = new URL(root._htmx.ws.connection.url);
      url.searchParams.set('seen', '999999999999999.999');
      root._htmx.ws.connection.url = url.toString();
      root._htmx.ws.connection.socket.close();
    });
    await page.waitForFunction(
      () =>
        (window as unknown as { __live: LiveLog }).__live.closes.filter((c) => c === 1012).length >=
        3,
      null,
      { timeout: 30_000 },
    );
    await page.waitForFunction(
      () => (window as unknown as { __reconnects: unknown[] }).__reconnects.length >= 4,
    );
    const backedOff = await delays();
    // 0.5 s, 1 s, then the page's cap (1.7 s), each ±15 %: not 0.5 s forever. (The socket the
    // page dropped had lived only a moment too: it counts as the first.)
    const seen = JSON.stringify(backedOff);
    expect(backedOff[0]!, seen).toBeLessThan(600);
    expect(backedOff[1]!, seen).toBeGreaterThan(800);
    expect(backedOff[2]!, seen).toBeGreaterThan(1400);
    expect(backedOff[3]!, seen).toBeGreaterThan(1400);
    expect(Math.max(...backedOff), seen).toBeLessThanOrEqual(1955);

    // Once the server serves the socket again and it lives a while, a drop is retried at once.
    await page.evaluate(() => {
      const root = document.querySelector('[data-live]') as unknown as {
        _htmx: { ws: { connection: { url: string } } };
      };
      const url = new URL(root._htmx.ws.connection.url);
      url.searchParams.delete('seen');
      root._htmx.ws.connection.url = url.toString();
    });
    // A socket that heard the game, and then lived past the page's 5 s.
    await page.waitForFunction(
      () => {
        const w = window as unknown as { __live: LiveLog; __since?: number };
        if (w.__live.messages === 0) return false;
        w.__since ??= Date.now();
        return Date.now() - w.__since > 5500;
      },
      null,
      { timeout: 30_000, polling: 250 },
    );
    const before = (await delays()).length;
    await dropSocket(page);
    await page.waitForFunction(
      (n) => (window as unknown as { __reconnects: unknown[] }).__reconnects.length > n,
      before,
    );
    expect((await delays())[before]!).toBeLessThan(600);
  });
});

describe('a game followed to its end', () => {
  it('announces the start and each round, and a closed result box stays closed', async () => {
    const host = new Player(base, `theseus${tag}`);
    await host.signup();
    const code = await host.createGame();
    const page = await watchedPage();
    await signUp(page, base, `phaedra${tag}`);
    await page.goto(`${base}/games/${code}`);
    await Promise.all([
      page.waitForURL(`${base}/games/${code}`),
      page.click('#game-actions button:has-text("Join this game")'),
    ]);
    await opened(page);
    const conn = host.connect(code);
    await conn.opened;
    expect((await host.start(code)).status).toBe(303);

    const announced = page.locator('#game-announce');
    await page.waitForFunction(
      () =>
        document.getElementById('game-announce')?.textContent ===
        'The game has started. Round 1 begins.',
    );
    // Both defend: the round closes at once, and the next one is announced (not who raised a
    // shield: that is every round's news).
    await page.keyboard.press('s');
    await page.locator('#game-actions .submitted').waitFor();
    expect((await conn.act(1, 'defend')).type).toBe('ack');
    await page.locator('#game-status .countdown[data-round="2"]').waitFor();
    expect(await announced.textContent()).toMatch(/(^| )Round 2 begins\.$/);
    expect(await announced.textContent()).not.toContain('raised a shield');
    // A shield raised two rounds running is tired: a phone, which has no room for the note under
    // the button, says so on the button; a wider window says it in the note.
    const defend = page.locator('#game-actions button.defend.tired');
    expect(await defend.innerText()).not.toContain('tired');
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await defend.innerText()).toContain('Defend (tired)');
    await page.setViewportSize({ width: 1200, height: 860 });

    // This page closed a fallen hero's box before: the end of the game is another box, shown.
    await page.evaluate(
      (code) => sessionStorage.setItem(`minotaur:dismissed:${code}`, 'fallen'),
      code,
    );
    await defendToTheEnd(page, conn, 2);
    const box = page.locator('#game-overlay .overlay');
    await box.waitFor({ state: 'visible' });
    expect(await box.getAttribute('data-overlay')).toBe('over');
    // The box takes the focus to its title (the player played by keyboard, so the focus was on
    // the game's controls): the box is read out, and the announcement does not say the end twice.
    await page.waitForFunction(() => document.activeElement?.id === 'overlay-title');
    expect(await announced.textContent()).not.toMatch(/Victory!|Game over/);

    // Closed: the focus goes to the button that opens it again.
    await page.click('.overlay [data-dismiss]');
    await box.waitFor({ state: 'hidden' });
    expect(
      await page.evaluate(() => document.activeElement?.hasAttribute('data-show-result')),
    ).toBe(true);

    // The socket reconnects: the new connection sends the box whole again, and it stays closed.
    await page.evaluate(() => {
      const w = window as unknown as { __boxClass: number };
      w.__boxClass = 0;
      new MutationObserver(() => w.__boxClass++).observe(document.getElementById('game-overlay')!, {
        attributes: true,
        attributeFilter: ['class'],
        subtree: true,
        childList: true,
      });
    });
    await mark(page);
    const before = (await liveLog(page)).opened;
    await dropSocket(page);
    await page.waitForFunction(
      (before) => {
        const w = window as unknown as { __live: LiveLog; __boxClass: number };
        return w.__live.opened > before && w.__live.messages > 0 && w.__boxClass > 0;
      },
      before,
      { timeout: 15_000 },
    );
    expect(await sameDocument(page)).toBe(true);
    expect(await box.isHidden()).toBe(true);

    // And after a reload.
    await page.reload();
    await page.locator('#game-overlay .overlay.dismissed').waitFor({ state: 'attached' });
    expect(await page.locator('#game-overlay .overlay').isHidden()).toBe(true);
    // Opened again, it shows until closed again (and a reload keeps it open).
    await page.click('[data-show-result]');
    await page.locator('#game-overlay .overlay').waitFor({ state: 'visible' });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('overlay-title');
    await page.reload();
    await page.locator('#game-overlay .overlay').waitFor({ state: 'visible' });
    conn.close();
  });
});

describe('the lobby', () => {
  it('keeps a keyboard player on the row they were on while rows come and go', async () => {
    const page = await watchedPage();
    await signUp(page, base, `glaucus${tag}`);
    await opened(page);
    const a = new Player(base, `androgeos${tag}`);
    const b = new Player(base, `catreus${tag}`);
    const c = new Player(base, `deucalion${tag}`);
    await Promise.all([a.signup(), b.signup(), c.signup()]);
    const first = await a.createGame();
    await page.locator(`#lobby-${first} button`).waitFor();
    await page.focus(`#lobby-${first} button`);
    const focused = () =>
      page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? null);

    // A newer game comes in above it.
    const second = await b.createGame();
    await page.locator(`#lobby-${second}`).waitFor();
    expect(await focused()).toBe(`Join game ${first}`);

    // Its game starts: the row moves to the games being played, and the focus goes with it.
    expect((await c.join(first)).status).toBe(303);
    expect((await a.start(first)).status).toBe(303);
    await page.locator(`#being-played ~ .game-list #lobby-${first}`).waitFor();
    await page.waitForFunction(
      (first) => document.activeElement?.getAttribute('aria-label') === `Watch game ${first}`,
      first,
    );
    // In a narrow window, a game being played still says who plays; an open one leaves out its
    // host.
    await page.setViewportSize({ width: 800, height: 860 });
    expect(await page.locator(`#lobby-${first} .heroes`).isVisible()).toBe(true);
    expect(await page.locator(`#lobby-${first} .heroes`).textContent()).toContain(a.username);
    expect(await page.locator(`#lobby-${second} .host`).isVisible()).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth > innerWidth)).toBe(
      false,
    );
  });
});

describe('One moment', () => {
  it('tries a game page the server cannot show yet again by itself, and offers to now', async () => {
    const page = await watchedPage();
    await signUp(page, base, `europa${tag}`);
    const code = await createGame(page);
    await opened(page);
    // A page that saw far more of the game than the server holds is told to wait.
    // (The cookie the page itself keeps: src/sessions/seen.ts.)
    await page.evaluate(
      (code) =>
        (document.cookie = `minotaur_seen_${code}=999999999999999.999; path=/games/${code}`),
      code,
    );
    // First the page as it stands (its own retries put off: tries kept from a visit just now).
    const path = `/games/${code}`;
    const putOff = (path: string) =>
      sessionStorage.setItem(`minotaur:retries:${path}`, JSON.stringify({ n: 9, at: Date.now() }));
    await page.evaluate(putOff, path);
    const response = await page.goto(`${base}${path}`);
    expect(response?.status()).toBe(503);
    expect(await page.locator('h1').textContent()).toBe('One moment');
    expect(await page.getByRole('link', { name: 'Try again' }).count()).toBe(1);
    expect(await axeViolations(page)).toEqual([]);
    expect(await page.locator('[data-retry-after]').textContent()).toBe(
      'Trying again in 20 seconds…',
    );
    // Try again asks at once (and here is answered the same).
    let loads = 0;
    page.on('load', () => loads++);
    await Promise.all([
      page.waitForEvent('load'),
      page.getByRole('link', { name: 'Try again' }).click(),
    ]);
    expect(await page.locator('h1').textContent()).toBe('One moment');
    // Left alone, it tries again by itself, as soon as the server said (Retry-After: 1 s)…
    await page.evaluate((path) => sessionStorage.removeItem(`minotaur:retries:${path}`), path);
    await page.reload();
    const reloadedBy = loads;
    await vi.waitFor(() => expect(loads).toBeGreaterThan(reloadedBy), { timeout: 10_000 });
    // …and once the server can show the game, one of those tries does (1, 2, 4, 8 s apart).
    await page.context().clearCookies({ name: `minotaur_seen_${code}` });
    await page.locator('#game').waitFor({ timeout: 30_000 });
    expect(page.url()).toBe(`${base}/games/${code}`);
  });
});
