// A game's page reaches its node through HAProxy during a network cut, when HAProxy has not
// learnt where the game runs, or learnt it before a takeover: three nodes on loopback behind
// real HAProxy running deploy/haproxy.cfg, the game's node cut from the others by iptables
// (root, as CI runs), HAProxy reaching every node. The others refuse the game's live socket (its
// node is beyond the cut), so HAProxy must try the game's node before its retries run out,
// although that node holds the most connections. With `balance leastconn` it never did: each
// retry avoids only the node just tried, and leastconn went back and forth between the two that
// refuse. The second case is the course that failed a multi-host rehearsal: the game's route
// was learnt from a node whose host was then lost, another node took the game over, and the
// lost node's HAProxy slot went to its replacement, beyond the cut. HAProxy learns the route
// from the answer of the node that runs the game; later pages go straight there.

import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { HaProxy } from '../support/haproxy.js';
import { loopbackCut, loopbackCutUnavailable, type LoopbackCut } from '../support/loopback-cut.js';
import { tempDir, waitFor, type NodeProcess } from '../support/node-process.js';
import { takeoverOf } from '../support/owner-loss.js';
import { Player, type LiveConnection } from '../support/player.js';

const conns: LiveConnection[] = [];
const tag = String(Date.now() % 100000);

interface Rig {
  cluster: TestCluster;
  lb: HaProxy;
  /** n1, n2, n3 on `hosts`. */
  nodes: NodeProcess[];
  /** The cut this case makes (healed after it, and before, for rules an interrupted run left). */
  cut(pairs: [NodeProcess, NodeProcess][]): void;
}

/** Three nodes on `hosts` behind HAProxy, started before the describe block's test. */
function routeRig(hosts: string[], ruleTag: string): () => Rig {
  let cluster: TestCluster | undefined;
  let lb: HaProxy | undefined;
  let links: LoopbackCut | undefined;
  let rig: Rig | undefined;
  beforeAll(async () => {
    const why = loopbackCutUnavailable();
    if (why) throw new Error(why);
    cluster = await TestCluster.create({ env: { ROUND_SECONDS: '2' } });
    cluster.setDns(hosts);
    const nodes = hosts.map((h, i) => cluster!.add(h, { nodeId: `n${i + 1}` }));
    await Promise.all(nodes.map((n) => n.ready(30_000)));
    lb = await HaProxy.start({
      dir: tempDir('minotaur-route-cut-'),
      dns: cluster.dns.address,
      query: cluster.query,
      nodePort: cluster.port,
    });
    await lb.waitUp(nodes.map((n) => n.address));
    rig = {
      cluster,
      lb,
      nodes,
      cut(pairs) {
        links = loopbackCut(
          pairs.map(([a, b]) => [a.opts.host, b.opts.host]),
          ruleTag,
        );
        links.heal();
        links.cut();
      },
    };
  }, 60_000);
  afterAll(async () => {
    links?.heal();
    for (const c of conns) c.ws.terminate();
    await lb?.stop();
    await cluster?.close();
  });
  return () => rig!;
}

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

/** A player signed up through HAProxy, and the same account on `node` directly. */
async function playerOn(rig: Rig, octet: number, node: NodeProcess): Promise<[Player, Player]> {
  const net = { ca: rig.lb.ca, localAddress: `127.0.1.${octet}` };
  const player = new Player(rig.lb.url, `ariadne${tag}c${octet}`, 'correct horse battery', net);
  await player.signup();
  const direct = new Player(node.url, player.username, player.password);
  direct.cookie = player.cookie;
  return [player, direct];
}

/**
 * Makes `node` the one with the most connections in HAProxy's eyes: three pages of `code` (a game
 * it runs) open on it through HAProxy, none on the others (sockets that landed elsewhere are
 * closed).
 */
async function busiest(rig: Rig, player: Player, code: string, node: NodeProcess): Promise<void> {
  let held = 0;
  await waitFor(
    async () => {
      const { c, runs } = await open(player, code);
      if (runs === code) held++;
      else c.ws.terminate();
      return held >= 3;
    },
    20_000,
    `three pages of ${code} to be on ${node.opts.nodeId}`,
    0,
  );
  await waitFor(
    async () => {
      const servers = await rig.lb.servers();
      return servers.every((s) => s.sessions === (s.addr === node.address ? 3 : 0));
    },
    10_000,
    `HAProxy to count three connections on ${node.opts.nodeId} and none on the others`,
  );
}

