import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { MemoryNetwork } from '../../support/memory-network.js';
import { compareVersion, type StoreRecord as GameRecord } from '../../../src/replication/record.js';
import type { WriteOutcome } from '../../../src/replication/pending-writes.js';
import { addNode, cluster, contents, record, type TestNode } from './helpers.js';

const stopAll: TestNode[] = [];
afterEach(() => {
  for (const node of stopAll.splice(0)) node.sync.stop();
  vi.useRealTimers();
});
function track<T extends { nodes: TestNode[] }>(c: T): T {
  stopAll.push(...c.nodes);
  return c;
}

/** Resolution state of a promise, without waiting for it. */
function watch<T>(promise: Promise<T>): { done: boolean; value: T | undefined } {
  const w = { done: false, value: undefined as T | undefined };
  void promise.then((value) => {
    w.done = true;
    w.value = value;
  });
  return w;
}
const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ReplicaSync writes', () => {
  it('resolves a write only after another node applied it', async () => {
    const { net, nodes } = track(await cluster(['a', 'b'], { autoDeliver: false }));
    const [a, b] = nodes as [TestNode, TestNode];
    while (net.pending > 0) net.deliver(); // the peer-up exchanges
    const w = watch(a.sync.write(record('KEPS', 1, 'a', 1)));
    await microtasks();
    expect(w.done).toBe(false);
    expect(a.replica.get('KEPS')).toBeDefined(); // applied locally at once
    expect(b.replica.get('KEPS')).toBeUndefined();
    net.deliver(); // op reaches b, b applies and acks
    expect(b.replica.get('KEPS')?.seq).toBe(1);
    await microtasks();
    expect(w.done).toBe(false);
    net.deliver(); // the ack reaches a
    await microtasks();
    expect(w.value).toEqual({ kind: 'acked', acked: ['b'] });
    expect(a.sync.stats()).toMatchObject({ opsOut: 1, records: 1, pendingWrites: 0 });
    expect(b.sync.stats()).toMatchObject({ opsIn: 1, records: 1 });
  });

  it('a write sent to be saved is acknowledged once a peer saved it, and says so', async () => {
    const { net, nodes } = track(await cluster(['a', 'b', 'c'], { autoDeliver: false }));
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    while (net.pending > 0) net.deliver();
    let release: (out: 'saved') => void = () => undefined;
    const asked: string[] = [];
    // b has no database (it cannot save); c saves, once released.
    b.sync.persistWith((rec) => {
      asked.push(`b:${rec.key}/${rec.seq}`);
      return Promise.resolve('unavailable');
    });
    c.sync.persistWith((rec) => {
      asked.push(`c:${rec.key}/${rec.seq}`);
      return new Promise((r) => (release = r));
    });
    const plain = watch(a.sync.write(record('FREE', 1, 'a', 1)));
    const kept = watch(a.sync.write(record('HOLD', 1, 'a', 1), true));
    while (net.pending > 0) net.deliver();
    await microtasks();
    while (net.pending > 0) net.deliver();
    await microtasks();
    // A plain write asks nobody to save it and settles on the first ack.
    expect(asked).toEqual(['b:HOLD/1', 'c:HOLD/1']);
    expect(plain.value).toMatchObject({ kind: 'acked' });
    expect(plain.value).not.toHaveProperty('saved');
    // b answered "not saved": the write waits for c.
    expect(kept.done).toBe(false);
    release('saved');
    await microtasks();
    while (net.pending > 0) net.deliver();
    await microtasks();
    expect(kept.value).toEqual({ kind: 'acked', acked: ['c'], saved: true });
    // Replicas hold only what a database holds: c applied it once saved, the writer once c had;
    // b, which could not save it, never applied it.
    expect(c.replica.get('HOLD')?.seq).toBe(1);
    expect(a.replica.get('HOLD')?.seq).toBe(1);
    expect(b.replica.get('HOLD')).toBeUndefined();
  });

  it('a write sent to be saved that no peer could save settles once every peer answered', async () => {
    const { net, nodes } = track(await cluster(['a', 'b', 'c'], { autoDeliver: false }));
    const [a, b] = nodes as [TestNode, TestNode, TestNode];
    while (net.pending > 0) net.deliver();
    b.sync.persistWith(() => Promise.resolve('unavailable'));
    // c never set how to save: it answers "not saved" too.
    const kept = watch(a.sync.write(record('HOLD', 1, 'a', 1), true));
    for (let i = 0; i < 4; i++) {
      while (net.pending > 0) net.deliver();
      await microtasks();
    }
    expect(kept.value).toMatchObject({ kind: 'acked', saved: false });
    // Saved nowhere, so held nowhere: not by the writer either.
    for (const n of nodes) expect(n.replica.get('HOLD'), n.id).toBeUndefined();
    expect([...(kept.value as { acked: string[] }).acked].sort()).toEqual(['b', 'c']);
  });

  it("a peer whose database holds a newer owner's version fences a write sent to be saved", async () => {
    const { net, nodes } = track(await cluster(['a', 'b'], { autoDeliver: false }));
    const [a, b] = nodes as [TestNode, TestNode];
    while (net.pending > 0) net.deliver();
    b.sync.persistWith(() => Promise.resolve({ newer: { epoch: 2, owner: 'b', seq: 0 } }));
    const kept = watch(a.sync.write(record('HOLD', 1, 'a', 1), true));
    for (let i = 0; i < 3; i++) {
      while (net.pending > 0) net.deliver();
      await microtasks();
    }
    expect(kept.value).toMatchObject({ kind: 'fenced', current: { epoch: 2, owner: 'b', seq: 0 } });
  });

  it('resolves at once with no ack when there is no live peer', async () => {
    const { nodes } = track(await cluster(['solo']));
    const outcome = await (nodes[0] as TestNode).sync.write(record('KEPS', 1, 'solo', 1));
    expect(outcome).toEqual({ kind: 'alone', acked: [] });
  });

  it('a duplicate ack still counts: a retried write resolves acked', async () => {
    const { nodes } = track(await cluster(['a', 'b']));
    const a = nodes[0] as TestNode;
    await a.sync.write(record('KEPS', 1, 'a', 1));
    expect(await a.sync.write(record('KEPS', 1, 'a', 1))).toEqual({ kind: 'acked', acked: ['b'] });
  });

  it('times out when no peer answers within ackTimeoutMs', async () => {
    const { net, nodes } = track(await cluster(['a', 'b'], {}, { ackTimeoutMs: 30 }));
    const a = nodes[0] as TestNode;
    net.options.drop = 1;
    const outcome = await a.sync.write(record('KEPS', 1, 'a', 1));
    expect(outcome).toEqual({ kind: 'timed-out', acked: [], timedOut: true });
    expect(a.logger.at('warn').some((l) => l.msg.includes('not acknowledged'))).toBe(true);
    expect(a.sync.stats().pendingWrites).toBe(0);
  });

  it('times out as soon as the last waiting peer goes down', async () => {
    const { net, nodes } = track(
      await cluster(['a', 'b', 'c'], { autoDeliver: false }, { ackTimeoutMs: 60_000 }),
    );
    const a = nodes[0] as TestNode;
    const w = watch(a.sync.write(record('KEPS', 1, 'a', 1)));
    net.cut('a', 'b');
    await microtasks();
    expect(w.done).toBe(false);
    net.cut('a', 'c');
    await microtasks();
    expect(w.value).toEqual({ kind: 'timed-out', acked: [], timedOut: true });
  });

  it('a stale writer is told it is fenced, with the version that beat it', async () => {
    const { net, nodes } = track(await cluster(['a', 'b', 'c'], { autoDeliver: false }));
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    while (net.pending > 0) net.deliver();
    // a owns the game; then a is cut off and b adopts it with a higher epoch.
    const first = a.sync.write(record('KEPS', 1, 'a', 1));
    while (net.pending > 0) net.deliver();
    expect(await first).toMatchObject({ kind: 'acked' });
    net.disconnect('a');
    const adoption = b.sync.write(record('KEPS', 2, 'b', 0));
    while (net.pending > 0) net.deliver();
    expect(await adoption).toEqual({ kind: 'acked', acked: ['c'] });
    // a comes back and, before anti-entropy reaches it, writes as the old owner.
    net.reconnect('a');
    const late = a.sync.write(record('KEPS', 1, 'a', 2));
    while (net.pending > 0) net.deliver();
    const outcome = await late;
    expect(outcome).toMatchObject({
      kind: 'fenced',
      fenced: true,
      current: { epoch: 2, owner: 'b', seq: 0 },
    });
    await microtasks();
    while (net.pending > 0) net.deliver();
    // Nobody took the late write, and a learned the new owner.
    for (const node of [a, b, c])
      expect(node.replica.get('KEPS')).toMatchObject({ epoch: 2, owner: 'b' });
    expect(b.logger.at('info').some((l) => l.msg.includes('stale op for KEPS'))).toBe(true);
    // Writing again as the old owner is now refused locally, without the network.
    expect(await a.sync.write(record('KEPS', 1, 'a', 3))).toMatchObject({
      kind: 'fenced',
      current: { epoch: 2, owner: 'b', seq: 0 },
    });
  });

  it('rejects an invalid or oversized record without applying it', async () => {
    const { nodes } = track(await cluster(['a', 'b'], {}, { maxMessageBytes: 8192 }));
    const a = nodes[0] as TestNode;
    const bad = await a.sync.write({ ...record('KEPS', 1, 'a', 1), key: 'keps' });
    expect(bad).toMatchObject({ kind: 'rejected', acked: [] });
    const big = await a.sync.write(record('KEPS', 1, 'a', 1, { payload: 'x'.repeat(10_000) }));
    expect(big).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('limit 8192') });
    expect(a.replica.size).toBe(0);
    // Reusing a version for a different record is a writer bug: refused, not fenced.
    await a.sync.write(record('KEPS', 1, 'a', 1));
    const reused = await a.sync.write({ ...record('KEPS', 1, 'a', 1), at: 5 });
    expect(reused).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('already names'),
    });
  });
});

