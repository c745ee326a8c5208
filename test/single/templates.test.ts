// The release's template table (src/live/template-script.ts): pages load it once as a script the
// browser may keep for a year, and a page that holds it is never sent a table template's fixed
// text. A page that does not hold it, or holds another release's, is sent the fixed text it
// needs, and both show exactly the same partials.

import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, roundIn, type LiveConnection } from '../support/player.js';
import type { TemplateTable } from '../support/live-page.js';

let node: NodeProcess | undefined;
const conns: LiveConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await node?.kill();
});

/** The ids of the templates whose fixed text a render message carries (own part and stream's). */
function fixedTextIds(wire: string): number[] {
  const m = JSON.parse(wire) as { type?: string; t?: object; g?: { t?: object } };
  if (m.type !== 'render') return [];
  return [...Object.keys(m.t ?? {}), ...Object.keys(m.g?.t ?? {})].map(Number);
}

const PARTIALS = ['game-status', 'game-board', 'game-players', 'game-log', 'game-actions'];

describe('the template table', () => {
  it('is a script cached for a year; a page that holds it is sent no fixed text, and shows what every other page shows', async () => {
    node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'templates.db'),
      env: { ROUND_SECONDS: '60' },
    });
    await node.ready();
    const a = new Player(node.url, `ta${Date.now() % 100000}`);
    const b = new Player(node.url, `tb${Date.now() % 100000}`);
    await a.signup();
    await b.signup();

    // Every page names the script; its address names the version it defines.
    const table = await a.templates();
    expect(table.v).toMatch(/^[0-9a-f]{12}$/);
    expect(table.s.length).toBeGreaterThan(50);
    const path = `/static/live/templates-${table.v}.js`;
    const script = await a.request(path);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    // Another release's address (a page of it, during a rolling update) gets this node's table,
    // which names this node's version, and is checked again before it is used another time.
    const older = await a.request('/static/live/templates-0123456789ab.js');
    expect(older.status).toBe(200);
    expect(older.headers.get('cache-control')).toBe('no-cache');
    expect(await older.text()).toBe(await script.text());
    expect((await a.request('/static/live/templates-0123456789ab.json')).status).toBe(404);
    expect((await a.request('/static/live/templates-XYZ.js')).status).toBe(404);

    const code = await a.createGame();
    expect((await b.join(code)).status).toBe(303);
    expect((await a.start(code)).status).toBe(303);

    // A holds the table; the same viewer's second page does not; a third holds another
    // release's table, whose texts are all different (it must be sent them all).
    const stale: TemplateTable = { v: '0123456789ab', s: table.s.map((s) => s.map(() => '?')) };
    const held = a.connect(code, { table });
    const none = a.connect(code);
    const other = a.connect(code, { table: stale });
    const bob = b.connect(code, { table });
    conns.push(held, none, other, bob);
    await Promise.all(conns.map((c) => c.opened));

    // Three rounds, every hero acting: each resolves when both have chosen.
    for (let round = 1; round <= 3; round++) {
      await waitFor(
        () => roundIn(held.latestPartial('game-status')) === round,
        10_000,
        `round ${round}`,
      );
      expect((await held.act(round, 'defend')).type).toBe('ack');
      expect((await bob.act(round, 'defend')).type).toBe('ack');
    }
    await waitFor(
      () => [held, none, other].every((c) => roundIn(c.latestPartial('game-status')) === 4),
      10_000,
      'round 4 on every page',
    );

    const fixed = (c: LiveConnection) => c.messages.flatMap((m) => fixedTextIds(m.wire));
    expect(fixed(held)).toEqual([]);
    expect(fixed(bob)).toEqual([]);
    // The others were sent the fixed text of each template they use, each once.
    for (const c of [none, other]) {
      const ids = fixed(c);
      expect(ids.length).toBeGreaterThan(20);
      expect(new Set(ids).size).toBe(ids.length);
    }
    const bytes = (c: LiveConnection) => c.messages.reduce((n, m) => n + m.wire.length, 0);
    expect(bytes(held)).toBeLessThan(bytes(none) - 3000);

    // All three of A's pages show the same partials.
    for (const target of PARTIALS) {
      const shown = held.latestPartial(target);
      expect(shown, target).toBeTruthy();
      expect(none.latestPartial(target), target).toBe(shown);
      expect(other.latestPartial(target), target).toBe(shown);
    }

    // A page's first HTML names the Minotaur's quarry as its live updates do: "you" on that
    // hero's own page, the hero's name on the other's.
    const quarry = (text: string | null) =>
      /<p class="intent">[\s\S]*?<strong>([^<]*)<\/strong>/.exec(text ?? '')?.[1];
    const firstShown: (string | undefined)[] = [];
    for (const [p, live] of [
      [a, held],
      [b, bob],
    ] as const) {
      const first = quarry((await p.page(`/games/${code}`)).html);
      expect(first, p.username).toBe(quarry(live.latestPartial('game-status')));
      firstShown.push(first);
    }
    if (firstShown.some((q) => q !== undefined)) expect(firstShown).toContain('you');

    // The lobby's pages alike, with a game open in it.
    const open = await b.createGame();
    const lobbies = [b.connectLobby({ table }), b.connectLobby()];
    conns.push(...lobbies);
    const listed = await Promise.all(
      lobbies.map((c) =>
        waitFor(() => c.latestPartial('open-games')?.includes(open) && c, 10_000, 'lobby'),
      ),
    );
    expect(fixed(listed[0]!)).toEqual([]);
    expect(fixed(listed[1]!).length).toBeGreaterThan(3);
    expect(listed[0]!.latestPartial('open-games')).toBe(listed[1]!.latestPartial('open-games'));
  });
});
