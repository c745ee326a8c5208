// Bad mesh input against a real node: a peer that holds the cluster secret (so it passes the
// handshake) sends malformed frames, unknown types, stale epochs and oversized messages on
// every layer (mesh envelope, replication, sessions). Each is dropped with a log line, the node
// keeps running, the link survives (except the frame over the size limit), and no game changes.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNonce, createProof } from '../../src/cluster/auth.js';
import { MAX_HANDSHAKES_PER_ADDRESS, MAX_INBOUND_HANDSHAKES } from '../../src/cluster/mesh.js';
import { MESH_PATH, MESH_PROTOCOL } from '../../src/cluster/protocol.js';
import { essence, type AdminRecord } from '../support/admin.js';
import { CLUSTER_SECRET, TestCluster, recordOn, waitForPeers } from '../support/cluster.js';
import { waitFor, type LogLine, type NodeProcess } from '../support/node-process.js';
import { Player } from '../support/player.js';
import { RawMeshPeer } from '../support/raw-mesh.js';

const HOSTS = ['127.0.0.2', '127.0.0.3'];

let cluster: TestCluster | undefined;
let n1: NodeProcess, n2: NodeProcess;
let probe: RawMeshPeer | undefined;
let code: string;
let before: AdminRecord;

beforeAll(async () => {
  cluster = await TestCluster.start(HOSTS, { env: { ROUND_SECONDS: '120' } });
  [n1, n2] = cluster.nodes as [NodeProcess, NodeProcess];
  const a = new Player(n1.url, `amy${cluster.port}`);
  const b = new Player(n2.url, `ben${cluster.port}`);
  await a.signup();
  await b.signup();
  code = await a.createGame();
  await waitFor(() => recordOn(n2, code).catch(() => null), 5000, `${code} on n2`);
  expect((await b.join(code)).status).toBe(303);
  expect((await a.start(code)).status).toBe(303);
  before = await recordOn(n1, code);
  expect(before.state.status).toBe('playing');
  expect(before.owner).toBe('n1');
  await waitFor(async () => (await recordOn(n2, code)).seq === before.seq, 5000, 'n2 in step');
  probe = await RawMeshPeer.connect({
    target: n1.address,
    secret: CLUSTER_SECRET,
    nodeId: 'probe',
    address: `127.0.0.7:${cluster.port}`,
    localAddress: '127.0.0.7',
  });
});

afterAll(async () => {
  probe?.terminate();
  await cluster?.close();
});

/** Waits for a new log line of n1 (from index `since`) matching `re`. */
function logged(since: number, re: RegExp, what = re.source): Promise<LogLine> {
  return waitFor(
    () => n1.lines.slice(since).find((l) => re.test(l.msg)) ?? null,
    5000,
    `n1 to log ${what}`,
    10,
  );
}

/** Sends a frame and expects one log line about it, with the node and the link still up. */
async function rejected(send: () => void, re: RegExp): Promise<LogLine> {
  const since = n1.lines.length;
  send();
  const line = await logged(since, re);
  expect(['warn', 'info']).toContain(line.level);
  expect(n1.alive).toBe(true);
  expect(probe!.open).toBe(true);
  return line;
}

function staleRecord(): AdminRecord {
  // An older epoch with a much higher seq, by an owner id that would win a tie: still older.
  return {
    ...before,
    owner: 'probe',
    epoch: before.epoch - 1,
    seq: before.seq + 100,
    state: { ...before.state, round: 42 },
  };
}

