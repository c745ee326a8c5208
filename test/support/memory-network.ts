// An in-memory MeshChannel for unit tests: several node ids share one MemoryNetwork that can
// drop, duplicate and reorder messages (deterministically, from a
// seed) and cut or heal links, firing onPeerDown / onPeerUp like the real mesh.

import type {
  Member,
  MemberHandler,
  MeshChannel,
  MessageHandler,
  NodeState,
} from '../../src/cluster/types.js';
import { DELTA_CAPABILITY } from '../../src/replication/protocol.js';

export interface MemoryNetworkOptions {
  /** Seed of the generator that decides drops, duplicates and delays. */
  seed?: number;
  /** Probability (0..1) that a message is lost. */
  drop?: number;
  /** Probability (0..1) that a message is delivered twice. */
  duplicate?: number;
  /** Each copy is delayed by 0..reorder extra delivery steps, which reorders messages. */
  reorder?: number;
  /** Deliver on its own (setImmediate) rather than only on deliver()/settle(). */
  autoDeliver?: boolean;
}

const DEFAULTS: Required<MemoryNetworkOptions> = {
  seed: 1,
  drop: 0,
  duplicate: 0,
  reorder: 0,
  autoDeliver: true,
};

interface Envelope {
  due: number;
  order: number;
  from: string;
  to: string;
  body: unknown;
}

interface Node {
  member: Member;
  onMessage: MessageHandler[];
  onPeerUp: MemberHandler[];
  onPeerDown: MemberHandler[];
  onPeerState: MemberHandler[];
  onPeerRelink: MemberHandler[];
}

