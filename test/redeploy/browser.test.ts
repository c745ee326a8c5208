// Two players in headless Chromium keep playing one game while the node serving them is
// replaced, start-first, behind a load balancer (a small TCP proxy in this test that sends each
// new connection to the backend the test chooses, like HAProxy or Swarm's routing mesh).
//
// n1 serves both pages; they play two rounds (n2 starts during the second, which waits for
// both players, so round 3 gets its full time). n2 is in DNS and the proxy switches new
// connections to it. Mid-round 3, with one action submitted, n1 gets SIGTERM: it hands the game
// to n2 and closes the sockets with 1012; each page shows the "reconnecting…" badge, htmx
// reconnects through the proxy to n2, and the page shows the same board, the same round, the
// same countdown (data-deadline unchanged: the handoff keeps the deadline) and the action
// already submitted. Actions keep working: the other player's click resolves the round on n2.
// Invariants checked: no reset (same round, board, hp), no action lost or applied twice (the
// submitted action is in the round's resolution exactly once, by one owner).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BrowserSession, createGame, signUp } from '../support/browser.js';
import { freePort, ROOT, waitFor, type NodeProcess } from '../support/node-process.js';
import { Rig } from '../support/redeploy-rig.js';
import { effective, resolutions } from '../support/invariants.js';

const SHOTS = join(ROOT, 'test-results');
let session: BrowserSession | undefined;
let rig: Rig | undefined;
let proxy: Server | undefined;
const sockets = new Set<Socket>();

/** The load balancer: each new TCP connection goes to the current backend. */
let backend: NodeProcess | null = null;

async function startProxy(): Promise<number> {
  const port = await freePort();
  proxy = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const target = backend;
    if (!target?.alive) return void client.destroy();
    const upstream = connect({ host: target.opts.host, port: target.opts.port });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy!.listen(port, '127.0.0.1', resolve));
  return port;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  session = await BrowserSession.launch();
});

afterAll(async () => {
  await session?.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await rig?.close();
});

const round = (p: Page) =>
  p.evaluate(() =>
    Number(document.querySelector('#game-status .countdown')?.getAttribute('data-round') ?? 0),
  );
const deadline = (p: Page) =>
  p.evaluate(() =>
    Number(document.querySelector('#game-status .countdown')?.getAttribute('data-deadline') ?? 0),
  );
const badgeShown = (p: Page) =>
  p.evaluate(() => !(document.getElementById('conn-badge') as HTMLElement).hidden);
/** What the board and the players' panel show (independent of htmx's decorations). */
const view = (p: Page) =>
  p.evaluate(() => {
    const out: string[] = [];
    document
      .querySelectorAll('#game-board-tiles polygon.wall')
      .forEach((e) => out.push(`wall ${e.getAttribute('points')}`));
    document
      .querySelectorAll('#game-board g.token, #game-board g.minotaur')
      .forEach((g) =>
        out.push(
          `${g.getAttribute('class')} ${g.getAttribute('transform')} ${g.querySelector('title')?.textContent}`,
        ),
      );
    out.push(
      `players ${document.getElementById('game-players')?.textContent.replace(/\s+/g, ' ').trim()}`,
    );
    return out;
  });

async function waitRound(p: Page, r: number): Promise<void> {
  await p.waitForFunction(
    (n) =>
      Number(document.querySelector('#game-status .countdown')?.getAttribute('data-round') ?? 0) >=
      n,
    r,
    { timeout: 20_000 },
  );
}

/** Records (in the page) every moment the badge became visible. */
async function watchBadge(p: Page): Promise<void> {
  await p.evaluate(() => {
    const w = window as unknown as { __badge: number };
    w.__badge = 0;
    const badge = document.getElementById('conn-badge')!;
    new MutationObserver(() => {
      if (!badge.hidden) w.__badge++;
    }).observe(badge, { attributes: true, attributeFilter: ['hidden'] });
  });
}

