// The simulated mesh: what src/cluster/mesh.ts gives the layers above (named channels, live
// peers, up/down/state events, lifecycle state in heartbeats), over simulated TCP connections,
// with the real FailureDetector deciding who is down.
//
// Connections behave like TCP: in order, no loss while open. A partition holds messages (the
// kernel retransmits) until it heals or one side gives up on the connection; a SIGKILLed
// process's connections are closed by its kernel; a SIGSTOPped process's kernel keeps
// accepting data that the process reads only after SIGCONT. On top of that, an optional
// hostile mode drops, duplicates and reorders individual messages.

import { stringifyReusing } from '../../src/json-text.js';
import { FailureDetector, type Verdict } from '../../src/cluster/failure-detector.js';
import type {
  Member,
  MemberHandler,
  MeshChannel,
  MessageHandler,
  NodeState,
} from '../../src/cluster/types.js';
import type { Proc, World } from './world.js';

export interface NetworkOptions {
  heartbeatMs: number;
  downAfterMs: number;
  reconnectGraceMs: number;
  /** One-way latency range (ms). */
  latency: [number, number];
  /** Per-message probabilities on open connections (hostile mode; 0 = TCP-like). */
  drop: number;
  duplicate: number;
  /** Extra delay range (ms) given to a message chosen for reordering, and its probability. */
  reorder: number;
  handshakeTimeoutMs: number;
}

type Wire =
  | { type: 'hb'; state: NodeState; t: number; ack?: number }
  | { type: 'state'; state: NodeState }
  | { type: 'app'; ch: string; body: string }
  | { type: 'bye' };

interface Conn {
  id: number;
  a: string;
  b: string;
  /** Open on each side. */
  open: Record<string, boolean>;
  /** Time the last message in each direction is due, to keep delivery in order. */
  lastDue: Record<string, number>;
}

interface PeerRec {
  member: Member;
  conn: Conn | undefined;
}

interface Channel {
  message: MessageHandler[];
  up: MemberHandler[];
  down: MemberHandler[];
  state: MemberHandler[];
  relink: MemberHandler[];
}

/** One node's end of the mesh. */
export class SimMesh {
  state: NodeState = 'starting';
  readonly peers = new Map<string, PeerRec>();
  readonly detector: FailureDetector;
  readonly channels = new Map<string, Channel>();
  /** Peers we keep dialling (from DNS or learned), and the pending retry per peer. */
  readonly wanted = new Set<string>();
  readonly retry = new Map<string, number>();
  stopped = false;
  #tickStarted = false;
  readonly log: string[] = [];

  constructor(
    readonly net: SimNetwork,
    readonly id: string,
    readonly proc: Proc,
    readonly version: string,
    readonly schemas: number[],
    readonly caps: string[] = [],
  ) {
    this.detector = new FailureDetector({
      heartbeatMs: net.opts.heartbeatMs,
      downAfterMs: net.opts.downAfterMs,
      reconnectGraceMs: net.opts.reconnectGraceMs,
    });
  }

  get world(): World {
    return this.net.world;
  }

