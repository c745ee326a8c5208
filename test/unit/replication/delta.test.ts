// Writes as deltas: a peer that can take them gets only the members of the state that changed
// since the owner's write before; it applies them onto exactly that version, or says it lacks it
// and gets the whole record; a peer of an older release gets whole records throughout.

import { afterEach, describe, expect, it } from 'vitest';
import type { MeshChannel } from '../../../src/cluster/types.js';
import { DELTA_CAPABILITY } from '../../../src/replication/protocol.js';
import type { StoreRecord } from '../../../src/replication/record.js';
import { Replica } from '../../../src/replication/replica.js';
import { ReplicaSync, type ReplicaSyncOptions } from '../../../src/replication/sync.js';
import { MemoryNetwork } from '../../support/memory-network.js';
import { TestLogger } from './helpers.js';

interface Node {
  id: string;
  replica: Replica;
  sync: ReplicaSync;
  logger: TestLogger;
  /** Every replication message this node sent, with its addressee. */
  sent: { to: string; body: Record<string, unknown> }[];
}

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.sync.stop();
});

function join(
  net: MemoryNetwork,
  id: string,
  caps: string[] = [DELTA_CAPABILITY],
  options: Partial<ReplicaSyncOptions> = {},
): Node {
  const inner = net.join(id, { caps });
  const sent: Node['sent'] = [];
  const channel: MeshChannel = {
    ...inner,
    send: (to, body) => {
      sent.push({ to, body: body as Record<string, unknown> });
      return inner.send(to, body);
    },
    broadcast: (body) => {
      const ids = inner.broadcast(body);
      for (const to of ids) sent.push({ to, body: body as Record<string, unknown> });
      return ids;
    },
  };
  const replica = new Replica();
  const logger = new TestLogger();
  const sync = new ReplicaSync({ replica, channel, logger, ...options });
  const node = { id, replica, sync, logger, sent };
  nodes.push(node);
  return node;
}

async function settle(net: MemoryNetwork): Promise<void> {
  await Promise.resolve();
  await net.settle();
}

/** A game-like state: a big member that never changes, and small ones that do. */
const board = { walls: Array.from({ length: 50 }, (_, i) => ({ q: i, r: 50 - i })) };
function write(
  owner: string,
  seq: number,
  state: Record<string, unknown>,
  epoch = 1,
): StoreRecord & { state: Record<string, unknown> } {
  return { key: 'KEPS', owner, epoch, seq, schema: 3, state, at: 1000 + seq };
}

const kinds = (n: Node, type: string) => n.sent.filter((m) => m.body.type === type);