describe('browser: two players keep playing while the node serving them is replaced', () => {
  it('shows the reconnecting badge, then the same board, round and countdown; actions keep working', async () => {
    rig = await Rig.create({ roundSeconds: 15 });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    backend = n1;
    const base = `http://127.0.0.1:${await startProxy()}`;
    const tag = String(Date.now() % 100000);
    const a = await session!.newPage();
    const b = await session!.newPage();
    const socketsOfA: string[] = [];
    a.on('websocket', (ws) => socketsOfA.push(ws.url()));
    await signUp(a, base, `ariadne${tag}`);
    await signUp(b, base, `theseus${tag}`);
    const code = await createGame(a);
    await b.goto(`${base}/games/${code}`);
    await b.click('#game-actions form[action$="/join"] button');
    await a.click('#game-actions form[action$="/start"] button', { timeout: 15_000 });
    await waitRound(a, 1);
    await waitRound(b, 1);

    // Round 1 on n1.
    await a.click('#game-actions button.defend');
    await b.click('#game-actions button.defend');
    await waitRound(a, 2);
    await waitRound(b, 2);

    // Start-first: n2 joins (DNS), the load balancer sends new connections to it. Round 2 waits
    // for both players, so n2's start (slow on a loaded machine) does not eat into round 3.
    const n2 = rig.start('n2', '127.0.0.3');
    await n2.ready();
    backend = n2;
    rig.removeFromDns(n1);

    // Round 2 is played on n1 too; round 3 starts now with its full time.
    await a.click('#game-actions button.defend');
    await b.click('#game-actions button.defend');
    await waitRound(a, 3);
    await waitRound(b, 3);

    // Mid-round 3: A has acted, B has not.
    await a.click('#game-actions button.defend');
    await a.waitForSelector('#game-actions .submitted');
    const r3 = await round(a);
    const dl = await deadline(a);
    expect(r3).toBe(3);
    expect(dl - Date.now()).toBeGreaterThan(3000);
    const beforeA = await view(a);
    const beforeB = await view(b);
    await watchBadge(a);
    await watchBadge(b);
    await a.screenshot({ path: join(SHOTS, 'redeploy-before-a.png') });

    n1.signal('SIGTERM');
    // The badge shows on both pages, then goes away when htmx reconnected through the proxy.
    await a.waitForFunction(() => (window as unknown as { __badge: number }).__badge > 0, null, {
      timeout: 10_000,
    });
    await b.waitForFunction(() => (window as unknown as { __badge: number }).__badge > 0, null, {
      timeout: 10_000,
    });
    await a.screenshot({ path: join(SHOTS, 'redeploy-reconnecting-a.png') });
    await waitFor(() => !n1.alive, 10_000, 'n1 to exit');
    expect(n1.exitCode).toBe(0);
    expect(
      n1.hasLog((l) =>
        new RegExp(`^game ${code} handed to node n2 \\(epoch \\d+, round 3\\)$`).test(l.msg),
      ),
    ).toBe(true);
    await a.waitForFunction(
      () => (document.getElementById('conn-badge') as HTMLElement).hidden,
      null,
      { timeout: 15_000 },
    );
    await b.waitForFunction(
      () => (document.getElementById('conn-badge') as HTMLElement).hidden,
      null,
      { timeout: 15_000 },
    );
    expect(await badgeShown(a)).toBe(false);
    // The reconnect said how far the page had seen the game (src/sessions/seen.ts): round 3.
    const games = socketsOfA.filter((u) => u.includes(`/games/${code}/live`));
    expect(games.length).toBeGreaterThanOrEqual(2);
    expect(games.at(-1)).toMatch(/[?&]seen=\d+\.3(&|$)/);
    // And a reload would say so too: the page keeps the token in a cookie of the game's path.
    const jar = await a.context().cookies(`${base}/games/${code}`);
    expect(jar.find((c) => c.name === `minotaur_seen_${code}`)?.value).toMatch(/^\d+\.3$/);

    // Same round, same countdown, same board; A's action still shows as submitted.
    expect(Date.now()).toBeLessThan(dl); // still the same round: the handoff happened mid-round
    for (const p of [a, b]) {
      expect(await round(p)).toBe(3);
      expect(await deadline(p)).toBe(dl);
    }
    expect(await view(a)).toEqual(beforeA);
    expect(await view(b)).toEqual(beforeB);
    await expect(a.locator('#game-actions .submitted').count()).resolves.toBe(1);
    await a.screenshot({ path: join(SHOTS, 'redeploy-after-a.png') });
    await b.screenshot({ path: join(SHOTS, 'redeploy-after-b.png') });

    // Actions keep working: B's click completes round 3 on n2, and round 4 is played too.
    await b.click('#game-actions button.defend');
    await waitRound(a, 4);
    await waitRound(b, 4);
    await a.click('#game-actions button.defend');
    await b.click('#game-actions button.defend');
    await waitRound(a, 5);
    await waitRound(b, 5);

    // Round 3 was resolved once, by n2, with both actions; no round resolved twice.
    const res = resolutions(rig.all, code).filter(effective);
    const byRound = new Map<number, number>();
    for (const r of res) byRound.set(r.round, (byRound.get(r.round) ?? 0) + 1);
    expect([...byRound.entries()].sort((x, y) => x[0] - y[0])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    const third = res.find((r) => r.round === 3)!;
    expect(third.node).toBe('n2');
    expect(Object.keys(third.applied)).toHaveLength(2);
  });
});
