// Regression: a peer that knows the secret but sends a record whose game state is malformed
// must not get it into the replica (it would break every page that lists games).

import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLUSTER_SECRET, TestCluster, recordOn } from '../support/cluster.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { Player } from '../support/player.js';
import { RawMeshPeer } from '../support/raw-mesh.js';

let cluster: TestCluster | undefined;
let n1: NodeProcess;

beforeAll(async () => {
  cluster = await TestCluster.start(['127.0.0.2'], { env: { ROUND_SECONDS: '120' } });
  n1 = cluster.nodes[0]!;
});
afterAll(async () => {
  await cluster?.close();
});

it('refuses records with malformed game states, logs why, and keeps serving every page', async () => {
  const a = new Player(n1.url, `zed${cluster!.port}`);
  await a.signup();
  const code = await a.createGame();
  const probe = await RawMeshPeer.connect({
    target: n1.address,
    secret: CLUSTER_SECRET,
    nodeId: 'probe',
    address: `127.0.0.7:${cluster!.port}`,
    localAddress: '127.0.0.7',
  });
  try {
    probe.sendApp('replication', {
      type: 'op',
      id: 'x1',
      record: {
        key: 'ZZZQ',
        owner: 'probe',
        epoch: 1,
        seq: 0,
        schema: 2,
        state: {},
        at: Date.now(),
      },
    });
    probe.sendApp('replication', {
      type: 'op',
      id: 'x2',
      record: {
        key: 'ZZZR',
        owner: 'probe',
        epoch: 1,
        seq: 0,
        schema: 1,
        state: { status: 'open', players: 'nope' },
        at: Date.now(),
      },
    });
    await waitFor(
      () =>
        n1.raw.filter((l) => /refused: invalid game state|refused: .*players/.test(l)).length >= 2,
      5000,
      'both refusals logged',
    );
    // Not acknowledged, not stored.
    expect(probe.frames.some((f) => f.raw.includes('"x1"') && f.raw.includes('"ack"'))).toBe(false);
    for (const bad of ['ZZZQ', 'ZZZR']) expect((await a.request(`/games/${bad}`)).status).toBe(404);
    expect((await a.request('/lobby')).status).toBe(200);
    expect((await a.request(`/games/${code}`)).status).toBe(200);
    expect(await recordOn(n1, code)).toMatchObject({ key: code });
    expect(n1.raw.filter((l) => /"level":"(error|fatal)"/.test(l))).toEqual([]);
  } finally {
    probe.terminate();
  }
});

it('refuses records that would wedge a game: an epoch no node could go past, a schema no member reads', async () => {
  const a = new Player(n1.url, `wed${cluster!.port}`);
  await a.signup();
  const code = await a.createGame();
  const current = (await recordOn(n1, code)) as {
    key: string;
    owner: string;
    epoch: number;
    seq: number;
    schema: number;
    state: object;
    at: number;
  };
  const probe = await RawMeshPeer.connect({
    target: n1.address,
    secret: CLUSTER_SECRET,
    nodeId: 'probe2',
    address: `127.0.0.8:${cluster!.port}`,
    localAddress: '127.0.0.8',
  });
  try {
    // The same valid game at the last safe epoch: nobody could ever adopt it (epoch + 1).
    probe.sendApp('replication', {
      type: 'op',
      id: 'w1',
      record: { ...current, owner: 'probe2', epoch: Number.MAX_SAFE_INTEGER, seq: 0 },
    });
    // Junk under a schema number no member of the cluster can read.
    probe.sendApp('replication', {
      type: 'op',
      id: 'w2',
      record: {
        ...current,
        owner: 'probe2',
        epoch: current.epoch + 5,
        seq: 0,
        schema: 99,
        state: { junk: true },
      },
    });
    await waitFor(
      () => n1.raw.filter((l) => /w1|w2|read by no member|too_big|dropped/.test(l)).length >= 2,
      5000,
      'both refusals logged',
    );
    expect(probe.frames.some((f) => f.raw.includes('"ack"'))).toBe(false);
    // The game is untouched and still playable.
    expect(await recordOn(n1, code)).toMatchObject({ owner: current.owner, epoch: current.epoch });
    const page = await a.request(`/games/${code}`);
    expect(page.status).toBe(200);
    const b = new Player(n1.url, `wee${cluster!.port}`);
    await b.signup();
    expect((await b.join(code)).status).toBe(303);
    expect((await a.start(code)).status).toBe(303);
    expect(await recordOn(n1, code)).toMatchObject({ owner: current.owner, epoch: current.epoch });
  } finally {
    probe.terminate();
  }
});
