// A game's page reaches its node through HAProxy during a network cut, before HAProxy has
// learnt where the game runs: three nodes on loopback behind real HAProxy running
// deploy/haproxy.cfg, the game's node cut from the two others by iptables (root, as CI runs),
// HAProxy reaching all three. The two others refuse the game's live socket (its node is beyond
// the cut), so HAProxy must try the game's node before its retries run out, although that node
// holds the most connections. With `balance leastconn` it never did: each retry avoids only the
// node just tried, and leastconn went back and forth between the two that refuse (what a
// takeover followed by a partition did in the multi-host rehearsal). HAProxy learns the route
// from the answer of the node that runs the game; later pages go straight there.

import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { HaProxy } from '../support/haproxy.js';
import { loopbackCut, loopbackCutUnavailable } from '../support/loopback-cut.js';
import { tempDir, waitFor, type NodeProcess } from '../support/node-process.js';
import { Player, type LiveConnection, type Network } from '../support/player.js';

const HOSTS = ['127.0.6.2', '127.0.6.3', '127.0.6.4'];
// The cut: n1 (HOSTS[0]) from each other node.
const links = loopbackCut(
  HOSTS.slice(1).map((other) => [HOSTS[0]!, other]),
  'minotaur-route-cut-test',
);

let cluster: TestCluster | undefined;
let lb: HaProxy | undefined;
let nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];
const tag = String(Date.now() % 100000);

beforeAll(async () => {
  const why = loopbackCutUnavailable();
  if (why) throw new Error(why);
  links.heal(); // rules an interrupted run left
  cluster = await TestCluster.create({ env: { ROUND_SECONDS: '2' } });
  cluster.setDns(HOSTS);
  nodes = HOSTS.map((h, i) => cluster!.add(h, { nodeId: `n${i + 1}` }));
  await Promise.all(nodes.map((n) => n.ready(30_000)));
  lb = await HaProxy.start({
    dir: tempDir('minotaur-route-cut-'),
    dns: cluster.dns.address,
    query: cluster.query,
    nodePort: cluster.port,
  });
  await lb.waitUp(nodes.map((n) => n.address));
}, 60_000);

afterAll(async () => {
  links.heal();
  for (const c of conns) c.ws.terminate();
  await lb?.stop();
  await cluster?.close();
});

/**
 * Opens a game's live socket through HAProxy; resolves with the answering node's
 * `X-Minotaur-Runs` (the game's code when that node runs it), or null when refused.
 */
async function open(p: Player, code: string): Promise<{ c: LiveConnection; runs: string | null }> {
  const c = p.connect(code);
  conns.push(c);
  let runs: string | null = null;
  c.ws.once('upgrade', (res: IncomingMessage) => {
    runs = (res.headers['x-minotaur-runs'] as string | undefined) ?? null;
  });
  const ok = await c.opened.then(
    () => true,
    () => false,
  );
  return { c, runs: ok ? runs : null };
}

describe("a game's page during a cut, its route not learnt yet", () => {
  it('reaches the node that runs the game through HAProxy, though that node is the busiest', async () => {
    const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const net: Network = { ca: lb!.ca, localAddress: '127.0.1.30' };
    const player = new Player(lb!.url, `ariadne${tag}c`, 'correct horse battery', net);
    await player.signup();
    // Two games made on n1 directly, so HAProxy has seen no answer naming either.
    const direct = new Player(n1.url, player.username, player.password);
    direct.cookie = player.cookie;
    const busy = await direct.createGame();
    const code = await direct.createGame();

    // n1 becomes the node with the most connections: three pages of the other game on it
    // (sockets that landed elsewhere are closed, so the others hold none).
    const held: LiveConnection[] = [];
    await waitFor(
      async () => {
        const { c, runs } = await open(player, busy);
        if (runs === busy) held.push(c);
        else c.ws.terminate();
        return held.length >= 3;
      },
      20_000,
      "three of the other game's pages to be on n1",
      0,
    );
    await waitFor(
      async () => {
        const servers = await lb!.servers();
        const on = (a: string) => servers.find((s) => s.addr.startsWith(`${a}:`))?.sessions ?? -1;
        return on(HOSTS[0]!) === 3 && on(HOSTS[1]!) === 0 && on(HOSTS[2]!) === 0;
      },
      10_000,
      'HAProxy to count three connections on n1 and none on the others',
    );

    links.cut();
    // n2 and n3 declare n1 down, then see it renew its lease: a cut, not a loss. From then on
    // they refuse the game's live socket (503) so that HAProxy tries another node.
    const beyond = (n: NodeProcess) =>
      n.hasLog((l) => /renews its lease but the mesh cannot reach it/.test(l.msg));
    await waitFor(() => beyond(n2) && beyond(n3), 20_000, 'n2 and n3 to see n1 beyond the cut');
    const refused = new Player(n2.url, player.username, player.password);
    refused.cookie = player.cookie;
    const there = refused.connect(code);
    conns.push(there);
    await expect(there.opened).rejects.toThrow();
    expect(there.unexpectedResponse).toBe(503);

    // A page tries again after a refusal, as the game's page does; each try is one request to
    // HAProxy, which itself tries up to four nodes.
    let tries = 0;
    let runs: string | null = null;
    while (runs === null && tries < 6) {
      tries++;
      ({ runs } = await open(player, code));
    }
    expect(runs, `the game's socket after ${tries} tries through HAProxy`).toBe(code);
    // Learnt: every later page of the game goes straight to n1.
    for (let k = 0; k < 3; k++) expect((await open(player, code)).runs).toBe(code);
  }, 90_000);
});
