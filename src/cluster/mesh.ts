// The authenticated node-to-node mesh: one WebSocket link per peer (mutual HMAC handshake),
// heartbeats carrying lifecycle state, failure detection fenced against our own stalls, and
// named channels for the layers above. Nothing here knows about games.

import { WebSocket } from 'ws';
import { createNonce, createProof, verifyProof, type Role } from './auth.js';
import { FailureDetector, type Verdict } from './failure-detector.js';
import {
  CloseCode,
  MAX_CHANNEL_NAME,
  MAX_FRAME_BYTES,
  MESH_PROTOCOL,
  closeReason,
  decodeFrame,
  encodeFrame,
  type Hello,
  type MeshMessage,
} from './protocol.js';
import type {
  ClusterLogger,
  Member,
  MemberHandler,
  MeshChannel,
  MessageHandler,
  NodeState,
} from './types.js';

/** The part of a WebSocket the mesh uses: satisfied by ws@8 and by express-ws's ws@7 sockets. */
export interface MeshSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  terminate?(): void;
}

/** The part of the upgrade request the mesh reads (for logs). */
export interface MeshRequest {
  socket?: { remoteAddress?: string | undefined; remotePort?: number | undefined };
}

export interface MeshOptions {
  nodeId: string;
  /** host:port this node is reachable at, advertised in the handshake (e.g. 127.0.0.2:4000). */
  address: string;
  secret: string;
  /** Release version (package.json). */
  version: string;
  /** Game record schemas this node can read. */
  schemas: number[];
  logger: ClusterLogger;
  heartbeatMs?: number;
  downAfterMs?: number;
  /** How long a peer whose socket closed may take to come back before it is declared down. */
  reconnectGraceMs?: number;
  handshakeTimeoutMs?: number;
  /** Backoff cap between dial attempts to an address. */
  maxBackoffMs?: number;
  path?: string;
  initialState?: NodeState;
  /** Source address for outbound links (so peers see our address, e.g. 127.0.0.2). */
  localAddress?: string;
  now?: () => number;
}

export interface MeshStats {
  /** Live peers (authenticated, not declared down). */
  peers: number;
  /** Open sockets in any phase. */
  links: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Connections refused during the handshake (bad secret, protocol, message, timeout). */
  refused: number;
  /** Invalid frames dropped on established links. */
  invalid: number;
  dialFailures: number;
  /** Times our own event loop stalled long enough for peers to suspect us. */
  stalls: number;
}

const OPEN = 1;
const BASE_BACKOFF_MS = 100;
const CLOSE_WAIT_MS = 1000;
/** A repeated refusal (same address, same reason) is logged at warn once per this period. */
const REFUSAL_LOG_MS = 60_000;

type Phase = 'connecting' | 'hello' | 'auth' | 'accept' | 'up' | 'closed';

interface Link {
  readonly id: number;
  readonly socket: MeshSocket;
  readonly direction: 'in' | 'out';
  /** Dialled address (out) or remote ip:port (in), for logs. */
  readonly remote: string;
  readonly nonce: string;
  phase: Phase;
  hello?: Hello;
  target?: Target;
  lastMessageAt: number;
  handshakeTimer?: NodeJS.Timeout;
  /** Terminates a link whose close handshake does not finish (a silent or stopped peer). */
  killTimer?: NodeJS.Timeout;
  error?: string;
  /** Why we refused it, when we did. */
  refused?: string;
  closed: Promise<void>;
}

interface Peer {
  member: Member;
  /** The link messages are sent on; undefined while in the reconnect grace. */
  link?: Link;
}

interface Target {
  readonly address: string;
  fromDns: boolean;
  manual: boolean;
  peerId?: string;
  self: boolean;
  attempt: number;
  dialing?: Link;
  retryTimer?: NodeJS.Timeout;
  /** Dial errors already logged since the last success (each is logged once). */
  errors: Set<string>;
}

interface ChannelHandlers {
  message: MessageHandler[];
  up: MemberHandler[];
  down: MemberHandler[];
  state: MemberHandler[];
}