  start(): void {
    if (this.#tickStarted) return;
    this.#tickStarted = true;
    this.detector.start(this.world.now);
    this.proc.clock.setTimeout(() => this.#tick(), this.net.opts.heartbeatMs);
  }

  setState(state: NodeState): void {
    if (this.state === state) return;
    this.state = state;
    for (const p of this.peers.values())
      if (p.conn) this.net.send(p.conn, this.id, { type: 'state', state });
  }

  isSuspect(): boolean {
    return this.detector.isSuspect(this.world.now);
  }

  livePeers(): Member[] {
    const out: Member[] = [];
    for (const p of this.peers.values())
      if (p.conn && p.conn.open[this.id]) out.push({ ...p.member, schemas: [...p.member.schemas] });
    return out;
  }

  channel(name: string): MeshChannel {
    let h = this.channels.get(name);
    if (!h) {
      h = { message: [], up: [], down: [], state: [], relink: [] };
      this.channels.set(name, h);
    }
    const handlers = h;
    return {
      selfId: this.id,
      peers: () => this.livePeers(),
      send: (peer, body) => this.#sendApp(name, peer, body),
      broadcast: (body) =>
        this.livePeers()
          .filter((p) => this.#sendApp(name, p.id, body))
          .map((p) => p.id),
      onMessage: (fn) => void handlers.message.push(fn),
      onPeerUp: (fn) => void handlers.up.push(fn),
      onPeerDown: (fn) => void handlers.down.push(fn),
      onPeerState: (fn) => void handlers.state.push(fn),
      onPeerRelink: (fn) => void handlers.relink.push(fn),
    };
  }

  /** DNS named these peers: keep connections to them. */
  want(ids: Iterable<string>): void {
    for (const id of ids) {
      if (id === this.id) continue;
      this.wanted.add(id);
      this.#ensureDial(id);
    }
  }

  /** Says bye and closes every connection (a clean stop). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.peers.values()) {
      if (p.conn) {
        this.net.send(p.conn, this.id, { type: 'bye' });
        this.net.close(p.conn, this.id);
      }
    }
  }

  #sendApp(ch: string, peer: string, body: unknown): boolean {
    const p = this.peers.get(peer);
    if (!p?.conn || !p.conn.open[this.id]) return false;
    // As the mesh encodes it (a kept state text reused); undefined for a body JSON cannot hold.
    const text = stringifyReusing(body);
    if (text === undefined) return false;
    this.net.send(p.conn, this.id, { type: 'app', ch, body: text });
    return true;
  }

  #tick(): void {
    if (this.stopped) return;
    const now = this.world.now;
    this.#act(this.detector.tick(now));
    for (const p of this.peers.values()) {
      if (p.conn?.open[this.id])
        this.net.send(p.conn, this.id, {
          type: 'hb',
          state: this.state,
          ...this.detector.beat(p.member.id, now),
        });
    }
    this.proc.clock.setTimeout(() => this.#tick(), this.net.opts.heartbeatMs);
  }

  #act(verdicts: Verdict[]): void {
    for (const v of verdicts) {
      if (v.kind === 'stalled') this.log.push(`${this.world.now} stalled ${v.ms}`);
      else if (v.kind === 'down') this.#declareDown(v.peer, v.reason);
    }
  }

  #declareDown(peer: string, reason: string): void {
    const p = this.peers.get(peer);
    if (!p) return;
    this.peers.delete(peer);
    if (p.conn) this.net.close(p.conn, this.id);
    this.log.push(`${this.world.now} ${peer} down: ${reason}`);
    this.#emit('down', p.member);
    this.#act(this.detector.remove(peer));
    if (this.wanted.has(peer)) this.#ensureDial(peer);
  }

  #emit(kind: keyof Channel, member: Member): void {
    if (kind === 'message') return;
    for (const h of this.channels.values())
      for (const fn of h[kind]) fn({ ...member, schemas: [...member.schemas] });
  }

  #ensureDial(peer: string): void {
    if (this.stopped || this.retry.has(peer)) return;
    const p = this.peers.get(peer);
    if (p?.conn?.open[this.id]) return;
    if (this.net.connBetween(this.id, peer)) return;
    this.retry.set(peer, 0);
    this.net.dial(this, peer);
  }

  /** Called by the network when a dial failed: back off and try again while still wanted. */
  dialFailed(peer: string): void {
    const attempt = (this.retry.get(peer) ?? 0) + 1;
    const delay = Math.min(5000, 100 * 2 ** attempt) * (0.5 + this.world.rng.next() / 2);
    this.retry.set(peer, attempt);
    this.proc.clock.setTimeout(() => {
      this.retry.delete(peer);
      if (this.wanted.has(peer) || this.peers.has(peer)) this.#ensureDial(peer);
    }, delay);
  }

  /** A connection finished its handshake on our side. */
  connUp(conn: Conn, peer: SimMesh): void {
    this.retry.delete(peer.id);
    const now = this.world.now;
    const existing = this.peers.get(peer.id);
    if (existing) {
      const relinked = existing.conn !== conn;
      if (existing.conn && existing.conn !== conn) this.net.close(existing.conn, this.id);
      existing.conn = conn;
      existing.member.state = peer.state;
      existing.member.lastSeen = now;
      this.detector.linkUp(peer.id, now);
      // Like the mesh: what went on the old connection may be lost.
      if (relinked) this.#emit('relink', existing.member);
      return;
    }
    const member: Member = {
      id: peer.id,
      address: `${peer.id}:4000`,
      state: peer.state,
      version: peer.version,
      protocol: 1,
      schemas: [...peer.schemas],
      caps: [...peer.caps],
      lastSeen: now,
    };
    this.peers.set(peer.id, { member, conn });
    this.detector.linkUp(peer.id, now);
    this.log.push(`${now} ${peer.id} up`);
    this.#emit('up', member);
  }

  /** The connection closed (by the peer's side, or its process died). */
  connClosed(conn: Conn, peer: string): void {
    const p = this.peers.get(peer);
    if (!p || p.conn !== conn) return;
    p.conn = undefined;
    this.detector.linkLost(peer, this.world.now);
    this.#ensureDial(peer);
  }

  receive(conn: Conn, from: string, wire: Wire): void {
    const p = this.peers.get(from);
    if (!p || p.conn !== conn || this.stopped) return;
    const now = this.world.now;
    p.member.lastSeen = now;
    this.detector.heard(from, now);
    switch (wire.type) {
      case 'hb':
        this.#updateState(p, wire.state);
        this.#act(
          this.detector.heartbeat(
            from,
            wire.ack === undefined ? { t: wire.t } : { t: wire.t, ack: wire.ack },
          ),
        );
        return;
      case 'state':
        this.#updateState(p, wire.state);
        return;
      case 'bye':
        this.#updateState(p, 'stopped');
        this.wanted.delete(from);
        this.#declareDown(from, 'left');
        return;
      case 'app': {
        const handlers = this.channels.get(wire.ch);
        if (!handlers) return;
        // With the size of what crossed the wire, as the mesh hands it on.
        const bytes = Buffer.byteLength(wire.body);
        for (const fn of handlers.message) fn(from, JSON.parse(wire.body), bytes);
        return;
      }
    }
  }

  #updateState(p: PeerRec, state: NodeState): void {
    if (p.member.state === state) return;
    p.member.state = state;
    this.#emit('state', p.member);
  }
}

export class SimNetwork {
  readonly meshes = new Map<string, SimMesh>();
  readonly #conns = new Map<string, Conn>();
  /** Pairs that cannot reach each other. */
  readonly #cut = new Set<string>();
  #connIds = 0;
  readonly counts = { sent: 0, dropped: 0, duplicated: 0, reordered: 0 };

