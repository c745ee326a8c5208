// Two people in headless Chromium: sign up through the form, open a game in the lobby, see it
// appear in the other's lobby live, join, start, play by clicking until the game is over, see
// the winner and Game Over screens, and find the result in their record and the leaderboard. A
// third finds the game under "Being played" in the lobby and watches it live to its end.
// Then the node is replaced under an open game page: the "reconnecting…" badge shows, htmx
// reconnects to the new node, and the page shows the same round.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BrowserSession, nextTurn, SHOTS, signUp } from '../support/browser.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player } from '../support/player.js';
import { adminGame, TEST_ADMIN_TOKEN } from '../support/admin.js';
import type { Direction, GameState, Hex } from '../../src/game/types.js';

const nodes: NodeProcess[] = [];
let session: BrowserSession | undefined;
const tag = String(Date.now() % 100000);

const VEC: Record<Direction, Hex> = {
  e: { q: 1, r: 0 },
  ne: { q: 1, r: -1 },
  nw: { q: 0, r: -1 },
  w: { q: -1, r: 0 },
  sw: { q: -1, r: 1 },
  se: { q: 0, r: 1 },
};
const DIRS = Object.keys(VEC) as Direction[];
const add = (a: Hex, d: Direction): Hex => ({ q: a.q + VEC[d].q, r: a.r + VEC[d].r });
const key = (h: Hex) => `${h.q},${h.r}`;
const dist = (a: Hex, b: Hex) =>
  (Math.abs(a.q - b.q) + Math.abs(a.q + a.r - b.q - b.r) + Math.abs(a.r - b.r)) / 2;

/**
 * A simple, deterministic strategy: hit the other hero when adjacent, else walk toward them, else
 * defend.
 */
function choose(
  g: GameState,
  meId: string,
): { kind: 'move' | 'attack' | 'defend'; dir?: Direction } {
  const me = g.players.find((p) => p.id === meId);
  const foe = g.players.find((p) => p.id !== meId && p.alive);
  if (!me || !foe) return { kind: 'defend' };
  for (const d of DIRS) if (key(add(me.pos, d)) === key(foe.pos)) return { kind: 'attack', dir: d };
  const blocked = new Set([...g.walls.map(key), key(g.minotaur.pos), key(foe.pos)]);
  const free = (h: Hex) => dist(h, { q: 0, r: 0 }) <= g.radius && !blocked.has(key(h));
  // Breadth-first search for the first step of a shortest path to a tile next to the foe.
  const first = new Map<string, Direction | null>([[key(me.pos), null]]);
  const queue: Hex[] = [me.pos];
  for (let i = 0; i < queue.length; i++) {
    const cur = queue[i]!;
    if (dist(cur, foe.pos) === 1 && first.get(key(cur)))
      return { kind: 'move', dir: first.get(key(cur))! };
    for (const d of DIRS) {
      const n = add(cur, d);
      if (first.has(key(n)) || !free(n)) continue;
      first.set(key(n), first.get(key(cur)) ?? d);
      queue.push(n);
    }
  }
  return { kind: 'defend' };
}

/** What the board shows, independent of how htmx decorated the markup. */
function boardFacts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    document
      .querySelectorAll('#game-board-tiles polygon.wall')
      .forEach((p) => out.push(`wall ${p.getAttribute('points')}`));
    document
      .querySelectorAll('#game-board g.token, #game-board g.minotaur')
      .forEach((g) =>
        out.push(
          `${g.getAttribute('class')} ${g.getAttribute('transform')} ${g.querySelector('title')?.textContent}`,
        ),
      );
    return out;
  });
}

beforeAll(async () => {
  session = await BrowserSession.launch();
});

afterAll(async () => {
  await session?.close();
  await Promise.all(nodes.map((n) => n.kill()));
});

