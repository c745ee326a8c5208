// Discovery, membership, the cluster secret and mesh metrics with real node processes:
// three nodes on 127.0.0.2–4 (one port), found through a DNS server the test changes.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestCluster,
  clusterOf,
  metricValue,
  metricsOf,
  peersOf,
  recordOn,
  waitForPeers,
  type ClusterMember,
} from '../support/cluster.js';
import { ROOT, waitFor, type NodeProcess } from '../support/node-process.js';
import { Player } from '../support/player.js';

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

let cluster: TestCluster | undefined;
let n1: NodeProcess, n2: NodeProcess, n3: NodeProcess;
const ids = ['n1', 'n2', 'n3'];

beforeAll(async () => {
  cluster = await TestCluster.start(HOSTS, { env: { ROUND_SECONDS: '30' } });
  [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
});

afterAll(async () => {
  await cluster?.close();
});

describe('a cluster found through DNS', () => {
  it('three nodes find each other: each lists the other two as ready, with their version', async () => {
    for (const [i, node] of [n1, n2, n3].entries()) {
      const others = ids.filter((_, j) => j !== i);
      const peers = await waitForPeers(node, others, 'ready');
      for (const p of peers) {
        expect(p.version).toBe(VERSION);
        expect(p.address).toBe(`${HOSTS[ids.indexOf(p.id)]}:${cluster!.port}`);
      }
      const view = await clusterOf(node);
      expect(view.node).toBe(ids[i]);
      expect(view.state).toBe('ready');
      expect(view.members.find((m) => m.self)).toMatchObject({
        id: ids[i],
        state: 'ready',
        version: VERSION,
      });
    }
    expect(cluster!.dns.queries()).toBeGreaterThan(0);
  });

  it('metrics of a clustered node: two mesh peers, replication operations, catch-up time', async () => {
    // A game created on n1 is one replicated operation out of n1 and into n2 and n3; a second
    // player joining is the next, sent to both as a delta (the members that changed).
    const p = new Player(n1.url, `met${cluster!.port}`);
    await p.signup();
    const code = await p.createGame();
    const q = new Player(n1.url, `met2${cluster!.port}`);
    await q.signup();
    expect((await q.join(code)).status).toBeLessThan(400);
    await waitFor(
      async () =>
        (await recordOn(n2, code).catch(() => null))?.state.players.length === 2 &&
        (await recordOn(n3, code).catch(() => null))?.state.players.length === 2,
      5000,
      `${code} with two players on n2 and n3`,
    );
    for (const node of [n1, n2, n3]) {
      const body = await metricsOf(node);
      expect(metricValue(body, 'minotaur_mesh_peers')).toBe(2);
      expect(metricValue(body, 'minotaur_catch_up_seconds')).not.toBeNull();
      expect(metricValue(body, 'minotaur_catch_up_seconds')).toBeGreaterThanOrEqual(0);
      expect(body).toMatch(/^minotaur_replication_ops_total\{/m);
    }
    expect(
      metricValue(await metricsOf(n1), 'minotaur_replication_ops_total', { direction: 'out' }),
    ).toBeGreaterThan(0);
    expect(
      metricValue(await metricsOf(n2), 'minotaur_replication_ops_total', { direction: 'in' }),
    ).toBeGreaterThan(0);
    // Whichever node owns the game sent the join to the other two as deltas.
    let deltas = 0;
    for (const node of [n1, n2, n3])
      deltas +=
        metricValue(await metricsOf(node), 'minotaur_replication_deltas_total', {
          outcome: 'sent',
        }) ?? 0;
    expect(deltas).toBeGreaterThanOrEqual(2);
  });

  it('a fourth node added to DNS joins and everyone sees it; taken out of DNS and sent SIGTERM it is seen draining, then gone', async () => {
    const n4 = cluster!.add('127.0.0.5', { nodeId: 'n4' });
    await n4.ready(30_000);
    await waitForPeers(n4, ['n1', 'n2', 'n3']);
    for (const node of [n1, n2, n3]) {
      const peers = await waitForPeers(
        node,
        ids.filter((id) => id !== node.opts.nodeId).concat('n4'),
      );
      expect(peers.find((m) => m.id === 'n4')).toMatchObject({
        state: 'ready',
        version: VERSION,
        address: `127.0.0.5:${cluster!.port}`,
      });
    }

    // Swarm takes a stopping task out of DNS first, then sends SIGTERM.
    cluster!.removeFromDns('127.0.0.5');
    n4.signal('SIGTERM');
    const seen = new Map<string, string[]>(ids.map((id) => [id, []]));
    await waitFor(
      async () => {
        let allGone = true;
        for (const node of [n1, n2, n3]) {
          const m = (await peersOf(node)).find((x) => x.id === 'n4');
          const states = seen.get(node.opts.nodeId!)!;
          const s = m ? m.state : 'gone';
          if (states.at(-1) !== s) states.push(s);
          if (m) allGone = false;
        }
        return allGone;
      },
      15_000,
      'n4 to leave every member list',
      25,
    );
    for (const id of ids) {
      const states = seen.get(id)!;
      expect(states, `n4 as seen by ${id}`).toContain('draining');
      expect(states.indexOf('draining'), `n4 as seen by ${id}`).toBeLessThan(
        states.indexOf('gone'),
      );
      expect(states.at(-1)).toBe('gone');
    }
    await n4.exited;
    expect(n4.exitCode).toBe(0);
    // The survivors are still a three-node cluster.
    for (const node of [n1, n2, n3])
      await waitForPeers(
        node,
        ids.filter((id) => id !== node.opts.nodeId),
      );
  });

  it('a node with the wrong CLUSTER_SECRET is refused and logged; it never becomes a member, and the others keep working', async () => {
    const sampled: ClusterMember[][] = [];
    const sampling = new AbortController();
    const sampler = (async () => {
      while (!sampling.signal.aborted) {
        for (const node of [n1, n2, n3]) sampled.push(await peersOf(node).catch(() => []));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const bad = cluster!.add('127.0.0.6', {
      nodeId: 'nbad',
      env: { CLUSTER_SECRET: 'not-the-cluster-secret-at-all' },
    });
    try {
      // Each good node dials the address DNS now gives it, and the bad node dials them: every
      // good node logs a refusal that names the other end and the reason.
      for (const node of [n1, n2, n3]) {
        const line = await waitFor(
          () => {
            if (!bad.alive)
              throw new Error(
                `nbad exited (${bad.exitCode ?? bad.exitSignal}):\n${bad.raw.slice(-20).join('\n')}`,
              );
            return node.lines.find(
              (l) =>
                /refused/i.test(l.msg) &&
                !/ECONNREFUSED/.test(l.msg) &&
                /127\.0\.0\.6|nbad/.test(l.msg),
            );
          },
          15_000,
          `${node.opts.nodeId} to log a refusal of 127.0.0.6`,
        ).catch((e: unknown) => {
          const related = (n: NodeProcess) =>
            n.raw.filter((l) => /127\.0\.0\.6|nbad|refus/.test(l)).slice(-10);
          throw new Error(
            `${e instanceof Error ? e.message : String(e)}\n${node.opts.nodeId}:\n${related(node).join('\n')}\nnbad:\n${bad.raw.slice(-15).join('\n')}`,
          );
        });
        expect(line.msg).toMatch(/secret|proof|signature|auth/i);
        expect(node.alive).toBe(true);
      }
      // The refused node never got a peer either.
      await waitFor(
        () => bad.lines.some((l) => /refused/i.test(l.msg) && !/ECONNREFUSED/.test(l.msg)),
        10_000,
        'nbad to log a refusal',
      );
      await waitFor(
        async () => (await clusterOf(bad).catch(() => null))?.members.length === 1 || false,
        10_000,
        'nbad alone',
      );
    } finally {
      sampling.abort();
      await sampler;
    }
    expect(sampled.length).toBeGreaterThan(0);
    for (const peers of sampled) expect(peers.map((m) => m.id)).not.toContain('nbad');
    for (const node of [n1, n2, n3]) {
      const peers = await peersOf(node);
      expect(peers.map((m) => m.id).sort()).toEqual(ids.filter((id) => id !== node.opts.nodeId));
      expect(metricValue(await metricsOf(node), 'minotaur_mesh_peers')).toBe(2);
    }

    // The good nodes keep working: a game created on n3 reaches n1 and n2 (and never nbad).
    const p = new Player(n3.url, `sec${cluster!.port}`);
    await p.signup();
    const code = await p.createGame();
    for (const node of [n1, n2])
      await waitFor(
        () => recordOn(node, code).catch(() => null),
        5000,
        `${code} on ${node.opts.nodeId}`,
      );
    expect((await recordOn(n1, code)).owner).toBe('n3');
    await expect(recordOn(bad, code)).rejects.toThrow(/404/);

    cluster!.removeFromDns('127.0.0.6');
    await bad.kill();
  });
});
