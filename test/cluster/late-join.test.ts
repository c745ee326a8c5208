// A node that joins late catches up before it reports ready: with games running on nodes 1
// and 2, node 4 starts (as in Swarm: DNS lists the old tasks, the new one is added once
// healthy) and the moment its /health_check first answers 200 its replica holds every game at
// the owner's version or newer.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRecord } from '../support/admin.js';
import { TestCluster, metricValue, metricsOf, recordOn, waitForPeers } from '../support/cluster.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { Player, roundIn } from '../support/player.js';

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

let cluster: TestCluster | undefined;
let n1: NodeProcess, n2: NodeProcess, n3: NodeProcess;

beforeAll(async () => {
  // Long rounds: nothing changes on its own while node 4 joins, so versions compare exactly.
  cluster = await TestCluster.start(HOSTS, { env: { ROUND_SECONDS: '120' } });
  [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
});

afterAll(async () => {
  await cluster?.close();
});

const newer = (a: AdminRecord, b: AdminRecord): boolean =>
  a.epoch > b.epoch || (a.epoch === b.epoch && a.seq >= b.seq);

describe('a node that joins late', () => {
  it('holds every game at the owner’s version before it first reports ready, and logs joining before ready', async () => {
    // Games on n1 and n2: open ones, started ones, one with an action submitted through n3.
    const codes: string[] = [];
    for (const [i, node] of [n1, n2, n1, n2, n1, n2].entries()) {
      const host = new Player(node.url, `host${cluster!.port}x${i}`);
      await host.signup();
      const code = await host.createGame();
      codes.push(code);
      if (i < 2) continue; // the first two stay open
      const guest = new Player(n3.url, `guest${cluster!.port}x${i}`);
      await guest.signup();
      await waitFor(() => recordOn(n3, code).catch(() => null), 5000, `${code} on n3`);
      expect((await guest.join(code)).status).toBe(303);
      expect((await host.start(code)).status).toBe(303);
      if (i >= 4) {
        const c = guest.connect(code);
        await c.opened;
        const round = await waitFor(
          () => roundIn(c.latestPartial('game-status')) || null,
          5000,
          'round 1',
        );
        expect(await c.act(round, 'defend', undefined, randomUUID())).toMatchObject({
          type: 'ack',
        });
        c.ws.terminate();
      }
    }
    // Each game's record as its owner (the node it was created on) holds it.
    const owners = new Map<string, AdminRecord>();
    for (const [i, code] of codes.entries())
      owners.set(code, await recordOn(i % 2 === 0 ? n1 : n2, code));
    expect([...owners.values()].map((r) => r.owner).sort()).toEqual([
      'n1',
      'n1',
      'n1',
      'n2',
      'n2',
      'n2',
    ]);
    expect([...owners.values()].filter((r) => r.state.status === 'playing')).toHaveLength(4);
    expect([...owners.values()].some((r) => Object.keys(r.state.submitted).length > 0)).toBe(true);

    // Node 4 starts; DNS lists the three old nodes only (Swarm adds a task once it is healthy).
    const n4 = cluster!.add('127.0.0.5', { nodeId: 'n4', inDns: false });
    const seen = { unready: false };
    await waitFor(
      async () => {
        if (!n4.alive) throw new Error(`node n4 exited:\n${n4.raw.slice(-20).join('\n')}`);
        try {
          const res = await fetch(`${n4.url}/health_check`);
          if (res.status === 200) return true;
          seen.unready = true;
          expect(res.status).toBe(503);
        } catch {
          /* not listening yet */
        }
        return false;
      },
      30_000,
      'n4 to report ready',
      5,
    );
    // Immediately: every game, at the owner's version or newer.
    const held = await Promise.all(
      codes.map((code) => recordOn(n4, code).catch((e: unknown) => e)),
    );
    for (const [i, code] of codes.entries()) {
      const rec = held[i];
      expect(rec, `${code} on n4 when it first reported ready`).not.toBeInstanceOf(Error);
      const own = owners.get(code)!;
      const mine = rec as AdminRecord;
      expect(mine.owner).toBe(own.owner);
      expect(
        newer(mine, own),
        `${code}: n4 holds (${mine.epoch}, ${mine.seq}), owner had (${own.epoch}, ${own.seq})`,
      ).toBe(true);
      expect(mine.state.round).toBe(own.state.round);
      expect(mine.state.submitted).toEqual(own.state.submitted);
    }
    // And the owners did not move meanwhile: the comparison was against the latest version.
    for (const code of codes) {
      const now = await recordOn(owners.get(code)!.owner === 'n1' ? n1 : n2, code);
      expect([now.epoch, now.seq]).toEqual([owners.get(code)!.epoch, owners.get(code)!.seq]);
    }

    // The log: joined (caught up) strictly before ready.
    const joined = n4.lines.findIndex((l) => /joined the cluster/.test(l.msg));
    const ready = n4.lines.findIndex((l) => /is ready/.test(l.msg));
    expect(joined).toBeGreaterThanOrEqual(0);
    expect(ready).toBeGreaterThan(joined);
    expect(n4.lines[joined]).toMatchObject({ missing: [] });
    expect((n4.lines[joined]!.peers as string[]).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(seen.unready || n4.lines.some((l) => /is joining/.test(l.msg))).toBe(true);
    expect(metricValue(await metricsOf(n4), 'minotaur_catch_up_seconds')).not.toBeNull();

    // Swarm now adds it to DNS; everyone lists it as ready.
    cluster!.addToDns('127.0.0.5');
    for (const node of [n1, n2, n3, n4])
      await waitForPeers(
        node,
        ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== node.opts.nodeId),
      );
  });
});