describe('writes as deltas', () => {
  it('sends a peer only the members that changed, and the peer holds the same record', async () => {
    const net = new MemoryNetwork();
    const a = join(net, 'a');
    const b = join(net, 'b');
    await settle(net);
    const s1 = { board, round: 1, submitted: {}, gone: 'x' };
    expect(await a.sync.write(write('a', 1, s1))).toEqual({ kind: 'acked', acked: ['b'] });
    // The first write of a key is whole: there is no version before it.
    expect(kinds(a, 'op')).toHaveLength(1);
    const s2: Record<string, unknown> = { board, round: 1, submitted: { p1: { id: 'x1' } } };
    expect(await a.sync.write(write('a', 2, s2))).toEqual({ kind: 'acked', acked: ['b'] });
    const [delta] = kinds(a, 'delta');
    expect(delta?.body).toMatchObject({
      key: 'KEPS',
      owner: 'a',
      epoch: 1,
      seq: 2,
      base: 1,
      set: { submitted: { p1: { id: 'x1' } } },
      unset: ['gone'],
    });
    expect(Object.keys(delta?.body.set as object)).toEqual(['submitted']);
    expect(JSON.stringify(delta?.body).length).toBeLessThan(JSON.stringify(s2).length / 4);
    expect(b.replica.getAny('KEPS')).toEqual(a.replica.getAny('KEPS'));
    expect(a.sync.stats()).toMatchObject({ opsOut: 2, deltasOut: 1, missingIn: 0 });
  });

  it('sends the whole record to a peer that lacks the base, and the write is acknowledged', async () => {
    const net = new MemoryNetwork();
    const a = join(net, 'a', [DELTA_CAPABILITY], { ackTimeoutMs: 100 });
    const b = join(net, 'b');
    await settle(net);
    // b misses the first write (its message lost): the next delta has nothing to apply to.
    net.options.drop = 1;
    expect(await a.sync.write(write('a', 1, { board, round: 1 }))).toMatchObject({
      kind: 'timed-out',
    });
    net.options.drop = 0;
    const outcome = await a.sync.write(write('a', 2, { board, round: 2 }));
    expect(outcome).toEqual({ kind: 'acked', acked: ['b'] });
    expect(kinds(b, 'ack').map((m) => m.body.result)).toEqual(['missing', 'applied']);
    expect(kinds(a, 'delta').at(-1)?.body).toMatchObject({ seq: 2, base: 1 });
    expect(kinds(a, 'op').at(-1)?.body).toMatchObject({ record: { seq: 2 } });
    expect(b.replica.getAny('KEPS')?.state).toEqual({ board, round: 2 });
    expect(a.sync.stats().missingIn).toBe(1);
  });

  it('answers a delta of a version it holds as a duplicate, of an older one as stale', async () => {
    const net = new MemoryNetwork();
    const a = join(net, 'a');
    const b = join(net, 'b');
    const c = net.join('c', { caps: [DELTA_CAPABILITY] });
    const answers: unknown[] = [];
    c.onMessage((_from, body) => answers.push(body));
    await settle(net);
    await a.sync.write(write('a', 1, { board, round: 1 }));
    await a.sync.write(write('a', 2, { board, round: 2 }));
    const delta = kinds(a, 'delta').find((m) => m.to === 'b')?.body;
    // The same delta again (sent once more after a link changed): a duplicate, nothing changes.
    const held = b.replica.getAny('KEPS');
    c.send('b', delta);
    await settle(net);
    expect(b.replica.getAny('KEPS')).toBe(held);
    expect(answers).toContainEqual(expect.objectContaining({ type: 'ack', result: 'duplicate' }));
    // A newer epoch of another owner at b: a later delta of a's is stale there.
    b.replica.apply(write('c', 1, { board, round: 9 }, 2));
    c.send('b', { ...delta, id: 'c:x:1', seq: 3, base: 2 });
    await settle(net);
    expect(b.replica.getAny('KEPS')?.owner).toBe('c');
    expect(answers).toContainEqual(
      expect.objectContaining({
        type: 'ack',
        result: 'stale',
        current: { epoch: 2, owner: 'c', seq: 1 },
      }),
    );
  });

  it('sends whole records to a peer of an older release', async () => {
    const net = new MemoryNetwork();
    const a = join(net, 'a');
    const old = join(net, 'old', []);
    const b = join(net, 'b');
    await settle(net);
    for (let seq = 1; seq <= 4; seq++)
      await a.sync.write(write('a', seq, { board, round: seq, submitted: { [`p${seq}`]: 1 } }));
    expect(a.sent.filter((m) => m.to === 'old').map((m) => m.body.type)).toEqual(
      expect.arrayContaining(['op']),
    );
    expect(a.sent.some((m) => m.to === 'old' && m.body.type === 'delta')).toBe(false);
    expect(a.sent.filter((m) => m.to === 'b' && m.body.type === 'delta')).toHaveLength(3);
    expect(old.replica.getAny('KEPS')).toEqual(a.replica.getAny('KEPS'));
    expect(b.replica.getAny('KEPS')).toEqual(a.replica.getAny('KEPS'));
  });

  it('checks only the changed members of a delta, and refuses a bad one unacknowledged', async () => {
    const checked: string[][] = [];
    const net = new MemoryNetwork();
    const a = join(net, 'a', [DELTA_CAPABILITY], { ackTimeoutMs: 200 });
    const b = join(net, 'b', [DELTA_CAPABILITY], {
      checkContent: () => undefined,
      checkChanged: (record, changed) => {
        checked.push([...changed]);
        return (record.state as { round: unknown }).round === 'bad' ? 'round: bad' : undefined;
      },
    });
    await settle(net);
    await a.sync.write(write('a', 1, { board, round: 1 }));
    expect(checked).toEqual([]);
    await a.sync.write(write('a', 2, { board, round: 2 }));
    expect(checked).toEqual([['round']]);
    const outcome = await a.sync.write(write('a', 3, { board, round: 'bad' }));
    expect(outcome).toMatchObject({ kind: 'timed-out' });
    expect(b.replica.getAny('KEPS')?.seq).toBe(2);
    expect(b.logger.at('warn').some((l) => l.msg.includes('refused: round: bad'))).toBe(true);
  });

  it('refuses a delta whose member names could reach a prototype', async () => {
    const net = new MemoryNetwork();
    const b = join(net, 'b');
    const c = net.join('c', { caps: [DELTA_CAPABILITY] });
    await settle(net);
    b.replica.apply(write('c', 1, { board, round: 1 }));
    c.send(
      'b',
      JSON.parse(
        '{"type":"delta","id":"c:x:2","key":"KEPS","owner":"c","epoch":1,"seq":2,"base":1,"schema":3,"at":1,"set":{"__proto__":{"round":5}}}',
      ),
    );
    await settle(net);
    expect(b.replica.getAny('KEPS')?.seq).toBe(1);
    expect(b.sync.stats().rejectedIn).toBe(1);
    expect(Object.getPrototypeOf(b.replica.getAny('KEPS')?.state)).toBe(Object.prototype);
  });
});
