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
import { ROOT } from './node-process.js';

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