/** mulberry32: small, fast, good enough to make a test's network weather reproducible. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function linkId(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class MemoryNetwork {
  readonly options: Required<MemoryNetworkOptions>;
  readonly #random: () => number;
  readonly #nodes = new Map<string, Node>();
  readonly #links = new Set<string>();
  #queue: Envelope[] = [];
  #step = 0;
  #order = 0;
  #scheduled: NodeJS.Immediate | undefined;
  /** Counters for assertions: messages sent, delivered, dropped, duplicated. */
  readonly counts = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(options: MemoryNetworkOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    for (const p of ['drop', 'duplicate'] as const) {
      const v = this.options[p];
      if (!(v >= 0 && v <= 1)) throw new RangeError(`MemoryNetwork: ${p} must be in [0, 1]`);
    }
    if (!Number.isInteger(this.options.reorder) || this.options.reorder < 0) {
      throw new RangeError('MemoryNetwork: reorder must be a non-negative integer');
    }
    this.#random = generator(this.options.seed);
  }

  /** Adds a node connected to every node already present, and returns its channel. */
  join(id: string, member: Partial<Omit<Member, 'id'>> = {}): MeshChannel {
    if (this.#nodes.has(id)) throw new Error(`MemoryNetwork: node ${id} already joined`);
    const node: Node = {
      member: {
        id,
        address: member.address ?? `${id}.memory:0`,
        state: member.state ?? 'ready',
        version: member.version ?? '0.0.0',
        protocol: member.protocol ?? 1,
        schemas: member.schemas ?? [1],
        caps: member.caps ?? [DELTA_CAPABILITY],
        lastSeen: member.lastSeen ?? 0,
      },
      onMessage: [],
      onPeerUp: [],
      onPeerDown: [],
      onPeerState: [],
      onPeerRelink: [],
    };
    this.#nodes.set(id, node);
    const others = [...this.#nodes.keys()].filter((other) => other !== id);
    const channel = this.#channel(node);
    // Like the real mesh, peer-up events come after the caller had a chance to subscribe.
    queueMicrotask(() => {
      for (const other of others) if (this.#nodes.has(other)) this.connect(id, other);
    });
    return channel;
  }

  /** Removes a node for good (as if its process exited). */
  leave(id: string): void {
    this.disconnect(id);
    this.#nodes.delete(id);
  }

  /** Connects two nodes; both sides hear onPeerUp if they were not connected. */
  connect(a: string, b: string): void {
    const na = this.#nodes.get(a);
    const nb = this.#nodes.get(b);
    if (na === undefined || nb === undefined || a === b) return;
    const link = linkId(a, b);
    if (this.#links.has(link)) return;
    this.#links.add(link);
    for (const h of na.onPeerUp) h({ ...nb.member });
    for (const h of nb.onPeerUp) h({ ...na.member });
  }

  /** Cuts the link between two nodes; in-flight messages on it are lost. */
  cut(a: string, b: string): void {
    const link = linkId(a, b);
    if (!this.#links.delete(link)) return;
    this.#queue = this.#queue.filter(
      (e) => !((e.from === a && e.to === b) || (e.from === b && e.to === a)),
    );
    const na = this.#nodes.get(a);
    const nb = this.#nodes.get(b);
    if (na !== undefined && nb !== undefined) {
      for (const h of na.onPeerDown) h({ ...nb.member });
      for (const h of nb.onPeerDown) h({ ...na.member });
    }
  }

  /**
   * The link between two nodes broke and came back before either declared the other down:
   * what was in flight on it is lost, and both hear onPeerRelink (no down, no up).
   */
  relink(a: string, b: string): void {
    if (!this.#links.has(linkId(a, b))) return;
    const lost = this.#queue.length;
    this.#queue = this.#queue.filter(
      (e) => !((e.from === a && e.to === b) || (e.from === b && e.to === a)),
    );
    this.counts.dropped += lost - this.#queue.length;
    const na = this.#nodes.get(a);
    const nb = this.#nodes.get(b);
    if (na === undefined || nb === undefined) return;
    for (const h of na.onPeerRelink) h({ ...nb.member });
    for (const h of nb.onPeerRelink) h({ ...na.member });
  }

  /** Cuts every link of a node. */
  disconnect(id: string): void {
    for (const other of this.#nodes.keys()) if (other !== id) this.cut(id, other);
  }

  /** Connects a node to every other node. */
  reconnect(id: string): void {
    for (const other of this.#nodes.keys()) if (other !== id) this.connect(id, other);
  }

  /** Announces a node's new lifecycle state to its peers. */
  setState(id: string, state: NodeState): void {
    const node = this.#nodes.get(id);
    if (node === undefined) return;
    node.member.state = state;
    for (const peer of this.#peersOf(id)) {
      for (const h of this.#nodes.get(peer.id)?.onPeerState ?? []) h({ ...node.member });
    }
  }

  /** Messages waiting for delivery. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Delivers every message due at the next step; returns how many were delivered. */
  deliver(): number {
    if (this.#queue.length === 0) return 0;
    this.#queue.sort((x, y) => x.due - y.due || x.order - y.order);
    const first = this.#queue[0];
    if (first === undefined) return 0;
    this.#step = Math.max(this.#step, first.due);
    const due: Envelope[] = [];
    while (this.#queue.length > 0 && (this.#queue[0] as Envelope).due <= this.#step) {
      due.push(this.#queue.shift() as Envelope);
    }
    let delivered = 0;
    for (const e of due) {
      // The link may have been cut by a handler of an earlier message in this step.
      if (!this.#links.has(linkId(e.from, e.to))) continue;
      const node = this.#nodes.get(e.to);
      if (node === undefined) continue;
      this.counts.delivered++;
      delivered++;
      for (const h of node.onMessage) h(e.from, e.body);
    }
    return delivered;
  }

  /** Delivers until nothing is in flight (yielding between steps so promises settle). */
  async settle(maxSteps = 100_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#queue.length === 0) return;
      this.deliver();
    }
    throw new Error(`MemoryNetwork: still ${this.#queue.length} messages after ${maxSteps} steps`);
  }

  /** Stops automatic delivery (pending messages stay queued). */
  close(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.options.autoDeliver = false;
  }

  #peersOf(id: string): Member[] {
    const out: Member[] = [];
    for (const [other, node] of this.#nodes) {
      if (other !== id && this.#links.has(linkId(id, other))) out.push({ ...node.member });
    }
    return out;
  }

  #send(from: string, to: string, body: unknown): boolean {
    if (from === to || !this.#links.has(linkId(from, to))) return false;
    this.counts.sent++;
    // Serialise as the wire would, so a sender cannot share objects with a receiver.
    // undefined for undefined and functions, whatever lib.d.ts says
    const text = JSON.stringify(body) as string | undefined;
    if (this.#random() < this.options.drop) {
      this.counts.dropped++;
      return true;
    }
    let copies = 1;
    if (this.#random() < this.options.duplicate) {
      copies = 2;
      this.counts.duplicated++;
    }
    for (let i = 0; i < copies; i++) {
      const delay =
        this.options.reorder > 0 ? Math.floor(this.#random() * (this.options.reorder + 1)) : 0;
      this.#queue.push({
        due: this.#step + 1 + delay,
        order: this.#order++,
        from,
        to,
        body: text === undefined ? undefined : (JSON.parse(text) as unknown),
      });
    }
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (!this.options.autoDeliver || this.#scheduled !== undefined) return;
    this.#scheduled = setImmediate(() => this.#pump());
  }

  #pump(): void {
    this.#scheduled = undefined;
    this.deliver();
    if (this.#queue.length > 0) this.#schedule();
  }

  #channel(node: Node): MeshChannel {
    const selfId = node.member.id;
    return {
      selfId,
      peers: () => this.#peersOf(selfId),
      send: (peerId, body) => this.#send(selfId, peerId, body),
      broadcast: (body) => {
        const sent: string[] = [];
        for (const peer of this.#peersOf(selfId)) {
          if (this.#send(selfId, peer.id, body)) sent.push(peer.id);
        }
        return sent;
      },
      onMessage: (h) => void node.onMessage.push(h),
      onPeerUp: (h) => void node.onPeerUp.push(h),
      onPeerDown: (h) => void node.onPeerDown.push(h),
      onPeerState: (h) => void node.onPeerState.push(h),
      onPeerRelink: (h) => void node.onPeerRelink.push(h),
    };
  }
}