describe('ReplicaSync change events', () => {
  it('reports local writes, remote ops and anti-entropy repairs, tombstones as undefined', async () => {
    const { net, nodes } = track(await cluster(['a', 'b']));
    const [a, b] = nodes as [TestNode, TestNode];
    const seen: string[] = [];
    b.sync.onChange((key, current, previous, applied) =>
      seen.push(
        `${key} ${current?.seq ?? '-'} ${previous?.seq ?? '-'} ${applied.state === null ? 'tomb' : 'live'}`,
      ),
    );
    b.sync.onChange(() => {
      throw new Error('a broken listener must not break replication');
    });
    await b.sync.write(record('BBBB', 1, 'b', 0));
    await a.sync.write(record('KEPS', 1, 'a', 1));
    await a.sync.write(record('KEPS', 1, 'a', 2));
    await a.sync.write(record('KEPS', 1, 'a', 3, { tombstone: true }));
    net.cut('a', 'b');
    a.replica.apply(record('LATE', 1, 'a', 0)); // reaches b only by anti-entropy
    net.connect('a', 'b');
    await net.settle();
    expect(seen).toEqual([
      'BBBB 0 - live',
      'KEPS 1 - live',
      'KEPS 2 1 live',
      'KEPS - 2 tomb',
      'LATE 0 - live',
    ]);
    expect(b.logger.at('warn').some((l) => l.msg.includes('change listener failed'))).toBe(true);
  });
});

