// A game page tells the server how far it has seen the game when its live socket reconnects
// (`?seen=`, the token of its last render) and when it is reloaded (the same token in a cookie
// of the game's path): a node whose copy is behind that keeps the page waiting (1012, or 503
// for a reload; come back shortly) instead of showing it rounds it already played.

import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, type LiveConnection } from '../support/player.js';
import { adminGame, TEST_ADMIN_TOKEN } from '../support/admin.js';

let node: NodeProcess | undefined;
const conns: LiveConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await node?.kill();
});

describe('what a page has seen', () => {
  it('is in the page and in every render that moves it; a socket that saw more than the node holds is told to come back', async () => {
    node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'seen.db'),
      env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '60' },
    });
    await node.ready();
    const a = new Player(node.url, `sa${Date.now() % 100000}`);
    const b = new Player(node.url, `sb${Date.now() % 100000}`);
    await a.signup();
    await b.signup();
    const code = await a.createGame();
    expect((await b.join(code)).status).toBe(303);
    expect((await a.start(code)).status).toBe(303);
    const { epoch, state } = await adminGame(node.url, code);
    expect(state.round).toBe(1);

    // The page's first response: its socket's address carries the token of what it shows.
    const page = await a.page(`/games/${code}`);
    expect(page.html).toContain(`&amp;seen=${epoch}.1"`);

    // A page that saw as much as the node holds connects and gets the token with its render.
    const now = a.connectPath(`/games/${code}/live?render=patch2&game=${state.id}&seen=${epoch}.1`);
    conns.push(now);
    await now.opened;
    const render = await waitForRender(now);
    expect(render.v).toBe(`${epoch}.1`);

    // One that saw a later run (or round) of the game than this node holds: closed with 1012
    // once the short wait for the copy to catch up is over; bad tokens are ignored.
    const ahead = a.connectPath(`/games/${code}/live?render=patch2&seen=${epoch + 1}.1`);
    conns.push(ahead);
    await ahead.closed;
    expect(ahead.closeCode).toBe(1012);
    expect(ahead.closeReason).toBe('catching up with the game');
    expect(ahead.messages.filter((m) => m.json?.type === 'render')).toHaveLength(0);

    const bad = a.connectPath(`/games/${code}/live?render=patch2&seen=not-a-token`);
    conns.push(bad);
    await bad.opened;
    expect((await waitForRender(bad)).v).toBe(`${epoch}.1`);
    // A reload carries the token in a cookie of the game's path (the page writes it): a node
    // whose copy is behind it answers 503 "catching up" once the short wait is over; a token it
    // has reached, or one that is not a token, gets the page.
    const session = a.cookie;
    a.cookie = `${session}; minotaur_seen_${code}=${epoch + 1}.1`;
    const behind = await a.page(`/games/${code}`);
    expect(behind.status).toBe(503);
    expect(behind.html).toContain('catching up with the game');
    a.cookie = `${session}; minotaur_seen_${code}=${epoch}.1`;
    expect((await a.page(`/games/${code}`)).status).toBe(200);
    a.cookie = `${session}; minotaur_seen_${code}=nonsense`;
    expect((await a.page(`/games/${code}`)).status).toBe(200);
    a.cookie = session;
  });
});

function waitForRender(c: LiveConnection): Promise<{ v?: string }> {
  return waitFor(
    () => {
      const json = c.messages.find((x) => x.json?.type === 'render')?.json;
      return json ?? false;
    },
    10_000,
    'a render message',
  );
}
