// The authenticated node-to-node mesh: the peers and the one link each keeps (the tie-break
// between duplicate links), heartbeats carrying lifecycle state into the failure detector and
// its verdicts carried out, membership and statistics. Links (link.ts) run the handshake, the
// dialer (dialer.ts) decides what to dial, channels.ts hands messages to the layers above, and
// failure-detector.ts judges silence. Nothing here knows about games.
//
// Longer than ~400 lines on purpose: the peer table, the duplicate-link choice and the
// detector's verdicts change the same peers in the same steps; split further, they would have
// to call each other back.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { Channels } from './channels.js';
import { Dialer } from './dialer.js';
import { FailureDetector, type Verdict } from './failure-detector.js';
import { Lifecycle } from './lifecycle.js';
import {
  Link,
  MAX_BUFFERED_BYTES,
  RefusalLog,
  emptyCounts,
  type LinkClosed,
  type LinkContext,
  type LinkCounts,
  type MeshSocket,
} from './link.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  MESH_PATH,
  MESH_PROTOCOL,
  encodeFrame,
  type Hello,
  type MeshMessage,
} from './protocol.js';
import type { ClusterLogger, Member, MeshChannel, NodeState } from './types.js';

/** The reason a stopping node gives, in its bye and in the close of each of its links. */
const STOPPING = 'node stopping';

/**
 * Inbound mesh connections that have not proved the secret yet, at most this many at once: a
 * frame may be up to MAX_FRAME_BYTES before the handshake too (ws has one limit per server), so
 * unauthenticated connections can hold at most 32 MiB, each for the handshake timeout. A peer
 * needs one at a time (two in a race of duplicate links), so a few per address keep one address
 * from taking them all; the rest are refused with 503 before the WebSocket upgrade.
 */
export const MAX_INBOUND_HANDSHAKES = 32;
export const MAX_HANDSHAKES_PER_ADDRESS = 4;

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
  /** What this node's channels can do beyond the protocol, told to peers (default none). */
  caps?: string[];
  logger: ClusterLogger;
  /** The node's lifecycle: announced in every hello and heartbeat, and to peers on each change. */
  lifecycle?: Lifecycle;
  heartbeatMs?: number;
  downAfterMs?: number;
  /** How long a peer whose socket closed may take to come back before it is declared down. */
  reconnectGraceMs?: number;
  handshakeTimeoutMs?: number;
  /** Backoff cap between dial attempts to an address. */
  maxBackoffMs?: number;
  path?: string;
  /** Source address for outbound links (so peers see our address, e.g. 127.0.0.2). */
  localAddress?: string | undefined;
  now?: () => number;
  /** Most bytes a link lets wait for a slow peer before dropping it (default 64 MiB). */
  maxBufferedBytes?: number;
}

export interface MeshStats extends LinkCounts {
  /** Live peers (authenticated, not declared down). */
  peers: number;
  /** Open sockets in any phase. */
  links: number;
  dialFailures: number;
  /** Times our own event loop stalled long enough for peers to suspect us. */
  stalls: number;
}

const CLOSE_WAIT_MS = 1000;

interface Peer {
  member: Member;
  /** The link messages are sent on; undefined while in the reconnect grace. */
  link?: Link;
}