  constructor(
    readonly world: World,
    readonly opts: NetworkOptions,
  ) {}

  add(mesh: SimMesh): void {
    this.meshes.set(mesh.id, mesh);
  }

  connBetween(a: string, b: string): Conn | undefined {
    const c = this.#conns.get(pair(a, b));
    return c && c.open[a] && c.open[b] ? c : undefined;
  }

  partition(a: string, b: string): void {
    this.#cut.add(pair(a, b));
  }

  heal(a: string, b: string): void {
    this.#cut.delete(pair(a, b));
  }

  healAll(): void {
    this.#cut.clear();
  }

  /** Ends the hostile mode: from now on messages on open connections arrive, once and in order. */
  calm(): void {
    this.opts.drop = 0;
    this.opts.duplicate = 0;
    this.opts.reorder = 0;
  }

  reachable(a: string, b: string): boolean {
    return !this.#cut.has(pair(a, b));
  }

  #latency(): number {
    const [lo, hi] = this.opts.latency;
    return lo + this.world.rng.next() * (hi - lo);
  }

  /** Dials `to`: the handshake needs both processes running and the path open. */
  dial(from: SimMesh, to: string): void {
    const world = this.world;
    const rtt = 2 * this.#latency();
    world.after(
      2 * rtt,
      () => {
        const peer = this.meshes.get(to);
        const alive =
          peer !== undefined && !peer.proc.dead && !peer.stopped && peer.state !== 'stopped';
        if (!alive || !this.reachable(from.id, to) || peer.proc.paused || from.stopped) {
          // A dead or unreachable peer: refused at once (dead) or after the handshake timeout.
          const wait = alive || peer?.proc.paused ? this.opts.handshakeTimeoutMs : 0;
          world.after(wait, () => from.dialFailed(to), from.proc, `dial:${from.id}`);
          return;
        }
        const existing = this.#conns.get(pair(from.id, to));
        if (existing && (existing.open[from.id] || existing.open[to])) {
          // One connection per pair: a connection half-open on either side is replaced.
          this.close(existing, from.id);
          this.close(existing, to);
        }
        const conn: Conn = {
          id: ++this.#connIds,
          a: from.id,
          b: to,
          open: { [from.id]: true, [to]: true },
          lastDue: { [from.id]: world.now, [to]: world.now },
        };
        this.#conns.set(pair(from.id, to), conn);
        peer.connUp(conn, from);
        from.connUp(conn, peer);
      },
      from.proc,
      `dial:${from.id}`,
    );
  }

