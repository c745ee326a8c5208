import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../support/memory-network.js';

function trace(seed: number): string[] {
  const net = new MemoryNetwork({
    seed,
    drop: 0.2,
    duplicate: 0.3,
    reorder: 3,
    autoDeliver: false,
  });
  const a = net.join('a');
  const b = net.join('b');
  net.connect('a', 'b');
  const got: string[] = [];
  b.onMessage((from, body) => got.push(`${from}:${JSON.stringify(body)}`));
  for (let i = 0; i < 50; i++) a.send('b', { i });
  while (net.pending > 0) net.deliver();
  return got;
}

describe('MemoryNetwork', () => {
  it('delivers copies of JSON bodies between connected nodes', async () => {
    const net = new MemoryNetwork();
    const a = net.join('a');
    const b = net.join('b');
    const ups: string[] = [];
    a.onPeerUp((m) => ups.push(`a sees ${m.id}`));
    b.onPeerUp((m) => ups.push(`b sees ${m.id}`));
    await Promise.resolve();
    expect(ups.sort()).toEqual(['a sees b', 'b sees a']);
    expect(a.peers().map((p) => p.id)).toEqual(['b']);
    const body = { n: 1, nested: { x: [1, 2] } };
    const received: unknown[] = [];
    b.onMessage((from, msg) => received.push([from, msg]));
    expect(a.broadcast(body)).toEqual(['b']);
    body.n = 2; // the receiver must not see the sender's later mutation
    await net.settle();
    expect(received).toEqual([['a', { n: 1, nested: { x: [1, 2] } }]]);
  });

  it('is deterministic for a seed: drops, duplicates and reordering', () => {
    const first = trace(42);
    expect(trace(42)).toEqual(first);
    expect(trace(43)).not.toEqual(first);
    expect(first.length).not.toBe(50);
    const order = first.map((line) => Number(/"i":(\d+)/.exec(line)?.[1]));
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('cut and reconnect fire peer down and up on both sides and lose in-flight messages', () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const a = net.join('a');
    const b = net.join('b');
    net.connect('a', 'b');
    const events: string[] = [];
    a.onPeerDown((m) => events.push(`a lost ${m.id}`));
    b.onPeerDown((m) => events.push(`b lost ${m.id}`));
    a.onPeerUp((m) => events.push(`a found ${m.id}`));
    let got = 0;
    b.onMessage(() => got++);
    a.send('b', 'x');
    net.disconnect('a');
    expect(a.send('b', 'y')).toBe(false);
    expect(a.peers()).toEqual([]);
    net.deliver();
    expect(got).toBe(0);
    net.reconnect('a');
    expect(events).toEqual(['a lost b', 'b lost a', 'a found b']);
    expect(a.send('b', 'z')).toBe(true);
    net.deliver();
    expect(got).toBe(1);
  });

  it('announces lifecycle states to peers', () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const a = net.join('a');
    net.join('b');
    net.connect('a', 'b');
    const states: string[] = [];
    a.onPeerState((m) => states.push(`${m.id}:${m.state}`));
    net.setState('b', 'draining');
    expect(states).toEqual(['b:draining']);
    expect(a.peers()[0]?.state).toBe('draining');
  });
});
