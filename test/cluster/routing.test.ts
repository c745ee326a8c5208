// Games routed to the node that runs them: two nodes behind real HAProxy running
// deploy/haproxy.cfg. A node's answers name the games it runs (X-Minotaur-Runs); HAProxy learns
// them and sends each game's pages and live sockets to its node, where balancing alone would
// spread them over both.
//
// And around a frozen node (SIGSTOP, a paused VM): it still accepts connections, so HAProxy
// cannot tell it from a slow node until three health checks have timed out (~11 s), and the
// pages sent to it meanwhile went unanswered. With the node that runs a game frozen, that game's
// page (routed to the frozen node) and the lobby (balanced over both) are answered by the other
// node, 6 s late at most, not left hanging.

import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { HaProxy } from '../support/haproxy.js';
import { tempDir, type NodeProcess } from '../support/node-process.js';
import { Player, type LiveConnection, type Network } from '../support/player.js';

const HOSTS = ['127.0.0.2', '127.0.0.3'];

let cluster: TestCluster | undefined;
let lb: HaProxy | undefined;
let frozen: NodeProcess | undefined;
const conns: LiveConnection[] = [];
const tag = String(Date.now() % 100000);

const from = (octet: number): Network => ({ ca: lb!.ca, localAddress: `127.0.1.${octet}` });

beforeAll(async () => {
  cluster = await TestCluster.start(HOSTS);
  lb = await HaProxy.start({
    dir: tempDir('minotaur-routing-'),
    dns: cluster.dns.address,
    query: cluster.query,
    nodePort: cluster.port,
  });
  await lb.waitUp(cluster.nodes.map((n) => n.address));
}, 60_000);

afterAll(async () => {
  frozen?.signal('SIGCONT');
  for (const c of conns) c.ws.terminate();
  await lb?.stop();
  await cluster?.close();
});

/** Opens a game's live socket through HAProxy; resolves with the node's `X-Minotaur-Runs`. */
async function runsHeaderOfSocket(p: Player, code: string): Promise<string | null> {
  const c = p.connect(code);
  conns.push(c);
  const header = new Promise<string | null>((resolve) =>
    c.ws.once('upgrade', (res: IncomingMessage) =>
      resolve((res.headers['x-minotaur-runs'] as string | undefined) ?? null),
    ),
  );
  await c.opened;
  const runs = await header;
  c.ws.terminate();
  return runs;
}

describe('HAProxy routes a game to the node that runs it', () => {
  it("sends every page and live socket of a game to its node once a node's answer named it", async () => {
    const players = [0, 1, 2, 3].map(
      (i) => new Player(lb!.url, `ariadne${tag}r${i}`, 'correct horse battery', from(10 + i)),
    );
    for (const p of players) await p.signup();
    const codes: string[] = [];
    for (const p of players) {
      // The game is created on whichever node HAProxy picked: that node runs it and says so.
      const res = await p.post('/lobby/games', {}, '/lobby');
      const code = /^\/games\/([A-Z]{4})$/.exec(res.headers.get('location') ?? '')?.[1];
      expect(code, `create answered ${res.status}`).toBeDefined();
      expect(res.headers.get('x-minotaur-runs')).toBe(code);
      codes.push(code!);
    }
    for (const [i, code] of codes.entries()) {
      const owner = players[i]!;
      const guest = players[(i + 1) % players.length]!;
      for (let k = 0; k < 6; k++) {
        // Each answer comes from the node that runs the game, which is the one that names it.
        const page = await guest.request(`/games/${code}`);
        expect(page.status).toBe(200);
        expect(page.headers.get('x-minotaur-runs'), `page ${k} of ${code}`).toBe(code);
        expect(await runsHeaderOfSocket(owner, code), `socket ${k} of ${code}`).toBe(code);
      }
      // Forms are balanced, not routed (a POST a draining node refused would not be retried);
      // any node passes them on to the game's.
      expect((await guest.join(code)).status).toBe(303);
    }
  });
});

/** A GET through HAProxy: its status, its node, and how long it took. */
async function timed(p: Player, path: string) {
  const started = Date.now();
  const res = await p.request(path, { signal: AbortSignal.timeout(15_000) });
  const html = await res.text();
  // Every page's footer names the node that rendered it.
  const node = /· node ([^<\s]+)<\/footer>/.exec(html)?.[1] ?? null;
  return { status: res.status, node, ms: Date.now() - started };
}

describe('a frozen node behind HAProxy', () => {
  it("has its pages answered by another node within seconds, the frozen node's game's too", async () => {
    const host = new Player(lb!.url, `ariadne${tag}f`, 'correct horse battery', from(20));
    const guest = new Player(lb!.url, `theseus${tag}f`, 'correct horse battery', from(21));
    await host.signup();
    await guest.signup();
    const res = await host.post('/lobby/games', {}, '/lobby');
    const code = /^\/games\/([A-Z]{4})$/.exec(res.headers.get('location') ?? '')?.[1];
    expect(code, `create answered ${res.status}`).toBeDefined();
    // The game's page goes to the node that runs it (learnt from the answer above).
    const before = await timed(guest, `/games/${code}`);
    expect(before.status).toBe(200);
    frozen = cluster!.nodes.find((n) => n.opts.nodeId === before.node);
    expect(frozen, `the node that answered: ${before.node}`).toBeDefined();

    frozen!.signal('SIGSTOP');
    // All at once, well before HAProxy's checks could take the frozen node out (~11 s).
    const [game, ...lobbies] = await Promise.all([
      timed(guest, `/games/${code}`),
      ...[0, 1, 2].map(() => timed(host, '/lobby')),
    ]);
    frozen!.signal('SIGCONT');
    frozen = undefined;

    // HAProxy still sent the game's page to the frozen node first, then to the other after 6 s.
    expect(game.status).toBe(200);
    expect(game.node).not.toBe(before.node);
    expect(game.ms).toBeGreaterThanOrEqual(5900);
    expect(game.ms).toBeLessThan(9000);
    for (const l of lobbies) {
      expect(l.status).toBe(200);
      expect(l.node).not.toBe(before.node);
      expect(l.ms).toBeLessThan(9000);
    }
  }, 60_000);
});

describe('a live socket through HAProxy', () => {
  it("stays open while idle longer than a page's 6-s timeout (tunnels keep their own)", async () => {
    const p = new Player(lb!.url, `icarus${tag}i`, 'correct horse battery', from(30));
    await p.signup();
    const code = await p.createGame();
    const c = p.connect(code);
    conns.push(c);
    await c.opened;
    // Nothing from the page, and nothing from the node but its first render, until its first
    // ping 10 s after the socket opened.
    const idle = Date.now();
    const closedEarly = await Promise.race([
      c.closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 8000)),
    ]);
    expect(closedEarly, `closed ${c.closeCode} after ${Date.now() - idle} ms`).toBe(false);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  }, 60_000);
});