/** Waits for `nodes` to see `owner` alive beyond the cut; then they refuse its games' sockets. */
async function seenBeyondCut(nodes: NodeProcess[], owner: NodeProcess, p: Player, code: string) {
  const beyond = (n: NodeProcess) =>
    n.hasLog((l) => /renews its lease but the mesh cannot reach it/.test(l.msg));
  await waitFor(
    () => nodes.every(beyond),
    20_000,
    `${nodes.map((n) => n.opts.nodeId).join(' and ')} to see ${owner.opts.nodeId} beyond the cut`,
  );
  for (const n of nodes) {
    const there = new Player(n.url, p.username, p.password);
    there.cookie = p.cookie;
    const c = there.connect(code);
    conns.push(c);
    await expect(c.opened).rejects.toThrow();
    expect(c.unexpectedResponse, `${n.opts.nodeId}'s answer`).toBe(503);
  }
}

/**
 * Opens the game's socket through HAProxy as its page does, trying again after a refusal (each
 * try one request to HAProxy, which itself tries up to four nodes); it must reach the game's
 * node, and HAProxy then has the route.
 */
async function reachesItsNode(p: Player, code: string): Promise<void> {
  let tries = 0;
  let runs: string | null = null;
  while (runs === null && tries < 6) {
    tries++;
    ({ runs } = await open(p, code));
  }
  expect(runs, `the game's socket after ${tries} tries through HAProxy`).toBe(code);
  for (let k = 0; k < 3; k++) expect((await open(p, code)).runs).toBe(code);
}

/**
 * Cuts `owner` (the node that runs `code`) off from `others`, waits for them to refuse the game's
 * socket, and checks that the page still reaches `owner` through HAProxy.
 */
async function cutOffAndReach(
  rig: Rig,
  owner: NodeProcess,
  others: NodeProcess[],
  p: Player,
  code: string,
): Promise<void> {
  rig.cut(others.map((o) => [owner, o]));
  await seenBeyondCut(others, owner, p, code);
  await reachesItsNode(p, code);
}

describe("a game's page during a cut, its route not learnt yet", () => {
  const rig = routeRig(['127.0.6.2', '127.0.6.3', '127.0.6.4'], 'minotaur-route-cut-test');

  it('reaches the node that runs the game through HAProxy, though that node is the busiest', async () => {
    const r = rig();
    const [n1, n2, n3] = r.nodes as [NodeProcess, NodeProcess, NodeProcess];
    const [player, direct] = await playerOn(r, 30, n1);
    // Two games made on n1 directly, so HAProxy has seen no answer naming either.
    const busy = await direct.createGame();
    const code = await direct.createGame();
    await busiest(r, player, busy, n1);
    await cutOffAndReach(r, n1, [n2, n3], player, code);
  }, 90_000);
});

describe("a game's page during a cut, its learnt route left to another node by a takeover", () => {
  const hosts = ['127.0.7.2', '127.0.7.3', '127.0.7.4'];
  const rig = routeRig(hosts, 'minotaur-route-takeover-test');

  it("reaches the game's new node through HAProxy, not the lost node's replacement", async () => {
    const r = rig();
    const [n1, n2, n3] = r.nodes as [NodeProcess, NodeProcess, NodeProcess];
    const [player, onN2] = await playerOn(r, 31, n2);
    const code = await onN2.createGame();
    // HAProxy learns that n2 runs the game.
    await waitFor(
      async () => {
        const { c, runs } = await open(player, code);
        c.ws.terminate();
        return runs === code;
      },
      20_000,
      `HAProxy to send ${code} to n2`,
      0,
    );
    expect(await r.lb.command('show table minotaur')).toContain(`key=${code} `);

    // n2's host is lost; n1 or n3 takes the game over.
    n2.signal('SIGKILL');
    const owner = await waitFor(
      () => [n1, n3].find((n) => n.hasLog((l) => takeoverOf(code, 'n2').test(l.msg))),
      30_000,
      `n1 or n3 to take ${code} over`,
    );
    const other = owner === n1 ? n3 : n1;
    // A replacement on n2's address: the slot HAProxy learnt the route with now leads to it.
    const n4 = r.cluster.add(n2.opts.host, { nodeId: 'n4' });
    await n4.ready(30_000);
    await r.lb.waitUp([n4.address]);
    const onOwner = new Player(owner.url, player.username, player.password);
    onOwner.cookie = player.cookie;
    await busiest(r, player, await onOwner.createGame(), owner);
    await cutOffAndReach(r, owner, [other, n4], player, code);
  }, 120_000);
});