  send(conn: Conn, from: string, wire: Wire): void {
    const to = conn.a === from ? conn.b : conn.a;
    if (!conn.open[from]) return;
    this.counts.sent++;
    let copies = 1;
    if (this.opts.drop > 0 && this.world.rng.chance(this.opts.drop)) {
      this.counts.dropped++;
      return;
    }
    if (this.opts.duplicate > 0 && this.world.rng.chance(this.opts.duplicate)) {
      this.counts.duplicated++;
      copies = 2;
    }
    for (let i = 0; i < copies; i++) {
      let due = Math.max(this.world.now + this.#latency(), conn.lastDue[from] ?? 0);
      if (this.opts.reorder > 0 && this.world.rng.chance(this.opts.reorder)) {
        this.counts.reordered++;
        due += this.world.rng.int(1, 200);
      } else {
        conn.lastDue[from] = due;
      }
      this.#deliverAt(conn, from, to, wire, due);
    }
  }

  #deliverAt(conn: Conn, from: string, to: string, wire: Wire, due: number): void {
    const target = this.meshes.get(to);
    if (!target) return;
    this.world.schedule(
      due,
      () => {
        if (!conn.open[to] || target.proc.dead) return;
        if (!this.reachable(from, to)) {
          // Retransmitted until the path heals or a side gives up on the connection.
          this.#deliverAt(conn, from, to, wire, this.world.now + 100);
          return;
        }
        target.receive(conn, from, wire);
      },
      target.proc,
      `conn:${conn.id}:${from}`,
    );
  }

  /** One side closes the connection; the other side hears it when a FIN could reach it. */
  close(conn: Conn, by: string): void {
    if (!conn.open[by]) return;
    conn.open[by] = false;
    const other = conn.a === by ? conn.b : conn.a;
    if (!conn.open[other]) return;
    const due = Math.max(this.world.now + this.#latency(), conn.lastDue[by] ?? 0);
    this.#finAt(conn, by, other, due);
  }

  #finAt(conn: Conn, by: string, other: string, due: number): void {
    const target = this.meshes.get(other);
    if (!target) return;
    this.world.schedule(
      due,
      () => {
        if (!conn.open[other] || target.proc.dead) return;
        if (!this.reachable(by, other)) {
          this.#finAt(conn, by, other, this.world.now + 100);
          return;
        }
        conn.open[other] = false;
        target.connClosed(conn, by);
      },
      target.proc,
      `conn:${conn.id}:${by}`,
    );
  }

  /**
   * The connection between `a` and `b` reset (an RST on the path): what was in flight on it is
   * lost and both ends hear it close at once; each redials, and the peer is not declared down if
   * it answers within the grace. True if there was an open connection to reset.
   */
  reset(a: string, b: string): boolean {
    const conn = this.#conns.get(pair(a, b));
    if (!conn || !conn.open[a] || !conn.open[b]) return false;
    conn.open[a] = false;
    conn.open[b] = false;
    for (const [id, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const mesh = this.meshes.get(id);
      if (!mesh) continue;
      this.world.schedule(
        this.world.now + this.#latency(),
        () => {
          if (!mesh.proc.dead) mesh.connClosed(conn, other);
        },
        mesh.proc,
        `conn:${conn.id}:reset`,
      );
    }
    return true;
  }

  /** SIGKILL: the kernel closes every connection of the process. */
  killed(id: string): void {
    for (const conn of this.#conns.values()) {
      if ((conn.a === id || conn.b === id) && conn.open[id]) {
        // The kernel's FIN/RST goes out even though the process is gone.
        conn.open[id] = false;
        const other = conn.a === id ? conn.b : conn.a;
        if (conn.open[other]) this.#finAt(conn, id, other, this.world.now + this.#latency());
      }
    }
  }
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