export class Mesh {
  readonly nodeId: string;
  readonly address: string;
  readonly path: string;
  readonly lifecycle: Lifecycle;
  readonly #version: string;
  readonly #schemas: number[];
  readonly #caps: string[];
  readonly #logger: ClusterLogger;
  readonly #heartbeatMs: number;
  readonly #now: () => number;
  readonly #detector: FailureDetector;
  readonly #dialer: Dialer;
  readonly #linkContext: LinkContext;
  readonly #peers = new Map<string, Peer>();
  readonly #links = new Set<Link>();
  readonly #channels: Channels;
  /** Counts of links already closed (live links keep their own). */
  readonly #retired: LinkCounts = emptyCounts();
  #server: WebSocketServer | undefined;
  /** Inbound connections from their upgrade until they authenticate or close. */
  readonly #handshaking = new Set<Duplex>();
  /** Of those, how many from each address. */
  readonly #handshakingFrom = new Map<string, number>();
  #tickTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #stalls = 0;

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
    } = options;
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) throw new Error(`invalid node id "${nodeId}"`);
    if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
      throw new Error(`mesh address "${address}" is not host:port`);
    }
    if (!secret) throw new Error('the mesh needs a cluster secret');
    if (!(heartbeatMs > 0)) throw new Error(`invalid heartbeatMs ${heartbeatMs}`);
    if (!(downAfterMs > 2 * heartbeatMs)) {
      throw new Error(
        `downAfterMs (${downAfterMs}) must exceed two heartbeats (${2 * heartbeatMs})`,
      );
    }
    const reconnectGraceMs = options.reconnectGraceMs ?? Math.min(1000, downAfterMs);
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? Math.max(2000, downAfterMs);
    this.nodeId = nodeId;
    this.address = address;
    this.path = options.path ?? MESH_PATH;
    this.lifecycle = options.lifecycle ?? new Lifecycle();
    this.#version = version;
    this.#schemas = [...schemas];
    this.#caps = [...(options.caps ?? [])];
    this.#logger = logger;
    this.#heartbeatMs = heartbeatMs;
    this.#now = options.now ?? Date.now;
    this.#detector = new FailureDetector({ heartbeatMs, downAfterMs, reconnectGraceMs });
    this.#linkContext = {
      identity: { nodeId, address, version, schemas: this.#schemas, caps: this.#caps },
      secret,
      lifecycle: this.lifecycle,
      logger,
      handshakeTimeoutMs,
      refusals: new RefusalLog(),
      now: this.#now,
      maxBufferedBytes: options.maxBufferedBytes ?? MAX_BUFFERED_BYTES,
    };
    this.#dialer = new Dialer({
      selfAddress: address,
      path: this.path,
      handshakeTimeoutMs,
      maxBackoffMs: options.maxBackoffMs ?? 5000,
      localAddress: options.localAddress,
      logger,
      link: this.#linkContext,
    });
    this.#dialer.on('link', (link) => this.#adopt(link));
    this.#channels = new Channels(
      nodeId,
      {
        livePeers: () => this.#livePeers().map((p) => copyMember(p.member)),
        sendApp: (ch, peerIds, body) => this.#sendApp(ch, peerIds, body),
      },
      logger,
    );
    this.lifecycle.on('change', (state) => this.#announce(state));
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  /** Starts the heartbeat; links can be accepted or dialled before or after. */
  start(): void {
    if (this.#stopped || this.#tickTimer) return;
    this.#detector.start(this.#now());
    this.#scheduleTick();
  }

  /** Says bye to every peer, closes every link and clears every timer. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tickTimer) clearTimeout(this.#tickTimer);
    this.#tickTimer = undefined;
    this.#detector.stop();
    this.#dialer.stop();
    const closing: Promise<void>[] = [];
    for (const link of this.#links) {
      if (link.phase === 'up') link.send({ type: 'bye', reason: STOPPING });
      // A link still waiting for the peer's accept cannot carry a bye, but the peer may hold it
      // up already: this close says the same (see #closed).
      link.close(CloseCode.goingAway, STOPPING);
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
    for (const link of this.#links) link.terminate();
    this.#server?.close();
    this.#logger.info({}, 'mesh stopped');
  }

  // ── peers ──────────────────────────────────────────────────────────────────

  /** The addresses DNS currently lists (see Dialer.setPeers). */
  setPeers(addresses: Iterable<string>): void {
    if (!this.#stopped) this.#dialer.setPeers(addresses);
  }

  /** Dials an address now and keeps it as a known peer address. */
  connect(address: string): void {
    if (!this.#stopped) this.#dialer.connect(address);
  }

  /**
   * Resolves once every address has an authenticated link (or turned out to be ourselves), or
   * when timeoutMs passes: how startup knows it joined the peers DNS returned.
   */
  waitForPeers(
    addresses: string[],
    timeoutMs: number,
  ): Promise<{ joined: string[]; missing: string[] }> {
    return this.#dialer.waitFor(addresses, timeoutMs);
  }

  /** Handles an inbound mesh WebSocket (see handleUpgrade); the link, unless stopping. */
  accept(socket: MeshSocket, req?: MeshRequest): Link | undefined {
    const remote = req?.socket?.remoteAddress
      ? `${req.socket.remoteAddress}:${req.socket.remotePort ?? '?'}`
      : 'unknown';
    if (this.#stopped) {
      try {
        socket.close(CloseCode.goingAway, STOPPING);
      } catch {
        // already closing
      }
      return undefined;
    }
    const link = new Link(socket, 'in', remote, this.#linkContext);
    this.#adopt(link);
    return link;
  }

  /**
   * Takes an HTTP upgrade on `path` (the web layer routes it here): the mesh's own WebSocket
   * server, with the mesh's frame limit rather than the players' sockets' one, for at most
   * MAX_INBOUND_HANDSHAKES connections still in their handshake.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The HTTP server stops listening for this socket's errors once it is an upgrade: one that
    // the caller resets while its refusal is being written must not stop the process.
    socket.on('error', (err) => this.#logger.debug({ err: err.message }, 'mesh upgrade error'));
    const from = req.socket.remoteAddress ?? 'unknown';
    const fromThere = this.#handshakingFrom.get(from) ?? 0;
    if (
      this.#handshaking.size >= MAX_INBOUND_HANDSHAKES ||
      fromThere >= MAX_HANDSHAKES_PER_ADDRESS
    ) {
      const why =
        fromThere >= MAX_HANDSHAKES_PER_ADDRESS
          ? `${fromThere} of its connections are already in their handshake`
          : `${this.#handshaking.size} connections are already in their handshake`;
      const quiet = !this.#linkContext.refusals.fresh(`${from}|handshakes`, this.#now());
      this.#logger[quiet ? 'debug' : 'warn'](
        { remote: from, handshaking: this.#handshaking.size },
        `refused a mesh connection from ${from}: ${why}`,
      );
      // Closed both ways once written: a caller that never closes its side holds nothing here.
      socket.once('finish', () => socket.destroy());
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    this.#handshaking.add(socket);
    this.#handshakingFrom.set(from, fromThere + 1);
    const settled = (): void => {
      if (!this.#handshaking.delete(socket)) return;
      const left = (this.#handshakingFrom.get(from) ?? 1) - 1;
      if (left > 0) this.#handshakingFrom.set(from, left);
      else this.#handshakingFrom.delete(from);
    };
    socket.once('close', settled);
    this.#server ??= new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
    });
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      // A malformed frame makes ws emit 'error' (then close): heard here even on a socket that
      // accept() turns away, since an error with no listener would stop the process.
      ws.on('error', (err) => this.#logger.debug({ err: err.message }, 'mesh socket error'));
      this.accept(ws, req)?.once('authenticated', settled);
    });
  }

  /** Self plus every peer not declared down, with state, version and lastSeen. */
  members(): Member[] {
    const self: Member = {
      id: this.nodeId,
      address: this.address,
      state: this.lifecycle.state,
      version: this.#version,
      protocol: MESH_PROTOCOL,
      schemas: [...this.#schemas],
      caps: [...this.#caps],
      lastSeen: this.#now(),
    };
    return [self, ...[...this.#peers.values()].map((p) => copyMember(p.member))];
  }

  /** A named channel over the mesh; the same handlers for the same name. */
  channel(name: string): MeshChannel {
    return this.#channels.open(name);
  }

  stats(): MeshStats {
    const totals = { ...this.#retired };
    for (const link of this.#links) {
      for (const key of Object.keys(totals) as (keyof LinkCounts)[])
        totals[key] += link.counts[key];
    }
    return {
      peers: this.#peers.size,
      links: this.#links.size,
      ...totals,
      dialFailures: this.#dialer.failures,
      stalls: this.#stalls,
    };
  }

  // ── fencing ────────────────────────────────────────────────────────────────

  /** When our last detected event-loop stall ended (local ms), if any. */
  get lastStallAt(): number | undefined {
    return this.#detector.lastStallAt;
  }

  /** How long that stall lasted (ms). */
  get lastStallMs(): number {
    return this.#detector.lastStallMs;
  }

  /**
   * True when every peer not declared down has echoed a heartbeat we sent at or after `t`:
   * a round trip, so heartbeats queued while we were stalled do not count.
   */
  heardFromPeersSince(t: number): boolean {
    return this.#detector.heardFromPeersSince(t);
  }

  /**
   * We were stalled long enough that peers may have declared us down (and adopted our work),
   * and have not yet completed a heartbeat round trip with every peer since. Layers above hold
   * their clocks (no round resolution, no adoption) while this is true.
   */
  isSuspect(): boolean {
    return this.#detector.isSuspect(this.#now());
  }

  // ── heartbeat and failure detection ────────────────────────────────────────

  #scheduleTick(): void {
    this.#tickTimer = setTimeout(this.#onTick, this.#heartbeatMs);
    this.#tickTimer.unref();
  }

  readonly #onTick = (): void => {
    this.#tickTimer = undefined;
    if (this.#stopped) return;
    const now = this.#now();
    this.#act(this.#detector.tick(now));
    for (const peer of this.#peers.values()) this.#sendHeartbeat(peer, now);
    this.#scheduleTick();
  };

  /** Carries out the failure detector's verdicts. */
  #act(verdicts: Verdict[]): void {
    for (const verdict of verdicts) {
      if (verdict.kind === 'stalled') {
        this.#stalls++;
        this.#logger.warn(
          { stallMs: verdict.ms },
          `event loop stalled for ${verdict.ms} ms; holding peer verdicts until fresh heartbeats arrive`,
        );
      } else if (verdict.kind === 'trusted') {
        this.#logger.info(
          { peers: this.#peers.size },
          'heard from every peer since the stall; no longer suspect',
        );
      } else {
        const peer = this.#peers.get(verdict.peer);
        if (peer) this.#declareDown(peer, verdict.reason);
      }
    }
  }

  #sendHeartbeat(peer: Peer, now: number): void {
    const beat = this.#detector.beat(peer.member.id, now);
    peer.link?.send({ type: 'hb', state: this.lifecycle.state, ...beat });
  }

  /** Our lifecycle state changed: every peer hears it at once (and in every heartbeat). */
  #announce(state: NodeState): void {
    if (this.#stopped) return;
    for (const peer of this.#peers.values()) peer.link?.send({ type: 'state', state });
  }

  #declareDown(peer: Peer, reason: string): void {
    const id = peer.member.id;
    if (this.#peers.get(id) !== peer) return;
    this.#peers.delete(id);
    peer.link?.close(CloseCode.peerDown, 'declared down');
    peer.link = undefined;
    this.#dialer.gone(id);
    this.#logger.info(
      { peer: id, address: peer.member.address, reason },
      `peer ${id} (${peer.member.address}) down: ${reason}`,
    );
    this.#channels.emit('down', peer.member);
    this.#act(this.#detector.remove(id));
  }

  // ── links ──────────────────────────────────────────────────────────────────

  #adopt(link: Link): void {
    this.#links.add(link);
    link.on('authenticated', (hello) => this.#authenticated(link, hello));
    link.on('message', (message, bytes) => this.#onMessage(link, message, bytes));
    link.on('closed', (info) => this.#closed(link, info));
  }

  /** The handshake finished on this end: keep exactly one link per peer, then report. */
  #authenticated(link: Link, hello: Hello): void {
    const peerId = hello.nodeId;
    const now = this.#now();
    const existing = this.#peers.get(peerId);
    const current = existing?.link;
    if (
      current &&
      current !== link &&
      current.isOpen &&
      !this.#prefer(link, current, peerId, now)
    ) {
      this.#logger.debug({ peer: peerId }, 'closing duplicate mesh link');
      link.decline(CloseCode.duplicateLink, 'duplicate link');
      return;
    }
    link.establish();
    this.#dialer.linked(peerId, hello.address, link);
    if (existing && current && current !== link) {
      existing.link = undefined;
      current.close(CloseCode.duplicateLink, 'replaced by a newer link');
    }
    if (existing) {
      if (!current) this.#logger.info({ peer: peerId }, `link to ${peerId} restored`);
      this.#detector.linkUp(peerId, now);
      existing.link = link;
      Object.assign(existing.member, {
        lastSeen: now,
        address: hello.address,
        version: hello.version,
        protocol: hello.protocol,
        schemas: [...hello.schemas],
        caps: [...(hello.caps ?? [])],
      });
      this.#updateState(existing, hello.state);
      this.#sendHeartbeat(existing, now);
      if (current !== link) this.#channels.emit('relink', existing.member);
      return;
    }
    const { address, state, version, protocol, schemas } = hello;
    const member: Member = {
      id: peerId,
      address,
      state,
      version,
      protocol,
      schemas: [...schemas],
      caps: [...(hello.caps ?? [])],
      lastSeen: now,
    };
    const peer: Peer = { member, link };
    this.#peers.set(peerId, peer);
    this.#detector.linkUp(peerId, now);
    this.#logger.info(
      { peer: peerId, address, state, version },
      `peer ${peerId} (${address}) up, ${link.direction === 'out' ? 'dialled' : 'connected to us'}`,
    );
    this.#sendHeartbeat(peer, now);
    this.#channels.emit('up', peer.member);
  }

  /**
   * Tie-break between two authenticated links to the same peer; both ends reach the same
   * answer: keep the link initiated by the lower node id. A link that went silent loses,
   * and between two links from the same initiator the newer wins (a reconnect).
   */
  #prefer(candidate: Link, current: Link, peerId: string, now: number): boolean {
    if (now - current.lastMessageAt > 2 * this.#heartbeatMs) return true;
    const initiator = (l: Link): string => (l.direction === 'out' ? this.nodeId : peerId);
    if (initiator(candidate) === initiator(current)) return true;
    const lower = this.nodeId < peerId ? this.nodeId : peerId;
    return initiator(candidate) === lower;
  }

  #onMessage(link: Link, message: MeshMessage, bytes: number): void {
    const peerId = link.hello?.nodeId;
    const peer = peerId === undefined ? undefined : this.#peers.get(peerId);
    if (!peer) return;
    const now = this.#now();
    peer.member.lastSeen = now;
    this.#detector.heard(peer.member.id, now);
    switch (message.type) {
      case 'hb': {
        this.#updateState(peer, message.state);
        const beat =
          message.ack === undefined ? { t: message.t } : { t: message.t, ack: message.ack };
        this.#act(this.#detector.heartbeat(peer.member.id, beat));
        return;
      }
      case 'state':
        this.#updateState(peer, message.state);
        return;
      case 'app':
        if (!this.#channels.deliver(peer.member.id, message.ch, message.body, bytes)) {
          link.counts.invalid++;
          const channel = message.ch.slice(0, 32);
          const fresh = this.#linkContext.refusals.fresh(
            `${peerId}|channel|${channel}`,
            this.#now(),
          );
          this.#logger[fresh ? 'warn' : 'debug'](
            { peer: peerId, channel: message.ch },
            `dropped a message from ${peerId} on unknown channel ${channel}`,
          );
        }
        return;
      case 'bye':
        this.#left(peer, message.reason ?? 'bye');
        return;
      default:
        link.counts.invalid++;
        this.#logger[
          this.#linkContext.refusals.fresh(`${peerId}|late|${message.type}`, this.#now())
            ? 'warn'
            : 'debug'
        ](
          { peer: peerId, address: link.remote, type: message.type },
          `dropped ${message.type} message from ${peerId}: not valid after the handshake`,
        );
    }
  }

  /** The peer said it is stopping (its bye, or its link's stopping close): down at once. */
  #left(peer: Peer, why: string): void {
    this.#updateState(peer, 'stopped');
    this.#declareDown(peer, `left (${why})`);
  }

  #updateState(peer: Peer, state: NodeState): void {
    if (peer.member.state === state) return;
    peer.member.state = state;
    this.#logger.info({ peer: peer.member.id, state }, `peer ${peer.member.id} is ${state}`);
    this.#channels.emit('state', peer.member);
  }

  #closed(link: Link, { code, reason, wasUp, error }: LinkClosed): void {
    this.#links.delete(link);
    for (const key of Object.keys(this.#retired) as (keyof LinkCounts)[])
      this.#retired[key] += link.counts[key];
    if (!wasUp) return;
    const peerId = link.hello?.nodeId;
    const peer = peerId === undefined ? undefined : this.#peers.get(peerId);
    if (!peer || peer.link !== link) return;
    peer.link = undefined;
    if (this.#stopped) return;
    if (code === CloseCode.goingAway && reason === STOPPING) {
      // The peer closed an authenticated link because it is stopping: its bye, from a node that
      // dialled this link and was still waiting for the accept (it has no link to say bye on).
      this.#left(peer, `${STOPPING}, link closed`);
      return;
    }
    const detail = `${code}${reason ? ` ${reason}` : ''}${error ? `: ${error}` : ''}`;
    this.#logger.info(
      { peer: peerId, code, reason, ...(error ? { error } : {}) },
      `link to ${peerId} closed (${detail}); reconnecting`,
    );
    this.#detector.linkLost(peer.member.id, this.#now());
    this.#dialer.unlinked(peer.member.id, peer.member.address);
  }

  // ── sending and channels ───────────────────────────────────────────────────

  #livePeers(): Peer[] {
    return [...this.#peers.values()].filter((p) => p.link?.isOpen === true);
  }

  #sendApp(ch: string, peerIds: string[], body: unknown): string[] {
    const frame = encodeFrame({ type: 'app', ch, body });
    if (frame === undefined) {
      this.#logger.error({ channel: ch }, `cannot send on ${ch}: body is not JSON-serialisable`);
      return [];
    }
    const bytes = Buffer.byteLength(frame);
    if (bytes > MAX_FRAME_BYTES) {
      this.#logger.error(
        { channel: ch, bytes },
        `cannot send on ${ch}: message exceeds the ${MAX_FRAME_BYTES}-byte frame limit`,
      );
      return [];
    }
    const sent: string[] = [];
    for (const id of peerIds) {
      const link = this.#peers.get(id)?.link;
      if (link?.isOpen && link.sendFrame(frame)) sent.push(id);
    }
    return sent;
  }
}

function copyMember(member: Member): Member {
  return { ...member, schemas: [...member.schemas], caps: [...member.caps] };
}