describe('two players in a browser', () => {
  it('sign up, create, see it live in the lobby, join, start, play to the end, and see the result', async () => {
    const node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'play.db'),
      // Chromium offers permessage-deflate: this node (LIVE_COMPRESSION's default, large) sends
      // it each message of 1 KiB and more compressed on its own (a first render, big rounds).
      env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '2' },
    });
    nodes.push(node);
    await node.ready();
    const base = node.url;
    const pa = await session!.newPage();
    const pb = await session!.newPage();
    // What the server answered to A's WebSocket handshakes (through Chromium's DevTools protocol).
    const extensions: string[] = [];
    const cdp = await pa.context().newCDPSession(pa);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      const headers = e.response.headers as Record<string, string>;
      const ext = Object.entries(headers).find(
        ([k]) => k.toLowerCase() === 'sec-websocket-extensions',
      );
      extensions.push(ext?.[1] ?? '');
    });
    // A's live sockets: their addresses, and the fixed text of templates each message carried.
    const sockets: string[] = [];
    const fixedText: string[] = [];
    pa.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framereceived', ({ payload }) => {
        if (typeof payload !== 'string' || !payload.startsWith('{"type":"render"')) return;
        const m = JSON.parse(payload) as { t?: object; g?: { t?: object } };
        fixedText.push(...Object.keys(m.t ?? {}), ...Object.keys(m.g?.t ?? {}));
      });
    });
    const nameA = `ariadne${tag}`;
    const nameB = `theseus${tag}`;
    await signUp(pa, base, nameA);
    await signUp(pb, base, nameB);
    await expect(pa.locator('.whoami').textContent()).resolves.toContain(nameA);
    await expect(pb.locator('.whoami').textContent()).resolves.toContain(nameB);

    // B stays on the lobby; A opens a game.
    await pb.evaluate(
      () => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true),
    );
    await expect(pb.locator('#open-games').textContent()).resolves.toContain('No open games');
    const create = pa.locator('form[action="/lobby/games"] button[type="submit"]');
    expect(await create.textContent()).toMatch(/New game/);
    await Promise.all([pa.waitForURL(/\/games\/[A-Z]{4}$/), create.click()]);
    const code = pa.url().slice(-4);
    expect(await pa.locator('.code.big').textContent()).toBe(code);

    // The game appears in B's lobby list without a reload.
    const row = pb.locator(`#open-games a.code[href="/games/${code}"]`);
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await pb.locator('#open-games').textContent()).toContain(`hosted by ${nameA}`);
    expect(
      await pb.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
    ).toBe(true);

    // B joins from the row that arrived live (its form holds B's own CSRF token, put into the
    // rendering every lobby page of the node shares); A's page shows the start button live.
    await Promise.all([
      pb.waitForURL(`${base}/games/${code}`),
      pb.click(`#open-games button[aria-label="Join game ${code}"]`),
    ]);
    await pb.locator('#game-players').getByText(nameB).waitFor();
    // A name cut short in the Heroes panel (an ellipsis) shows in full on hover.
    expect(await pb.locator('#game-players li.me .pname .n').getAttribute('title')).toBe(nameB);
    const start = pa.locator('#game-actions button:has-text("Start the game")');
    await start.waitFor({ state: 'visible', timeout: 10_000 });
    await Promise.all([
      pa.waitForResponse(
        (r) => r.request().method() === 'GET' && r.url() === `${base}/games/${code}`,
      ),
      start.click(),
    ]);
    await pa.waitForLoadState('load');
    await pa.locator('#game-status .countdown[data-round]').waitFor();
    await pa.evaluate(
      () => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true),
    );

    // A third player finds the game under "Being played" in the lobby and watches it live.
    const pc = await session!.newPage();
    await signUp(pc, base, `pasiphae${tag}`);
    const watch = pc.locator(`#open-games a.button[href="/games/${code}"]`);
    await watch.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await watch.textContent()).toBe('Watch');
    expect(await pc.locator('#open-games').textContent()).toContain(`${nameA}, ${nameB}`);
    await Promise.all([pc.waitForURL(`${base}/games/${code}`), watch.click()]);
    await pc.getByText('You are watching this game.').waitFor();
    const countdown = '#game-status .countdown[data-round]';
    const watchedFrom = Number(await pc.locator(countdown).getAttribute('data-round'));
    await pc.waitForFunction(
      ([sel, from]) => Number(document.querySelector(sel)?.getAttribute('data-round')) > from,
      [countdown, watchedFrom] as const,
      { timeout: 15_000 },
    );

    const rec = await adminGame(base, code);
    const idA = rec.state.players.find((p) => p.name === nameA)!.id;
    const idB = rec.state.players.find((p) => p.name === nameB)!.id;

    // Both play by clicking until the game is over.
    let midShot = false;
    const clicks = { [idA]: 0, [idB]: 0 };
    async function play(page: Page, meId: string): Promise<void> {
      let acted = 0;
      const deadline = Date.now() + 170_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error('game did not finish in time');
        // Wait until the game is over, or there is a round this page has not acted in yet.
        const round = await nextTurn(page, acted, 30_000);
        if (round === 'over') return;
        const g = (await adminGame(base, code)).state;
        if (g.status !== 'playing' || g.round !== round) continue; // the round moved on meanwhile
        if (!midShot && round >= 2 && meId === idA) {
          midShot = true;
          await page.screenshot({
            path: join(SHOTS, 'browser-play-mid-game.png'),
            animations: 'disabled',
          });
        }
        const choice = choose(g, meId);
        const sel =
          choice.kind === 'defend'
            ? '#game-actions button.defend'
            : choice.kind === 'move'
              ? `#game-actions .compass:not(.attack) button.dir-${choice.dir}:not([disabled])`
              : `#game-actions .compass.attack button.dir-${choice.dir}:not([disabled])`;
        try {
          await page.click(sel, { timeout: 1500 });
          clicks[meId]!++;
        } catch {
          /* the round ended while deciding; the loop catches up */
        }
        acted = round;
      }
    }
    await Promise.all([play(pa, idA), play(pb, idB)]);
    // The watcher saw it to the end, live.
    await pc.locator('#game-status .phase.over').waitFor({ timeout: 30_000 });

    const end = await adminGame(base, code);
    expect(end.state.status).toBe('finished');
    const nameOf = (id: string | null) =>
      end.state.players.find((p) => p.id === id)?.name ?? 'nobody (draw)';
    console.log(
      `browser game ${code}: ${end.state.round} rounds, ${clicks[idA]}+${clicks[idB]} clicks, winner ${nameOf(end.state.winner)}`,
    );
    expect(clicks[idA]! + clicks[idB]!).toBeGreaterThan(0);
    // Clicked actions reached the server: something other than the Minotaur happened at some point.
    const winner = end.state.winner;
    const [winPage, losePage] =
      winner === idA ? [pa, pb] : winner === idB ? [pb, pa] : [null, null];
    if (winPage) {
      await winPage.locator('.overlay.win').waitFor({ state: 'visible' });
      expect(await winPage.locator('.overlay.win h2').textContent()).toBe('Victory!');
      await losePage.locator('.overlay.lose').waitFor({ state: 'visible' });
      expect(await losePage.locator('.overlay.lose h2').textContent()).toBe('Game Over');
      expect(await losePage.locator('.overlay.lose').textContent()).toContain(
        `${winner === idA ? nameA : nameB} won the game.`,
      );
      expect(await winPage.locator('.overlay.lose').count()).toBe(0);
      expect(await losePage.locator('.overlay.win').count()).toBe(0);
      await winPage.screenshot({
        path: join(SHOTS, 'browser-play-winner.png'),
        animations: 'disabled',
      });
      await losePage.screenshot({
        path: join(SHOTS, 'browser-play-game-over.png'),
        animations: 'disabled',
      });
    } else {
      // A draw: the Minotaur (or a double knock-out) left nobody standing; both see Game Over.
      for (const p of [pa, pb]) {
        await p.locator('.overlay.lose').waitFor({ state: 'visible' });
        expect(await p.locator('.overlay.lose h2').textContent()).toBe('Game Over');
        expect(await p.locator('.overlay.win').count()).toBe(0);
      }
      await pa.screenshot({
        path: join(SHOTS, 'browser-play-game-over.png'),
        animations: 'disabled',
      });
      await pb.screenshot({ path: join(SHOTS, 'browser-play-draw-b.png'), animations: 'disabled' });
    }
    // A's live sockets (lobby and game) agreed on compression, and the game was played through
    // them: Chromium inflated every compressed message (a bad frame fails the socket with 1002).
    expect(extensions.length).toBeGreaterThanOrEqual(2);
    // The pages held the release's template table (a script they loaded) and said so: no
    // message carried a template's fixed text.
    const version = await pa.evaluate(
      () => (window as unknown as { MinotaurTemplates?: { v: string } }).MinotaurTemplates?.v,
    );
    expect(version).toMatch(/^[0-9a-f]{12}$/);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    // ...and asked for the tree messages their reader understands.
    const format = await pa.evaluate(
      () =>
        (window as unknown as { MinotaurLive: { LivePage: { FORMAT: string } } }).MinotaurLive
          .LivePage.FORMAT,
    );
    for (const url of sockets) {
      expect(url).toContain(`templates=${version!}`);
      expect(new URL(url).searchParams.get('render')).toBe(format);
    }
    expect(fixedText).toEqual([]);
    for (const e of extensions) expect(e).toMatch(/^permessage-deflate/);
    // The game pages were updated live the whole time (no navigation since start).
    expect(
      await pa.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
    ).toBe(true);
    for (const p of [pa, pb]) {
      const back = p.locator('.overlay a:has-text("Back to the lobby")');
      expect(await back.getAttribute('href')).toBe('/lobby');
    }

    // Back to the lobby: the record counts the game; the leaderboard lists both heroes.
    await Promise.all([
      pa.waitForURL(`${base}/lobby`),
      pa.click('.overlay a:has-text("Back to the lobby")'),
    ]);
    const recordA = (await pa.locator('.record').textContent())!.replace(/\s+/g, ' ');
    expect(recordA).toContain(`${winner === idA ? 1 : 0} won of 1 played`);
    await pb.click('.overlay a:has-text("Back to the lobby")');
    await pb.waitForURL(`${base}/lobby`);
    expect((await pb.locator('.record').textContent())!.replace(/\s+/g, ' ')).toContain(
      `${winner === idB ? 1 : 0} won of 1 played`,
    );
    await pb.goto(`${base}/leaderboard`);
    const table = pb.locator('table.board-table tbody');
    const rows: string[] = [];
    for (const tr of await table.locator('tr').all())
      rows.push((await tr.locator('td').allTextContents()).map((t) => t.trim()).join(' ') + ' ');
    const rowOf = (name: string) => rows.find((r) => r.includes(` ${name} `));
    expect(rowOf(nameA)).toMatch(new RegExp(`${nameA} ${winner === idA ? 1 : 0} 1 `));
    expect(rowOf(nameB)).toMatch(new RegExp(`${nameB} ${winner === idB ? 1 : 0} 1 `));
    expect((await pb.locator('.record').textContent())!.replace(/\s+/g, ' ')).toContain(
      'of 1 played',
    );
  });
});

