// Headless Chromium for the browser tests: Debian's chromium driven by playwright-core
// (no browser download), pages in fresh contexts, sign-up through the real form.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import { expect } from 'vitest';
import { ROOT } from './node-process.js';
import type { LiveConnection } from './player.js';

export const SHOTS = join(ROOT, 'test-results');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export class BrowserSession {
  private readonly contexts: BrowserContext[] = [];

  private constructor(readonly browser: Browser) {}

  static async launch(): Promise<BrowserSession> {
    mkdirSync(SHOTS, { recursive: true });
    return new BrowserSession(
      await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS }),
    );
  }

  /**
   * A page in a context of its own (its own cookies: one player each); a desktop window unless told
   * otherwise.
   */
  async newPage(options: BrowserContextOptions = {}): Promise<Page> {
    const ctx = await this.browser.newContext({
      viewport: { width: 1200, height: 860 },
      ...options,
    });
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  async close(): Promise<void> {
    for (const c of this.contexts) await c.close().catch(() => undefined);
    await this.browser.close().catch(() => undefined);
  }
}

/** A phone: 390×844 CSS pixels, touch, mobile viewport rules. */
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

/** Signs up through the form and waits for the lobby. */
export async function signUp(
  page: Page,
  base: string,
  username: string,
  password = 'correct horse battery',
): Promise<void> {
  await page.goto(`${base}/signup`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForURL(`${base}/lobby`),
    page.click('form[action="/signup"] button[type="submit"]'),
  ]);
}

/** Opens a new game from the lobby the page shows; returns its code once the game's page is up. */
export async function createGame(page: Page): Promise<string> {
  await Promise.all([
    page.waitForURL(/\/games\/[A-Z]{4}$/),
    page.click('form[action="/lobby/games"] button[type="submit"]'),
  ]);
  return page.url().slice(-4);
}

/**
 * Waits until the page's game is over, or shows a round after `last` in which the page's hero can
 * still act; resolves 'over' or that round. A page whose hero has fallen waits (up to
 * `overTimeoutMs`) for the game's end and resolves 'over'.
 */
export async function nextTurn(
  page: Page,
  last: number,
  overTimeoutMs: number,
): Promise<number | 'over'> {
  const next = await page.waitForFunction(
    (after) => {
      if (document.querySelector('#game-status .phase.over')) return 'over';
      const canAct = document.querySelector('#game-actions button.defend') !== null;
      if (!canAct && document.querySelector('#game-overlay .overlay.lose')) return 'fallen';
      const cd = document.querySelector('#game-status .countdown[data-round]');
      const round = cd ? Number(cd.getAttribute('data-round')) : 0;
      return round > after && canAct ? round : false;
    },
    last,
    { timeout: 20_000, polling: 50 },
  );
  const v = (await next.jsonValue()) as number | 'over' | 'fallen';
  if (v !== 'fallen') return v;
  await page.waitForSelector('#game-status .phase.over', { timeout: overTimeoutMs });
  return 'over';
}

/**
 * Plays the page's game to its end from `round` on: each round the page's hero (by its S key)
 * and the socket's hero defend, until the page shows the game over. A refusal may only say the
 * round or the hero is past.
 */
export async function defendToTheEnd(
  page: Page,
  conn: LiveConnection,
  round: number,
): Promise<void> {
  for (; ; round++) {
    const over = await Promise.race([
      page
        .locator(`#game-status .countdown[data-round="${round}"]`)
        .waitFor({ timeout: 15_000 })
        .then(() => false),
      page
        .locator('#game-status .phase.over')
        .waitFor({ timeout: 15_000 })
        .then(() => true),
    ]);
    if (over) return;
    if (await page.locator('#game-actions button.defend').count()) await page.keyboard.press('s');
    const reply = await conn.act(round, 'defend');
    if (reply.type !== 'ack')
      expect(String(reply.code)).toMatch(/eliminated|stale-round|not-playing/);
  }
}

/** A reconnect a page scheduled: hx-ws's number for the attempt, and its delay in ms. */
export interface ScheduledReconnect {
  attempt: number;
  delay: number;
}

/**
 * Records, in `target`'s pages from their next load on, the delay each reconnect is scheduled
 * with (read with scheduledReconnects). hx-ws picks it (back-off, cap, jitter), fires
 * htmx:ws:before:connection with the attempt's number, then sets its timer: the last timer set
 * before that event's task ends (window's listener runs first, and the microtask checkpoint comes
 * only after the socket's close handler returned). Chromium's own gaps between attempts would
 * measure a loaded machine, not the page.
 */
export async function recordReconnects(target: Page | BrowserContext): Promise<void> {
  await target.addInitScript(() => {
    const w = window as unknown as { __reconnects: { attempt: number; delay: number }[] };
    w.__reconnects = [];
    let attempt: number | null = null;
    const setTimer = window.setTimeout.bind(window);
    window.setTimeout = ((handler: TimerHandler, delay?: number, ...args: unknown[]) => {
      if (attempt !== null) {
        const last = w.__reconnects.at(-1);
        if (last?.attempt === attempt) last.delay = delay ?? 0;
        else w.__reconnects.push({ attempt, delay: delay ?? 0 });
      }
      return setTimer(handler, delay, ...args);
    }) as typeof window.setTimeout;
    window.addEventListener(
      'htmx:ws:before:connection',
      (e) => {
        const n = (e as CustomEvent<{ connection?: { attempt?: number } } | null>).detail
          ?.connection?.attempt;
        if (typeof n !== 'number' || n < 1) return; // the page's first connection
        attempt = n;
        queueMicrotask(() => (attempt = null));
      },
      true,
    );
  });
}

/** The reconnects `page` scheduled since it loaded (recordReconnects). */
export function scheduledReconnects(page: Page): Promise<ScheduledReconnect[]> {
  return page.evaluate(
    () => (window as unknown as { __reconnects: ScheduledReconnect[] }).__reconnects,
  );
}