describe('ReplicaSync anti-entropy', () => {
  it('three nodes converge despite dropped, duplicated and reordered messages', async () => {
    const writeArb = fc.record({
      node: fc.nat(2),
      key: fc.constantFrom('AAAA', 'BBBB', 'CCCC', 'DDDD', 'EEEE'),
      epoch: fc.nat(3),
      seq: fc.nat(20),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1e9 }),
        fc.array(writeArb, { minLength: 1, maxLength: 40 }),
        async (seed, writes) => {
          const net = new MemoryNetwork({ seed, drop: 0.3, duplicate: 0.3, reorder: 4 });
          const nodes = ['n0', 'n1', 'n2'].map((id) => addNode(net, id, { ackTimeoutMs: 20 }));
          await Promise.resolve();
          const written: GameRecord[] = [];
          const outcomes: Promise<WriteOutcome>[] = [];
          for (const w of writes) {
            const node = nodes[w.node] as TestNode;
            // One version names one write: whether it is a tombstone follows from the version.
            const rec = record(w.key, w.epoch, node.id, w.seq, {
              tombstone: (w.seq + w.epoch) % 4 === 0,
            });
            written.push(rec);
            outcomes.push(node.sync.write(rec));
          }
          await net.settle();
          await Promise.all(outcomes); // every write resolves (acked, timed out or fenced)
          // The weather clears; one anti-entropy round per node repairs everything.
          net.options.drop = 0;
          net.options.duplicate = 0;
          const results = await Promise.all(nodes.map((n) => n.sync.catchUp(2000)));
          for (const r of results) expect(r.missing).toEqual([]);
          await net.settle();
          const expected = new Map<string, GameRecord>();
          for (const rec of written) {
            const held = expected.get(rec.key);
            if (held === undefined || compareVersion(rec, held) > 0) expected.set(rec.key, rec);
          }
          const want = [...expected.values()].sort((x, y) => (x.key < y.key ? -1 : 1));
          for (const node of nodes) expect(contents(node.replica)).toEqual(want);
          for (const node of nodes) node.sync.stop();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a late joiner catches up through catchUp(), over many small reordered messages', async () => {
    const options = { maxMessageBytes: 4096 };
    const { net, nodes } = track(
      await cluster(['a', 'b'], { reorder: 5, duplicate: 0.2, seed: 7 }, options),
    );
    const [a, b] = nodes as [TestNode, TestNode];
    const codes: string[] = [];
    for (let i = 0; codes.length < 300; i++) {
      codes.push(
        String.fromCharCode(
          65 + (i % 26),
          65 + ((i / 26) % 26),
          65 + ((i * 7) % 26),
          65 + ((i * 11) % 26),
        ),
      );
    }
    // Written straight into the replicas: only anti-entropy can ship them.
    codes.forEach((code, i) =>
      (i % 2 === 0 ? a : b).replica.apply(
        record(code, 1, i % 2 === 0 ? 'a' : 'b', i, { payload: 'p'.repeat(150) }),
      ),
    );
    a.replica.apply(record('ZZZZ', 1, 'a', 1, { tombstone: true }));
    const c = addNode(net, 'c', options);
    stopAll.push(c);
    await Promise.resolve(); // links come up; the peer-up exchanges start but are in flight
    expect(c.sync.stats().exchanges).toBe(2);
    const result = await c.sync.catchUp(2000);
    // Resolved only once every part of every answer arrived, however they were reordered.
    expect(result.answered.sort()).toEqual(['a', 'b']);
    expect(result.missing).toEqual([]);
    expect(c.replica.size).toBe(new Set(codes).size + 1);
    expect(c.replica.getAny('ZZZZ')?.state).toBeNull();
    // a and b never exchanged since those direct writes; their own catch-up repairs them.
    await Promise.all([a.sync.catchUp(2000), b.sync.catchUp(2000)]);
    await net.settle();
    expect(contents(a.replica)).toEqual(contents(c.replica));
    expect(contents(b.replica)).toEqual(contents(c.replica));
    expect(c.sync.stats().lastCatchUpMs).not.toBeNull();
    // Nothing was rejected: every message fitted the 4 KiB limit.
    for (const node of [a, b, c]) expect(node.sync.stats().rejectedIn).toBe(0);
  });

  it('catchUp() waits for every part of a split answer, in whatever order they come', async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const c = addNode(net, 'c');
    stopAll.push(c);
    const peer = net.join('p');
    const digests: { id: string }[] = [];
    peer.onMessage((_from, body) => digests.push(body as { id: string }));
    net.connect('c', 'p');
    net.deliver(); // c's peer-up digest
    digests.length = 0;
    const done = watch(c.sync.catchUp(5000));
    net.deliver();
    const id = (digests[0] as { id: string }).id;
    const part = (n: number) => ({
      type: 'records',
      id,
      records: [record(n === 0 ? 'AAAA' : 'BBBB', 1, 'p', 0)],
      part: n,
      parts: 2,
    });
    peer.send('c', part(1));
    peer.send('c', part(1)); // a duplicate does not count twice
    net.deliver();
    await microtasks();
    expect(done.done).toBe(false);
    peer.send('c', part(0));
    net.deliver();
    await microtasks();
    expect(done.value).toMatchObject({ answered: ['p'], missing: [] });
    expect(c.replica.size).toBe(2);
  });

  it('a link that broke and came back gets its unanswered writes and digests again', async () => {
    // Without resending, the write below waits for its timeout (a minute) and the catch-up for
    // its own: what a node joining the cluster waited before it became ready.
    const { net, nodes } = track(
      await cluster(['a', 'b'], { autoDeliver: false }, { ackTimeoutMs: 60_000 }),
    );
    const [a, b] = nodes as [TestNode, TestNode];
    while (net.pending > 0) net.deliver(); // the peer-up exchanges
    b.replica.apply(record('ZORB', 1, 'b', 1)); // only b holds it: a learns it by catching up
    const write = watch(a.sync.write(record('KEPS', 1, 'a', 1)));
    const caught = watch(a.sync.catchUp(60_000));
    await microtasks();
    net.relink('a', 'b'); // the op and the digest were on the old link
    expect(b.replica.get('KEPS')).toBeUndefined();
    while (net.pending > 0) {
      net.deliver();
      await microtasks();
    }
    expect(b.replica.get('KEPS')?.seq).toBe(1);
    expect(write.value).toEqual({ kind: 'acked', acked: ['b'] });
    expect(caught.value).toMatchObject({ answered: ['b'], missing: [] });
    expect(a.replica.get('ZORB')?.seq).toBe(1);
    expect(net.counts.dropped).toBeGreaterThan(0);
  });

  it('catchUp() resolves at its timeout when a peer never answers', async () => {
    const { net, nodes } = track(await cluster(['a', 'b']));
    net.options.drop = 1;
    const result = await (nodes[0] as TestNode).sync.catchUp(30);
    expect(result).toMatchObject({ answered: [], missing: ['b'] });
  });

  it('catchUp() with no peers resolves at once', async () => {
    const { nodes } = track(await cluster(['solo']));
    expect(await (nodes[0] as TestNode).sync.catchUp(1000)).toMatchObject({
      answered: [],
      missing: [],
    });
  });

  it('runs anti-entropy and compaction periodically between start() and stop()', async () => {
    vi.useFakeTimers();
    let now = 1_000_000;
    const net = new MemoryNetwork({ autoDeliver: false });
    const a = addNode(net, 'a', { antiEntropyMs: 1000, tombstoneTtlMs: 5000, now: () => now });
    const b = addNode(net, 'b', { antiEntropyMs: 1000, now: () => now });
    net.connect('a', 'b');
    while (net.pending > 0) net.deliver();
    b.replica.apply(record('KEPS', 1, 'b', 1));
    a.replica.apply(record('GONE', 1, 'a', 1, { tombstone: true, at: now }));
    a.sync.start();
    vi.advanceTimersByTime(999);
    expect(net.pending).toBe(0);
    vi.advanceTimersByTime(1);
    expect(net.pending).toBe(1); // a's digest to b
    while (net.pending > 0) net.deliver();
    expect(a.replica.get('KEPS')).toBeDefined();
    now += 6000;
    vi.advanceTimersByTime(1000);
    expect(a.replica.getAny('GONE')).toBeUndefined();
    a.sync.stop();
    b.sync.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() resolves pending writes and clears their timers', async () => {
    const { nodes } = track(await cluster(['a', 'b'], { autoDeliver: false }));
    const a = nodes[0] as TestNode;
    const pending = a.sync.write(record('KEPS', 1, 'a', 1));
    a.sync.stop();
    expect(await pending).toMatchObject({ kind: 'timed-out' });
    expect(await a.sync.write(record('KEPS', 1, 'a', 2))).toMatchObject({ kind: 'rejected' });
  });
});