describe('the page across a node restart', () => {
  it("a page whose reader is another release's cached script is sent whole partials, and stays live", async () => {
    const node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'stale-reader.db'),
    });
    nodes.push(node);
    await node.ready();
    const base = node.url;
    const pa = await session!.newPage();
    const pb = await session!.newPage();
    // A's reader is a script of a release whose tree messages are named otherwise (as a browser
    // that kept an older release's script would run it).
    await pa.route('**/static/js/live-render.js*', async (route) => {
      const res = await route.fetch();
      const body = (await res.text()).replace(
        /LivePage\.FORMAT = '[^']*'/,
        "LivePage.FORMAT = 'patch-older'",
      );
      expect(body).toContain("'patch-older'");
      await route.fulfill({ response: res, body });
    });
    const sockets: string[] = [];
    const frames: string[] = [];
    pa.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framereceived', ({ payload }) => {
        if (typeof payload === 'string') frames.push(payload);
      });
    });
    const nameA = `minos${tag}`;
    const nameB = `pasiphae${tag}`;
    await signUp(pa, base, nameA);
    await signUp(pb, base, nameB);
    const create = pa.locator('form[action="/lobby/games"] button[type="submit"]');
    await Promise.all([pa.waitForURL(/\/games\/[A-Z]{4}$/), create.click()]);
    const code = pa.url().slice(-4);
    await waitFor(
      () => sockets.some((u) => u.includes(`/games/${code}/live`)),
      10_000,
      "A's game socket",
    );

    // B joins; A's page shows B and the start button without a reload.
    await pb.goto(`${base}/games/${code}`);
    await Promise.all([
      pb.waitForURL(`${base}/games/${code}`),
      pb.click('#game-actions button:has-text("Join this game")'),
    ]);
    await pa.locator('#game-players').getByText(nameB).waitFor({ timeout: 10_000 });
    await pa
      .locator('#game-actions button:has-text("Start the game")')
      .waitFor({ state: 'visible', timeout: 10_000 });

    const game = sockets.filter((u) => u.includes(`/games/${code}/live`));
    for (const url of game) expect(new URL(url).searchParams.get('render')).toBe('patch-older');
    // Whole partials, never a tree message its reader would misread.
    expect(frames.some((f) => f.includes('<hx-partial'))).toBe(true);
    expect(frames.filter((f) => f.startsWith('{"type":"render"'))).toEqual([]);
  });

  it('shows "reconnecting…" while the node is down, reconnects, shows the same round, and sends an action clicked meanwhile once', async () => {
    const port = await freePort();
    const db = join(tempDir(), 'restart.db');
    const env = { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '60', DRAIN_WINDOW_MS: '200' };
    let node = startNode({ port, databasePath: db, env });
    nodes.push(node);
    await node.ready();
    const base = node.url;
    // Accounts and the game over HTTP; the browser borrows A's session cookie.
    const a = new Player(base, `pasiphae${tag}`);
    const b = new Player(base, `minos${tag}`);
    await a.signup();
    await b.signup();
    const code = await a.createGame();
    await b.join(code);
    await a.start(code);
    const page = await session!.newPage();
    await page
      .context()
      .addCookies(a.cookies.map(({ name, value }) => ({ name, value, url: base })));
    const wsLog: string[] = [];
    const t0 = Date.now();
    page.on('console', (m) => wsLog.push(`${Date.now() - t0} console ${m.text()}`));
    page.on('framenavigated', (f) => wsLog.push(`${Date.now() - t0} navigated ${f.url()}`));
    page.on('requestfailed', (r) =>
      wsLog.push(
        `${Date.now() - t0} request failed ${r.method()} ${r.url()} ${r.failure()?.errorText}`,
      ),
    );
    page.on('request', (r) => wsLog.push(`${Date.now() - t0} request ${r.method()} ${r.url()}`));
    await page.addInitScript(() => {
      const t = Date.now();
      document.addEventListener('visibilitychange', () =>
        ((window as unknown as { __log?: string[] }).__log ??= []).push(
          `${Date.now() - t} visibility ${document.visibilityState}`,
        ),
      );
      for (const ev of [
        'htmx:ws:close',
        'htmx:ws:after:connection',
        'htmx:ws:error',
        'htmx:ws:before:connection',
      ]) {
        document.addEventListener(ev, (e) =>
          ((window as unknown as { __log?: string[] }).__log ??= []).push(
            `${Date.now() - t} ${ev} ${(e as CustomEvent).detail?.code ?? ''} ${(e as CustomEvent).detail?.reason ?? ''} attempt=${(e as CustomEvent).detail?.connection?.attempt}`,
          ),
        );
      }
    });
    (globalThis as { __wsLog?: string[] }).__wsLog = wsLog;
    await page.goto(`${base}/games/${code}`);
    await page.locator('#game-actions button.defend').waitFor();
    // The socket is up: the countdown is synced and the badge hidden.
    await page.waitForFunction(() =>
      ((window as unknown as { __log?: string[] }).__log ?? []).some((l) =>
        l.includes('htmx:ws:after:connection'),
      ),
    );
    await page.waitForFunction(
      () =>
        !document.documentElement.classList.contains('offline') &&
        (document.getElementById('conn-badge') as HTMLElement).hidden,
    );
    const roundBefore = Number(
      await page.locator('#game-status .countdown').getAttribute('data-round'),
    );
    expect(roundBefore).toBe(1);
    const boardBefore = await boardFacts(page);
    await page.evaluate(
      () => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true),
    );

    node.signal('SIGTERM');
    await page.locator('#conn-badge').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#conn-badge').textContent()).toContain('reconnecting');
    await waitFor(() => !node.alive, 10_000, 'old node to exit');
    expect(node.exitCode).toBe(0);
    await page.screenshot({
      path: join(SHOTS, 'browser-reconnecting.png'),
      animations: 'disabled',
    });
    // Clicked while offline: kept by the page and sent after reconnecting.
    await page.click('#game-actions button.defend');

    node = startNode({ port, databasePath: db, env });
    nodes.push(node);
    await node.ready();
    await page
      .locator('#conn-badge')
      .waitFor({ state: 'hidden', timeout: 20_000 })
      .catch(async (e: unknown) => {
        const inPage = await page.evaluate(() => [
          ...((window as unknown as { __log?: string[] }).__log ?? []),
          `now visibility=${document.visibilityState}`,
        ]);
        console.log([...wsLog, ...inPage, '--- new node:', ...node.raw.slice(-15)].join('\n'));
        throw e;
      });
    if (process.env.DEBUG_BROWSER)
      console.log(await page.evaluate(() => (window as unknown as { __log?: string[] }).__log));
    expect(
      await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
    ).toBe(true);
    const rec = await adminGame(base, code);
    expect(rec.state.round).toBe(roundBefore);
    expect(Number(await page.locator('#game-status .countdown').getAttribute('data-round'))).toBe(
      roundBefore,
    );
    const idA = rec.state.players.find((p) => p.name === a.username)!.id;
    // The action clicked while offline arrives once.
    await waitFor(
      async () => (await adminGame(base, code)).state.submitted[idA]?.kind === 'defend',
      10_000,
      'offline click to be submitted',
    );
    await page.locator('#game-actions .submitted').waitFor();
    const after = await adminGame(base, code);
    expect(Object.keys(after.state.submitted)).toEqual([idA]);
    // Same round, same board: walls, characters (place, health) and the Minotaur.
    expect(await boardFacts(page)).toEqual(boardBefore);
  });
});

