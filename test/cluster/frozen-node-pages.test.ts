// A node whose process is frozen (SIGSTOP, a paused VM) still accepts connections: HAProxy cannot
// tell it from a slow node until three health checks have timed out (~11 s), and the pages sent
// to it meanwhile went unanswered. Two nodes behind real HAProxy running deploy/haproxy.cfg: with
// the node that runs a game frozen, that game's page (routed to the frozen node) and the lobby
// (balanced over both) are answered by the other node, 3 s late at most, not left hanging.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { HaProxy } from '../support/haproxy.js';
import { tempDir, type NodeProcess } from '../support/node-process.js';
import { Player, type Network } from '../support/player.js';

const HOSTS = ['127.0.0.2', '127.0.0.3'];

let cluster: TestCluster | undefined;
let lb: HaProxy | undefined;
let frozen: NodeProcess | undefined;
const tag = String(Date.now() % 100000);

const from = (octet: number): Network => ({ ca: lb!.ca, localAddress: `127.0.1.${octet}` });

beforeAll(async () => {
  cluster = await TestCluster.start(HOSTS);
  lb = await HaProxy.start({
    dir: tempDir('minotaur-frozen-'),
    dns: cluster.dns.address,
    query: cluster.query,
    nodePort: cluster.port,
  });
  await lb.waitUp(cluster.nodes.map((n) => n.address));
}, 60_000);

afterAll(async () => {
  frozen?.signal('SIGCONT');
  await lb?.stop();
  await cluster?.close();
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
    const game = await timed(guest, `/games/${code}`);
    const lobbies = [];
    for (let i = 0; i < 4; i++) lobbies.push(await timed(host, '/lobby'));
    frozen!.signal('SIGCONT');
    frozen = undefined;

    // HAProxy still sent the game's page to the frozen node first, then to the other after 3 s.
    expect(game.status).toBe(200);
    expect(game.node).not.toBe(before.node);
    expect(game.ms).toBeGreaterThanOrEqual(2900);
    expect(game.ms).toBeLessThan(6000);
    for (const l of lobbies) {
      expect(l.status).toBe(200);
      expect(l.node).not.toBe(before.node);
      expect(l.ms).toBeLessThan(6000);
    }
  }, 60_000);
});