describe('ReplicaSync against bad peers', () => {
  it('counts only acks from peers the op was sent to', async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const a = addNode(net, 'a');
    stopAll.push(a);
    const spy = net.join('spy');
    const rogue = net.join('rogue');
    net.connect('a', 'spy');
    const ops: { id: string }[] = [];
    spy.onMessage((_from, body) => {
      if ((body as { type: string }).type === 'op') ops.push(body as { id: string });
    });
    while (net.pending > 0) net.deliver();
    const w = watch(a.sync.write(record('KEPS', 1, 'a', 1)));
    net.deliver();
    const id = (ops[0] as { id: string }).id;
    net.connect('a', 'rogue');
    rogue.send('a', { type: 'ack', id, result: 'applied' });
    while (net.pending > 0) net.deliver();
    await microtasks();
    expect(w.done).toBe(false);
    spy.send('a', { type: 'ack', id, result: 'duplicate' });
    net.deliver();
    await microtasks();
    expect(w.value).toEqual({ kind: 'acked', acked: ['spy'] });
  });

  it('drops malformed, unknown, oversized and stale messages with a log line, state intact', async () => {
    const net = new MemoryNetwork();
    const a = addNode(net, 'a', { maxMessageBytes: 8192, ackTimeoutMs: 20 });
    stopAll.push(a);
    const rogue = net.join('rogue');
    const replies: unknown[] = [];
    rogue.onMessage((_from, body) => replies.push(body));
    await Promise.resolve();
    await net.settle();
    await a.sync.write(record('KEPS', 3, 'a', 5));
    const before = contents(a.replica);
    replies.length = 0;
    const bodies: unknown[] = [
      'garbage',
      42,
      null,
      { type: 'op' },
      { type: 'teleport', id: 'x' },
      { type: 'op', id: 'x', record: { ...record('KEPS', 9, 'rogue', 0), key: 'kep' } },
      { type: 'op', id: 'x', record: { ...record('KEPS', 9, 'rogue', 0), epoch: -4 } },
      { type: 'op', id: 'x', record: { ...record('KEPS', 9, 'rogue', 0), owner: 'x'.repeat(100) } },
      { type: 'op', id: 'x', record: record('KEPS', 9, 'rogue', 0, { payload: 'x'.repeat(9000) }) },
      { type: 'records', id: 'x', records: [{ key: 'KEPS' }] },
      { type: 'digest', id: 'x', entries: 'all of them' },
    ];
    for (const body of bodies) expect(rogue.send('a', body)).toBe(true);
    await net.settle();
    expect(contents(a.replica)).toEqual(before);
    expect(a.sync.stats().rejectedIn).toBe(bodies.length);
    const warnings = a.logger.at('warn').filter((l) => l.msg.includes('dropped'));
    expect(warnings).toHaveLength(bodies.length);
    expect(warnings.every((l) => (l.obj as { peer: string }).peer === 'rogue')).toBe(true);
    expect(warnings.some((l) => (l.obj as { code: string }).code === 'too-large')).toBe(true);
    expect(replies).toEqual([]); // nothing is answered to an invalid message

    // A valid but stale op (an old epoch) is refused, answered with the current version.
    rogue.send('a', { type: 'op', id: 'r:1', record: record('KEPS', 2, 'zzz', 99) });
    await net.settle();
    expect(replies).toEqual([
      { type: 'ack', id: 'r:1', result: 'stale', current: { epoch: 3, owner: 'a', seq: 5 } },
    ]);
    expect(contents(a.replica)).toEqual(before);
    expect(a.sync.stats().staleIn).toBe(1);
    expect(a.logger.at('info').some((l) => l.msg.includes('stale op for KEPS from rogue'))).toBe(
      true,
    );

    // Still working afterwards.
    rogue.send('a', { type: 'op', id: 'r:2', record: record('KEPS', 4, 'rogue', 0) });
    await net.settle();
    expect(a.replica.get('KEPS')?.owner).toBe('rogue');
  });
});