describe('a round the server is late to close', () => {
  it('says the page is waiting for the server once the countdown is well past 0, and clears with the next round', async () => {
    const node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'overdue.db'),
      env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '4' },
    });
    nodes.push(node);
    await node.ready();
    const a = new Player(node.url, `ariadne${tag}`);
    const b = new Player(node.url, `daedalus${tag}`);
    await a.signup();
    await b.signup();
    const code = await a.createGame();
    await b.join(code);
    const page = await session!.newPage();
    await page
      .context()
      .addCookies(a.cookies.map(({ name, value }) => ({ name, value, url: node.url })));
    await a.start(code);
    await page.goto(`${node.url}/games/${code}`);
    await page.locator('#game-actions button.defend').waitFor();
    // A round on time shows no note.
    expect(await page.locator('.overdue-note').count()).toBe(0);

    // The node stands still (as a paused container or a long database outage would leave it):
    // the countdown reaches 0, and a moment later the page says what it is waiting for.
    node.signal('SIGSTOP');
    let round: number;
    try {
      const note = page.locator('#game-status .overdue-note');
      await note.waitFor({ state: 'visible', timeout: 15_000 });
      // (Read now: the round may have moved on once between the page's load and the freeze.)
      round = Number(await page.locator('#game-status .countdown').getAttribute('data-round'));
      expect(await note.textContent()).toContain(`Round ${round} is taking longer than usual`);
      expect(await page.locator('#game-status .countdown').getAttribute('class')).toContain(
        'overdue',
      );
      expect(await page.locator('#game-status .countdown.urgent').count()).toBe(0);
      await page.screenshot({ path: join(SHOTS, 'browser-overdue.png'), animations: 'disabled' });
    } finally {
      node.signal('SIGCONT');
    }
    // The node resolves the round: the next one is shown, and the note is gone.
    await page.waitForFunction(
      (r) =>
        Number(document.querySelector('#game-status .countdown')?.getAttribute('data-round')) > r,
      round,
      { timeout: 15_000 },
    );
    expect(await page.locator('.overdue-note').count()).toBe(0);
    expect(await page.locator('#game-status .countdown.overdue').count()).toBe(0);
  });
});