describe('bad mesh input from an authenticated peer', () => {
  it('the probe joined the mesh like a peer', async () => {
    expect(probe!.peerId).toBe('n1');
    await logged(0, /peer probe \(127\.0\.0\.7:\d+\) up/);
  });

  it('mesh envelope: malformed, not an object, unknown type, invalid field, handshake message after the handshake', async () => {
    await rejected(
      () => probe!.send('this is {not json'),
      /dropped message from probe.*not valid JSON/,
    );
    await rejected(() => probe!.send('[1,2,3]'), /dropped message from probe.*not a JSON object/);
    await rejected(
      () => probe!.sendJson({ type: 'gossip', rumour: 'the minotaur is friendly' }),
      /dropped message from probe.*unknown message type "gossip"/,
    );
    await rejected(
      () => probe!.sendJson({ type: 'hb', state: 'sleepy', t: 1 }),
      /dropped message from probe.*invalid hb message/,
    );
    await rejected(
      () => probe!.sendJson({ type: 'app', ch: '', body: {} }),
      /dropped message from probe.*invalid app message/,
    );
    await rejected(
      () =>
        probe!.sendJson({
          type: 'hello',
          nodeId: 'probe',
          address: `127.0.0.7:${cluster!.port}`,
          version: 'x',
          protocol: 1,
          schemas: [],
          state: 'ready',
          nonce: 'a'.repeat(43),
        }),
      /dropped hello message from probe: not valid after the handshake/,
    );
  });

  it('replication: malformed, unknown type, invalid record, oversized op, stale epoch', async () => {
    await rejected(
      () => probe!.sendApp('replication', 'nonsense'),
      /replication message from probe dropped: invalid/,
    );
    await rejected(
      () => probe!.sendApp('replication', { type: 'teleport', id: 't1' }),
      /replication message from probe dropped: invalid/,
    );
    await rejected(
      () =>
        probe!.sendApp('replication', {
          type: 'op',
          id: 'o1',
          record: { key: 'bad!', owner: 'probe' },
        }),
      /replication message from probe dropped: invalid/,
    );
    // Over the replication limit (256 KiB) but under the frame limit, with a version that would
    // win if it were applied.
    const huge = {
      ...before,
      owner: 'probe',
      epoch: before.epoch + 1000,
      seq: 0,
      state: { ...before.state, pad: 'x'.repeat(300 * 1024) },
    };
    await rejected(
      () => probe!.sendApp('replication', { type: 'op', id: 'o2', record: huge }),
      /replication message from probe dropped: too-large/,
    );
    // A stale epoch: refused, and the sender is told which version beat it.
    const since = probe!.frames.length;
    await rejected(
      () => probe!.sendApp('replication', { type: 'op', id: 'o3', record: staleRecord() }),
      new RegExp(`stale op for ${code} from probe refused`),
    );
    const ack = await probe!.nextApp(
      'replication',
      (b) => b.type === 'ack' && b.id === 'o3',
      since,
    );
    expect(ack).toMatchObject({
      result: 'stale',
      current: { epoch: before.epoch, owner: before.owner, seq: before.seq },
    });
    // The same stale record inside an anti-entropy answer is ignored too. Asking for the game in
    // the same message makes n1 answer once it handled the message: with its own record, once
    // however many times it is asked for.
    const sent = probe!.frames.length;
    probe!.sendApp('replication', {
      type: 'records',
      id: 'r1',
      records: [staleRecord()],
      want: [code, code, code],
    });
    const answer = await probe!.nextApp(
      'replication',
      (b) => b.type === 'records' && b.id === 'r1',
      sent,
    );
    const held = (answer.records as AdminRecord[]).map((r) => [
      r.key,
      r.owner,
      r.epoch,
      r.seq,
      r.state.round,
    ]);
    expect(held).toEqual([[code, before.owner, before.epoch, before.seq, before.state.round]]);
    const now = await recordOn(n1, code);
    expect([now.owner, now.epoch, now.seq, now.state.round]).toEqual([
      before.owner,
      before.epoch,
      before.seq,
      before.state.round,
    ]);
  });

  it('sessions: malformed, unknown type, stale handoff', async () => {
    await rejected(
      () => probe!.sendApp('sessions', { type: 'command', id: 'c1', code: 'nope' }),
      /dropped an invalid sessions message from probe/,
    );
    await rejected(
      () => probe!.sendApp('sessions', { type: 'detonate', id: 'd1' }),
      /dropped an invalid sessions message from probe/,
    );
    await rejected(
      () => probe!.sendApp('sessions', 12345),
      /dropped an invalid sessions message from probe/,
    );
    const since = probe!.frames.length;
    probe!.sendApp('sessions', { type: 'handoff', id: 'h1', record: staleRecord() });
    const answer = await probe!.nextApp(
      'sessions',
      (b) => b.type === 'handoff-result' && b.id === 'h1',
      since,
    );
    // Not adopted: n1 runs the game itself, so it confirms it at its own epoch.
    expect(answer).toMatchObject({ ok: true, epoch: before.epoch });
    const now = await recordOn(n1, code);
    expect([now.owner, now.epoch, now.seq]).toEqual([before.owner, before.epoch, before.seq]);
  });

  it('a frame over the mesh size limit closes only that link; the node and its game are intact', async () => {
    const since = n1.lines.length;
    probe!.send('x'.repeat(1024 * 1024 + 100));
    await waitFor(() => probe!.closeCode !== null, 5000, 'n1 to close the probe link');
    expect(probe!.closeCode).toBe(1009);
    // ws trips its maxPayload and closes the link (1009 to the sender). The receiving node sees
    // its own socket end abnormally (1006); the size error itself is only logged at debug.
    await logged(since, /link to probe closed \((1009|1006)/);
    expect(n1.alive).toBe(true);

    // No game changed anywhere, and the real peers still work together.
    for (const node of [n1, n2]) {
      const now = await recordOn(node, code);
      expect([now.owner, now.epoch, now.seq], `${code} on ${node.opts.nodeId}`).toEqual([
        before.owner,
        before.epoch,
        before.seq,
      ]);
      expect(essence(now.state)).toEqual(essence(before.state));
    }
    await waitForPeers(n2, ['n1']);
    const p = new Player(n2.url, `cid${cluster!.port}`);
    await p.signup();
    const fresh = await p.createGame();
    await waitFor(() => recordOn(n1, fresh).catch(() => null), 5000, `${fresh} on n1`);
    expect((await p.page('/lobby')).status).toBe(200);
    expect(n1.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});

describe('a caller that does not know the cluster secret', () => {
  it('gets nothing it could test guesses against offline: a hello, no proof, then 4001', async () => {
    const ws = new WebSocket(`ws://${n2.address}${MESH_PATH}`, {
      perMessageDeflate: false,
      localAddress: '127.0.0.7',
    });
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d: Buffer) =>
      frames.push(JSON.parse(d.toString()) as Record<string, unknown>),
    );
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const nonce = createNonce();
    ws.send(
      JSON.stringify({
        type: 'hello',
        nodeId: 'guesser',
        address: `127.0.0.7:${cluster!.port}`,
        version: '9',
        protocol: MESH_PROTOCOL,
        schemas: [],
        state: 'joining',
        nonce,
      }),
    );
    const hello = await waitFor(() => frames.find((f) => f.type === 'hello'), 5000, "n2's hello");
    // Whatever it waits for, no proof comes until it has proved itself.
    await new Promise((r) => setTimeout(r, 300));
    expect(frames.map((f) => f.type)).toEqual(['hello']);
    const guess = createProof('a guessed secret', {
      role: 'initiator',
      protocol: MESH_PROTOCOL,
      proverId: 'guesser',
      verifierId: String(hello.nodeId),
      proverNonce: nonce,
      verifierNonce: String(hello.nonce),
    });
    ws.send(JSON.stringify({ type: 'auth', proof: guess }));
    expect(await closed).toBe(4001);
    expect(frames.map((f) => f.type)).toEqual(['hello']);
    expect(n2.alive).toBe(true);
  });

  it(`is one of at most ${MAX_HANDSHAKES_PER_ADDRESS} per address and ${MAX_INBOUND_HANDSHAKES} in all in their handshake at once; the rest get 503`, async () => {
    const url = `ws://${n2.address}${MESH_PATH}`;
    const sockets: WebSocket[] = [];
    /** Opens connections that never say hello: how each upgrade ended ('open' or the status). */
    const idle = (addresses: string[]) =>
      Promise.all(
        addresses.map((localAddress) => {
          const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
          ws.on('error', () => {});
          sockets.push(ws);
          return new Promise<string>((resolve) => {
            ws.once('open', () => resolve('open'));
            ws.once('unexpected-response', (_req, res) => {
              resolve(String(res.statusCode));
              ws.terminate();
            });
          });
        }),
      );
    const tally = (outcomes: string[]) => ({
      open: outcomes.filter((o) => o === 'open').length,
      refused: outcomes.filter((o) => o === '503').length,
    });
    // One address: a few at a time.
    const one = tally(await idle(Array.from({ length: 8 }, () => '127.0.0.8')));
    expect(one).toEqual({
      open: MAX_HANDSHAKES_PER_ADDRESS,
      refused: 8 - MAX_HANDSHAKES_PER_ADDRESS,
    });
    // Many addresses: no more than the cap in all.
    const many = Array.from(
      { length: 9 * MAX_HANDSHAKES_PER_ADDRESS },
      (_, i) => `127.0.1.${1 + (i % 9)}`,
    );
    const all = tally(await idle(many));
    expect(all.open + one.open).toBe(MAX_INBOUND_HANDSHAKES);
    expect(all.refused).toBe(many.length - all.open);
    await waitFor(
      () => n2.lines.find((l) => /connections are already in their handshake/.test(l.msg)),
      5000,
      'n2 to log the refusal',
    );
    // Once they are gone, a peer gets in again.
    for (const ws of sockets) ws.terminate();
    const again = await waitFor(
      () =>
        RawMeshPeer.connect({
          target: n2.address,
          secret: CLUSTER_SECRET,
          nodeId: 'late',
          address: `127.0.0.9:${cluster!.port}`,
          localAddress: '127.0.0.9',
        }).catch(() => null),
      10_000,
      'a peer to link after the idle connections closed',
      200,
    );
    again.terminate();
    expect(n2.alive).toBe(true);
  });

  it('does not stop when a refused caller resets its connection, nor keep one it never closes', async () => {
    const [host, port] = [n2.address.split(':')[0]!, Number(n2.address.split(':')[1])];
    const upgrade = [
      `GET ${MESH_PATH} HTTP/1.1`,
      `Host: ${n2.address}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      '',
      '',
    ].join('\r\n');
    // Half-open allowed: a caller that does not close its side when the node closes its own.
    const dial = () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect({ host, port, localAddress: '127.0.0.6', allowHalfOpen: true }, () =>
          resolve(s),
        );
        s.on('error', () => {});
        s.once('error', reject);
      });
    // The address's quota of handshakes taken by connections that never say hello.
    const idle = await Promise.all(
      Array.from({ length: MAX_HANDSHAKES_PER_ADDRESS }, async () => {
        const s = await dial();
        s.write(upgrade);
        await once(s, 'data');
        return s;
      }),
    );
    try {
      // Refused, and gone before the refusal is written: many times over.
      for (let i = 0; i < 30; i++) {
        const s = await dial();
        s.write(upgrade);
        s.resetAndDestroy();
      }
      // Refused and never closed by the caller: the node lets go of it all the same (what the
      // caller writes next is refused by the kernel, not kept in a socket nobody reads).
      const lingering = await dial();
      lingering.setEncoding('utf8');
      let answer = '';
      let failed = false;
      lingering.on('data', (d: string) => (answer += d));
      lingering.on('error', () => (failed = true));
      lingering.write(upgrade);
      await once(lingering, 'end');
      expect(answer).toMatch(/^HTTP\/1\.1 503 /);
      await waitFor(
        () => {
          if (!failed && !lingering.destroyed) lingering.write('more\r\n');
          return failed || lingering.destroyed || null;
        },
        5000,
        'the node to have closed the refused connection',
        100,
      );
      // Still a node: it answers its health check.
      expect(n2.alive).toBe(true);
      expect((await fetch(`${n2.url}/health_check`)).status).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});