export class Mesh {
  readonly nodeId: string;
  readonly address: string;
  readonly path: string;
  private readonly secret: string;
  private readonly version: string;
  private readonly schemas: number[];
  private readonly logger: ClusterLogger;
  private readonly heartbeatMs: number;
  private readonly downAfterMs: number;
  private readonly reconnectGraceMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly localAddress: string | undefined;
  private readonly now: () => number;

  private state: NodeState;
  private readonly peers = new Map<string, Peer>();
  private readonly links = new Set<Link>();
  private readonly targets = new Map<string, Target>();
  private readonly channels = new Map<string, ChannelHandlers>();
  private readonly refusalsLogged = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private nextLinkId = 1;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly detector: FailureDetector;
  private readonly counters: Omit<MeshStats, 'peers' | 'links'> = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    refused: 0,
    invalid: 0,
    dialFailures: 0,
    stalls: 0,
  };

  constructor(options: MeshOptions) {
    const {
      nodeId,
      address,
      secret,
      version,
      schemas,
      logger,
      heartbeatMs = 500,
      downAfterMs = 3000,
      path = '/_cluster/mesh',
      initialState = 'starting',
      now = Date.now,
    } = options;
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) throw new Error(`invalid node id "${nodeId}"`);
    if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
      throw new Error(`mesh address "${address}" is not host:port`);
    }
    if (!secret) throw new Error('the mesh needs a cluster secret');
    if (!(heartbeatMs > 0)) throw new Error(`invalid heartbeatMs ${heartbeatMs}`);
    if (!(downAfterMs > 2 * heartbeatMs)) {
      throw new Error(`downAfterMs (${downAfterMs}) must exceed two heartbeats (${2 * heartbeatMs})`);
    }
    this.nodeId = nodeId;
    this.address = address;
    this.secret = secret;
    this.version = version;
    this.schemas = [...schemas];
    this.logger = logger;
    this.heartbeatMs = heartbeatMs;
    this.downAfterMs = downAfterMs;
    this.reconnectGraceMs = options.reconnectGraceMs ?? Math.min(1000, downAfterMs);
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? Math.max(2000, downAfterMs);
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.localAddress = options.localAddress;
    this.path = path;
    this.state = initialState;
    this.now = now;
    this.detector = new FailureDetector({ heartbeatMs, downAfterMs, reconnectGraceMs: this.reconnectGraceMs });
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  /** Starts the heartbeat; links can be accepted or dialled before or after. */
  start(): void {
    if (this.stopped || this.tickTimer) return;
    this.detector.start(this.now());
    this.scheduleTick();
  }

  /** Says bye to every peer, closes every link and clears every timer. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.state = 'stopped';
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    this.detector.stop();
    for (const target of this.targets.values()) this.clearRetry(target);
    const closing: Promise<void>[] = [];
    for (const link of this.links) {
      if (link.phase === 'up') this.sendMessage(link, { type: 'bye', reason: 'node stopping' });
      this.closeLink(link, CloseCode.goingAway, 'node stopping');
      closing.push(link.closed);
    }
    let waitTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closing),
      new Promise<void>((resolve) => {
        waitTimer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    if (waitTimer) clearTimeout(waitTimer);
    for (const link of this.links) link.socket.terminate?.();
    this.notifyWaiters();
    this.logger.info({}, 'mesh stopped');
  }

  /** Our lifecycle state: sent to peers at once and in every heartbeat. */
  setState(state: NodeState): void {
    if (state === this.state) return;
    this.state = state;
    for (const peer of this.peers.values()) {
      if (peer.link) this.sendMessage(peer.link, { type: 'state', state });
    }
  }

  getState(): NodeState {
    return this.state;
  }

  // ── peers ──────────────────────────────────────────────────────────────────

  /**
   * The addresses DNS currently lists. New ones are dialled; known ones keep being retried
   * with backoff. An address that leaves DNS is not disconnected: a stopping node is removed
   * from DNS before it drains, and we keep talking to it until it leaves.
   */
  setPeers(addresses: Iterable<string>): void {
    if (this.stopped) return;
    const next = new Set([...addresses].filter((a) => a !== this.address));
    for (const target of [...this.targets.values()]) {
      if (target.fromDns && !next.has(target.address)) {
        target.fromDns = false;
        if (!this.wanted(target)) this.dropTarget(target);
      }
    }
    for (const address of next) {
      const target = this.ensureTarget(address);
      target.fromDns = true;
      this.ensureDial(target);
    }
  }

  /** Dials an address now and keeps it as a known peer address. */
  connect(address: string): void {
    if (this.stopped || address === this.address) return;
    const target = this.ensureTarget(address);
    target.manual = true;
    this.ensureDial(target);
  }

  /**
   * Resolves once every address has an authenticated link (or turned out to be ourselves), or
   * when timeoutMs passes: how startup knows it joined the peers DNS returned.
   */
  waitForPeers(addresses: string[], timeoutMs: number): Promise<{ joined: string[]; missing: string[] }> {
    const split = () => {
      const missing = addresses.filter((a) => !this.linkedTo(a));
      return { joined: addresses.filter((a) => !missing.includes(a)), missing };
    };
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (force: boolean): void => {
        const result = split();
        if (!force && result.missing.length > 0 && !this.stopped) return;
        if (timer) clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(result);
      };
      const waiter = (): void => check(false);
      this.waiters.add(waiter);
      timer = setTimeout(() => check(true), timeoutMs);
      timer.unref();
      check(false);
    });
  }

  private linkedTo(address: string): boolean {
    if (address === this.address) return true;
    const target = this.targets.get(address);
    return target !== undefined && (target.self || this.connected(target.peerId));
  }

  private notifyWaiters(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Handles an inbound mesh WebSocket (mounted by the web layer on `path`). */
  accept(socket: MeshSocket, req?: MeshRequest): void {
    const remote = req?.socket?.remoteAddress
      ? `${req.socket.remoteAddress}:${req.socket.remotePort ?? '?'}`
      : 'unknown';
    if (this.stopped) {
      try {
        socket.close(CloseCode.goingAway, 'node stopping');
      } catch {
        // already closing
      }
      return;
    }
    const link = this.createLink(socket, 'in', remote);
    link.phase = 'hello';
  }

  /** Self plus every peer not declared down, with state, version and lastSeen. */
  members(): Member[] {
    const self: Member = {
      id: this.nodeId,
      address: this.address,
      state: this.state,
      version: this.version,
      protocol: MESH_PROTOCOL,
      schemas: [...this.schemas],
      lastSeen: this.now(),
    };
    return [self, ...[...this.peers.values()].map((p) => copyMember(p.member))];
  }

  /** A named channel over the mesh; the same handlers object for the same name. */
  channel(name: string): MeshChannel {
    if (name.length < 1 || name.length > MAX_CHANNEL_NAME) {
      throw new Error(`channel name must be 1–${MAX_CHANNEL_NAME} characters, got "${name}"`);
    }
    let handlers = this.channels.get(name);
    if (!handlers) {
      handlers = { message: [], up: [], down: [], state: [] };
      this.channels.set(name, handlers);
    }
    const h = handlers;
    return {
      selfId: this.nodeId,
      peers: () => this.livePeers().map((p) => copyMember(p.member)),
      send: (peerId, body) => this.sendApp(name, [peerId], body).length === 1,
      broadcast: (body) => this.sendApp(name, this.livePeers().map((p) => p.member.id), body),
      onMessage: (handler) => void h.message.push(handler),
      onPeerUp: (handler) => void h.up.push(handler),
      onPeerDown: (handler) => void h.down.push(handler),
      onPeerState: (handler) => void h.state.push(handler),
    };
  }

  stats(): MeshStats {
    return { peers: this.peers.size, links: this.links.size, ...this.counters };
  }

  // ── fencing ────────────────────────────────────────────────────────────────

  /** When our last detected event-loop stall ended (local ms), if any. */
  get lastStallAt(): number | undefined {
    return this.detector.lastStallAt;
  }

  /** How long that stall lasted (ms). */
  get lastStallMs(): number {
    return this.detector.lastStallMs;
  }

  /**
   * True when every peer not declared down has echoed a heartbeat we sent at or after `t`:
   * a round trip, so heartbeats queued while we were stalled do not count.
   */
  heardFromPeersSince(t: number): boolean {
    return this.detector.heardFromPeersSince(t);
  }

  /**
   * We were stalled long enough that peers may have declared us down (and adopted our work),
   * and have not yet completed a heartbeat round trip with every peer since. Layers above hold
   * their clocks (no round resolution, no adoption) while this is true.
   */
  isSuspect(): boolean {
    return this.detector.isSuspect(this.now());
  }

  // ── heartbeat and failure detection ────────────────────────────────────────

  private scheduleTick(): void {
    this.tickTimer = setTimeout(this.onTick, this.heartbeatMs);
    this.tickTimer.unref();
  }

  private readonly onTick = (): void => {
    this.tickTimer = undefined;
    if (this.stopped) return;
    const now = this.now();
    this.act(this.detector.tick(now));
    for (const peer of this.peers.values()) this.sendHeartbeat(peer, now);
    this.scheduleTick();
  };

  /** Carries out the failure detector's verdicts. */
  private act(verdicts: Verdict[]): void {
    for (const verdict of verdicts) {
      if (verdict.kind === 'stalled') {
        this.counters.stalls++;
        this.logger.warn(
          { stallMs: verdict.ms },
          `event loop stalled for ${verdict.ms} ms; holding peer verdicts until fresh heartbeats arrive`,
        );
      } else if (verdict.kind === 'trusted') {
        this.logger.info({ peers: this.peers.size }, 'heard from every peer since the stall; no longer suspect');
      } else {
        const peer = this.peers.get(verdict.peer);
        if (peer) this.declareDown(peer, verdict.reason);
      }
    }
  }

  private sendHeartbeat(peer: Peer, now: number): void {
    if (!peer.link) return;
    this.sendMessage(peer.link, { type: 'hb', state: this.state, ...this.detector.beat(peer.member.id, now) });
  }

  private declareDown(peer: Peer, reason: string): void {
    const id = peer.member.id;
    if (this.peers.get(id) !== peer) return;
    this.peers.delete(id);
    if (peer.link) this.closeLink(peer.link, CloseCode.peerDown, 'declared down');
    peer.link = undefined;
    for (const target of [...this.targets.values()]) {
      if (target.peerId !== id) continue;
      if (!this.wanted(target)) this.dropTarget(target);
      // Still listed by DNS (or asked for): keep dialling it, with backoff. After a partition
      // both sides declared the other down and DNS did not change: nothing else would dial.
      else this.ensureDial(target);
    }
    this.logger.info(
      { peer: id, address: peer.member.address, reason },
      `peer ${id} (${peer.member.address}) down: ${reason}`,
    );
    this.emit('down', peer.member);
    this.act(this.detector.remove(id));
  }

  // ── links ──────────────────────────────────────────────────────────────────

  private createLink(socket: MeshSocket, direction: 'in' | 'out', remote: string): Link {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const link: Link = {
      id: this.nextLinkId++,
      socket,
      direction,
      remote,
      nonce: createNonce(),
      phase: 'connecting',
      lastMessageAt: this.now(),
      closed,
    };
    this.links.add(link);
    link.handshakeTimer = setTimeout(() => {
      link.handshakeTimer = undefined;
      if (link.phase === 'connecting') {
        // Never reached the WebSocket stage (e.g. a stopped process): a dial failure, not a refusal.
        link.error = 'connection timed out';
        this.closeLink(link, CloseCode.handshakeTimeout, 'handshake timeout');
      } else if (link.phase !== 'up' && link.phase !== 'closed') {
        this.refuse(link, CloseCode.handshakeTimeout, 'handshake timeout');
      }
    }, this.handshakeTimeoutMs);
    link.handshakeTimer.unref();
    socket.on('message', (data: unknown) => this.onFrame(link, data));
    socket.on('error', (err: Error) => {
      link.error ??= err.message;
      this.logger.debug({ link: link.remote, err: err.message }, 'mesh socket error');
    });
    socket.on('close', (code: number, reason: unknown) => {
      this.onClose(link, code, String(reason ?? ''));
      resolveClosed();
    });
    return link;
  }

  private dial(target: Target): void {
    const url = `ws://${target.address}${this.path}`;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: this.handshakeTimeoutMs,
        perMessageDeflate: false,
        ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      });
    } catch (err) {
      this.dialFailed(target, (err as Error).message);
      return;
    }
    const link = this.createLink(socket, 'out', target.address);
    link.target = target;
    target.dialing = link;
    socket.on('open', () => {
      if (link.phase !== 'connecting') return;
      link.phase = 'hello';
      this.sendMessage(link, this.hello(link));
    });
  }

  private hello(link: Link): MeshMessage {
    return {
      type: 'hello',
      nodeId: this.nodeId,
      address: this.address,
      version: this.version,
      protocol: MESH_PROTOCOL,
      schemas: [...this.schemas],
      state: this.state,
      nonce: link.nonce,
    };
  }

  private onFrame(link: Link, data: unknown): void {
    if (link.phase === 'closed') return;
    const decoded = decodeFrame(data);
    this.counters.bytesIn += decoded.bytes;
    if (!decoded.ok) {
      if (link.phase !== 'up') {
        this.refuse(link, decoded.code, decoded.reason);
        return;
      }
      this.counters.invalid++;
      this.logger.warn(
        { peer: link.hello?.nodeId, address: link.remote, reason: decoded.reason },
        `dropped message from ${link.hello?.nodeId} (${link.remote}): ${decoded.reason}`,
      );
      return;
    }
    this.counters.messagesIn++;
    link.lastMessageAt = this.now();
    const message = decoded.message;
    switch (link.phase) {
      case 'hello':
        return this.onHello(link, message);
      case 'auth':
        return this.onAuth(link, message);
      case 'accept':
        if (message.type !== 'accept') return this.unexpected(link, message.type);
        return this.linkUp(link);
      case 'up':
        return this.onPeerMessage(link, message);
      default:
        return this.unexpected(link, message.type);
    }
  }

  private unexpected(link: Link, type: string): void {
    this.refuse(link, CloseCode.badMessage, `unexpected ${type} message during handshake (${link.phase})`);
  }

  private onHello(link: Link, message: MeshMessage): void {
    if (message.type !== 'hello') return this.unexpected(link, message.type);
    link.hello = message;
    if (message.nodeId === this.nodeId) {
      if (link.target) link.target.self = true;
      return this.refuse(link, CloseCode.selfConnection, 'connected to itself');
    }
    if (message.nonce === link.nonce) return this.refuse(link, CloseCode.badMessage, 'nonce echoed back');
    link.phase = 'auth';
    // The acceptor answers a hello with its own (the challenge) and no proof: a caller learns
    // nothing it could test a guessed secret against until it has proved it knows the secret.
    if (link.direction === 'in') this.sendMessage(link, this.hello(link));
    else this.sendMessage(link, { type: 'auth', proof: this.proof(link, message) });
  }

  private proof(link: Link, hello: Hello): string {
    return createProof(this.secret, {
      role: link.direction === 'out' ? 'initiator' : 'acceptor',
      protocol: MESH_PROTOCOL,
      proverId: this.nodeId,
      verifierId: hello.nodeId,
      proverNonce: link.nonce,
      verifierNonce: hello.nonce,
    });
  }

  private onAuth(link: Link, message: MeshMessage): void {
    if (message.type !== 'auth') return this.unexpected(link, message.type);
    const hello = link.hello;
    if (!hello) return this.unexpected(link, message.type);
    const ok = verifyProof(
      this.secret,
      {
        role: link.direction === 'out' ? 'acceptor' : 'initiator',
        protocol: MESH_PROTOCOL,
        proverId: hello.nodeId,
        verifierId: this.nodeId,
        proverNonce: hello.nonce,
        verifierNonce: link.nonce,
      },
      message.proof,
    );
    if (!ok) return this.refuse(link, CloseCode.badSecret, 'bad secret');
    if (link.direction === 'out') {
      // The acceptor confirms with `accept` once it checked our proof.
      link.phase = 'accept';
      return;
    }
    // The caller proved it knows the secret; now we prove it too (then `accept`, in linkUp).
    this.sendMessage(link, { type: 'auth', proof: this.proof(link, hello) });
    this.linkUp(link);
  }

  /** The handshake finished on this end: keep exactly one link per peer, then report. */
  private linkUp(link: Link): void {
    const hello = link.hello;
    if (!hello) return;
    if (link.handshakeTimer) clearTimeout(link.handshakeTimer);
    link.handshakeTimer = undefined;
    const peerId = hello.nodeId;
    const now = this.now();
    const existing = this.peers.get(peerId);
    const current = existing?.link;
    const currentOpen = current !== undefined && current.phase === 'up' && current.socket.readyState === OPEN;
    if (current && current !== link && currentOpen && !this.prefer(link, current, peerId, now)) {
      this.logger.debug({ peer: peerId }, 'closing duplicate mesh link');
      this.closeLink(link, CloseCode.duplicateLink, 'duplicate link');
      return;
    }
    link.phase = 'up';
    if (link.direction === 'in') this.sendMessage(link, { type: 'accept' });
    const target = this.ensureTarget(hello.address);
    target.peerId = peerId;
    for (const t of [target, link.target]) {
      if (!t) continue;
      t.peerId = peerId;
      t.attempt = 0;
      this.clearRetry(t);
      if (t.errors.size > 0) {
        this.logger.info({ address: t.address }, `reached ${t.address} again`);
        t.errors.clear();
      }
    }
    if (link.target?.dialing === link) link.target.dialing = undefined;
    if (existing && current && current !== link) {
      existing.link = undefined;
      this.closeLink(current, CloseCode.duplicateLink, 'replaced by a newer link');
    }
    if (existing) {
      if (!current) this.logger.info({ peer: peerId }, `link to ${peerId} restored`);
      this.detector.linkUp(peerId, now);
      existing.link = link;
      existing.member.lastSeen = now;
      existing.member.address = hello.address;
      existing.member.version = hello.version;
      existing.member.protocol = hello.protocol;
      existing.member.schemas = [...hello.schemas];
      this.updateState(existing, hello.state);
      this.sendHeartbeat(existing, now);
      this.notifyWaiters();
      return;
    }
    const peer: Peer = {
      member: {
        id: peerId,
        address: hello.address,
        state: hello.state,
        version: hello.version,
        protocol: hello.protocol,
        schemas: [...hello.schemas],
        lastSeen: now,
      },
      link,
    };
    this.peers.set(peerId, peer);
    this.detector.linkUp(peerId, now);
    this.logger.info(
      { peer: peerId, address: hello.address, state: hello.state, version: hello.version },
      `peer ${peerId} (${hello.address}) up, ${link.direction === 'out' ? 'dialled' : 'connected to us'}`,
    );
    this.sendHeartbeat(peer, now);
    this.emit('up', peer.member);
    this.notifyWaiters();
  }

  /**
   * Tie-break between two authenticated links to the same peer; both ends reach the same
   * answer: keep the link initiated by the lower node id. A link that went silent loses,
   * and between two links from the same initiator the newer wins (a reconnect).
   */
  private prefer(candidate: Link, current: Link, peerId: string, now: number): boolean {
    if (now - current.lastMessageAt > 2 * this.heartbeatMs) return true;
    const initiator = (l: Link): string => (l.direction === 'out' ? this.nodeId : peerId);
    if (initiator(candidate) === initiator(current)) return true;
    const lower = this.nodeId < peerId ? this.nodeId : peerId;
    return initiator(candidate) === lower;
  }

  private onPeerMessage(link: Link, message: MeshMessage): void {
    const peerId = link.hello?.nodeId;
    const peer = peerId === undefined ? undefined : this.peers.get(peerId);
    if (!peer) return;
    const now = this.now();
    peer.member.lastSeen = now;
    this.detector.heard(peer.member.id, now);
    switch (message.type) {
      case 'hb':
        this.updateState(peer, message.state);
        this.act(this.detector.heartbeat(peer.member.id, message.ack === undefined ? { t: message.t } : { t: message.t, ack: message.ack }));
        return;
      case 'state':
        this.updateState(peer, message.state);
        return;
      case 'app':
        this.deliver(peer.member.id, message.ch, message.body);
        return;
      case 'bye':
        this.updateState(peer, 'stopped');
        this.declareDown(peer, `left (${message.reason ?? 'bye'})`);
        return;
      default:
        this.counters.invalid++;
        this.logger.warn(
          { peer: peerId, address: link.remote, type: message.type },
          `dropped ${message.type} message from ${peerId}: not valid after the handshake`,
        );
    }
  }

  private updateState(peer: Peer, state: NodeState): void {
    if (peer.member.state === state) return;
    peer.member.state = state;
    this.logger.info({ peer: peer.member.id, state }, `peer ${peer.member.id} is ${state}`);
    this.emit('state', peer.member);
  }

  private onClose(link: Link, code: number, reason: string): void {
    const phase = link.phase;
    link.phase = 'closed';
    this.links.delete(link);
    if (link.handshakeTimer) clearTimeout(link.handshakeTimer);
    link.handshakeTimer = undefined;
    if (link.killTimer) clearTimeout(link.killTimer);
    link.killTimer = undefined;
    if (phase !== 'up') {
      if (link.target && link.target.dialing === link) {
        link.target.dialing = undefined;
        const why = link.refused ?? link.error ?? `closed ${code}${reason ? ` ${reason}` : ''}`;
        // Our own refusal was already logged; do not log it again as a dial failure.
        if (link.refused !== undefined) link.target.errors.add(link.refused);
        this.dialFailed(link.target, why, code);
      }
      return;
    }
    const peerId = link.hello?.nodeId;
    const peer = peerId === undefined ? undefined : this.peers.get(peerId);
    if (!peer || peer.link !== link) return;
    peer.link = undefined;
    if (this.stopped) return;
    this.logger.info(
      { peer: peerId, code, reason, ...(link.error ? { error: link.error } : {}) },
      `link to ${peerId} closed (${code}${reason ? ` ${reason}` : ''}${link.error ? `: ${link.error}` : ''}); reconnecting`,
    );
    this.detector.linkLost(peer.member.id, this.now());
    const target = this.targets.get(peer.member.address);
    if (target) {
      target.attempt = 0;
      this.clearRetry(target);
      this.ensureDial(target);
    }
  }

  /** Refuses a link during the handshake: one log line naming the address and the reason. */
  private refuse(link: Link, code: number, reason: string): void {
    if (link.phase === 'closed') return;
    this.counters.refused++;
    link.refused = reason;
    const who = link.hello ? `${link.hello.nodeId} (${link.hello.address}, via ${link.remote})` : link.remote;
    const now = this.now();
    const key = `${link.hello?.address ?? link.remote.replace(/:\d+$/, '')}|${reason}`;
    const loggedAt = this.refusalsLogged.get(key);
    const repeat = loggedAt !== undefined && now - loggedAt < REFUSAL_LOG_MS;
    if (!repeat) {
      if (this.refusalsLogged.size > 1000) this.refusalsLogged.clear();
      this.refusalsLogged.set(key, now);
    }
    const quiet = repeat || code === CloseCode.selfConnection;
    this.logger[quiet ? 'debug' : 'warn'](
      { peer: link.hello?.nodeId, address: link.hello?.address, remote: link.remote, code, reason },
      `refused mesh link ${link.direction === 'in' ? 'from' : 'to'} ${who}: ${reason}`,
    );
    this.closeLink(link, code, reason);
  }

  private closeLink(link: Link, code: number, reason: string): void {
    if (link.phase === 'closed') return;
    try {
      link.socket.close(code, closeReason(reason));
    } catch {
      link.socket.terminate?.();
    }
    link.killTimer ??= setTimeout(() => {
      link.killTimer = undefined;
      if (link.phase !== 'closed') link.socket.terminate?.();
    }, CLOSE_WAIT_MS);
    link.killTimer.unref();
  }

  // ── dialling ───────────────────────────────────────────────────────────────

  private ensureTarget(address: string): Target {
    let target = this.targets.get(address);
    if (!target) {
      target = { address, fromDns: false, manual: false, self: address === this.address, attempt: 0, errors: new Set() };
      this.targets.set(address, target);
    }
    return target;
  }

  /** DNS lists it, it was asked for, or it belongs to a peer not declared down. */
  private wanted(target: Target): boolean {
    if (target.self) return false;
    return target.fromDns || target.manual || (target.peerId !== undefined && this.peers.has(target.peerId));
  }

  private connected(peerId: string | undefined): boolean {
    if (peerId === undefined) return false;
    const link = this.peers.get(peerId)?.link;
    return link !== undefined && link.phase === 'up' && link.socket.readyState === OPEN;
  }

  private ensureDial(target: Target): void {
    if (this.stopped || target.self || target.dialing || target.retryTimer) return;
    if (this.connected(target.peerId)) return;
    this.dial(target);
  }

  private dialFailed(target: Target, reason: string, code?: number): void {
    this.counters.dialFailures++;
    if (this.stopped || target.self || code === CloseCode.selfConnection) {
      target.self ||= code === CloseCode.selfConnection;
      this.notifyWaiters();
      return;
    }
    if (!this.wanted(target)) {
      this.dropTarget(target);
      return;
    }
    if (this.connected(target.peerId)) return;
    if (!target.errors.has(reason)) {
      this.logger.warn(
        { address: target.address, reason },
        `cannot reach peer at ${target.address}: ${reason}; retrying`,
      );
      if (target.errors.size > 20) target.errors.clear();
      target.errors.add(reason);
    }
    const delay = Math.min(this.maxBackoffMs, BASE_BACKOFF_MS * 2 ** target.attempt) * (0.5 + Math.random() / 2);
    target.attempt = Math.min(target.attempt + 1, 20);
    target.retryTimer = setTimeout(() => {
      target.retryTimer = undefined;
      if (this.wanted(target)) this.ensureDial(target);
      else this.dropTarget(target);
    }, delay);
    target.retryTimer.unref();
  }

  private clearRetry(target: Target): void {
    if (target.retryTimer) clearTimeout(target.retryTimer);
    target.retryTimer = undefined;
  }

  private dropTarget(target: Target): void {
    this.clearRetry(target);
    if (this.targets.get(target.address) === target) this.targets.delete(target.address);
  }

  // ── sending and channels ───────────────────────────────────────────────────

  private livePeers(): Peer[] {
    return [...this.peers.values()].filter((p) => this.connected(p.member.id));
  }

  private sendApp(ch: string, peerIds: string[], body: unknown): string[] {
    const frame = encodeFrame({ type: 'app', ch, body });
    if (frame === undefined) {
      this.logger.error({ channel: ch }, `cannot send on ${ch}: body is not JSON-serialisable`);
      return [];
    }
    if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) {
      this.logger.error(
        { channel: ch, bytes: Buffer.byteLength(frame) },
        `cannot send on ${ch}: message exceeds the ${MAX_FRAME_BYTES}-byte frame limit`,
      );
      return [];
    }
    const sent: string[] = [];
    for (const id of peerIds) {
      const link = this.peers.get(id)?.link;
      if (link && this.connected(id) && this.sendFrame(link, frame)) sent.push(id);
    }
    return sent;
  }

  private sendMessage(link: Link, message: MeshMessage): boolean {
    const frame = encodeFrame(message);
    return frame !== undefined && this.sendFrame(link, frame);
  }

  private sendFrame(link: Link, frame: string): boolean {
    if (link.socket.readyState !== OPEN) return false;
    try {
      link.socket.send(frame);
    } catch (err) {
      this.logger.debug({ link: link.remote, err: (err as Error).message }, 'mesh send failed');
      return false;
    }
    this.counters.messagesOut++;
    this.counters.bytesOut += Buffer.byteLength(frame);
    return true;
  }

  private deliver(from: string, ch: string, body: unknown): void {
    const handlers = this.channels.get(ch);
    if (!handlers) {
      this.counters.invalid++;
      this.logger.warn({ peer: from, channel: ch }, `dropped a message from ${from} on unknown channel ${ch.slice(0, 32)}`);
      return;
    }
    for (const handler of handlers.message) {
      try {
        handler(from, body);
      } catch (err) {
        this.logger.error({ channel: ch, err }, `message handler on ${ch} failed`);
      }
    }
  }

  private emit(kind: 'up' | 'down' | 'state', member: Member): void {
    for (const [name, handlers] of this.channels) {
      for (const handler of handlers[kind]) {
        try {
          handler(copyMember(member));
        } catch (err) {
          this.logger.error({ channel: name, err }, `peer ${kind} handler on ${name} failed`);
        }
      }
    }
  }
}

function copyMember(member: Member): Member {
  return { ...member, schemas: [...member.schemas] };
}
