// One mesh WebSocket, from its first frame to its close: the mutual HMAC handshake (hello, auth,
// accept), frame decoding, the handshake timeout, refusals (logged once per address and reason
// a minute), and closing with a kill timer for peers that never finish the close handshake.
// It reports by events; which link a peer keeps and what its messages mean is the mesh's job.

import { EventEmitter } from 'node:events';
import { createNonce, createProof, verifyProof } from './auth.js';
import type { LifecycleView } from './lifecycle.js';
import {
  CloseCode,
  MESH_PROTOCOL,
  closeReason,
  decodeFrame,
  encodeFrame,
  type Hello,
  type MeshMessage,
} from './protocol.js';
import type { ClusterLogger } from './types.js';

/** An invalid message of one kind is logged once per this long per link (with a count after). */
const INVALID_LOG_MS = 10_000;
/** Kinds of invalid message remembered per link (their reasons may name a type). */
const INVALID_KINDS_KEPT = 32;

/** The part of a WebSocket a link uses: satisfied by ws@8 and by express-ws's ws@7 sockets. */
export interface MeshSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'open', listener: () => void): unknown;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  /** ws@8 gives the reason as a Buffer, ws@7 as a string. */
  on(event: 'close', listener: (code: number, reason: Buffer | string) => void): unknown;
  terminate?(): void;
  /** Bytes sent but not yet handed to the operating system (ws). */
  readonly bufferedAmount?: number;
}

/** Who this node is in a handshake. */
export interface LinkIdentity {
  nodeId: string;
  /** host:port advertised in the hello. */
  address: string;
  version: string;
  schemas: readonly number[];
  caps: readonly string[];
}

/** What every link of one mesh shares. */
export interface LinkContext {
  identity: LinkIdentity;
  secret: string;
  /** Read for the state announced in the hello. */
  lifecycle: LifecycleView;
  logger: ClusterLogger;
  handshakeTimeoutMs: number;
  refusals: RefusalLog;
  now: () => number;
  /** Most bytes a link lets wait for a peer that reads slowly before it drops the link. */
  maxBufferedBytes: number;
}

/**
 * The default of `maxBufferedBytes`: tens of seconds of a busy node's replication, far above a
 * handoff's or a catch-up's burst, far below what would threaten the heap.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** `declined`: authenticated, but the mesh keeps another link to the peer; closing. */
export type Phase = 'connecting' | 'hello' | 'auth' | 'accept' | 'up' | 'declined' | 'closed';
export type Direction = 'in' | 'out';

export interface LinkClosed {
  code: number;
  reason: string;
  /** Whether the link had been established (the handshake finished and the mesh kept it). */
  wasUp: boolean;
  /** The socket's own error, if any (e.g. ECONNREFUSED). */
  error?: string;
  /** Set when this end refused the link during the handshake. */
  refused?: { code: number; reason: string };
}

export interface LinkCounts {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Refused during the handshake (bad secret, protocol, message, timeout). */
  refused: number;
  /** Invalid frames dropped after the handshake. */
  invalid: number;
}

export function emptyCounts(): LinkCounts {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, refused: 0, invalid: 0 };
}

export interface LinkEvents {
  /**
   * The other end proved it holds the secret (and, for a link we dialled, accepted ours). The
   * listener must either establish() the link or close() it, before returning.
   */
  authenticated: [hello: Hello];
  /** A valid message on an established link, and the size of its frame in bytes. */
  message: [message: MeshMessage, bytes: number];
  closed: [info: LinkClosed];
}

const OPEN = 1;
const CLOSE_WAIT_MS = 1000;
/** A repeated refusal (same address, same reason) is logged at warn once per this period. */
const REFUSAL_LOG_MS = 60_000;
/** How many refusals' last lines are remembered. */
const REFUSALS_KEPT = 1000;

/**
 * Remembers which refusals were logged recently, so a peer retrying every second is one line a
 * minute.
 */
export class RefusalLog {
  readonly #loggedAt = new Map<string, number>();

  /** True when this refusal should be logged at warn (first time, or a minute since). */
  fresh(key: string, now: number): boolean {
    const at = this.#loggedAt.get(key);
    if (at !== undefined && now - at < REFUSAL_LOG_MS) return false;
    // Kept in the order logged (a key logged again moves to the end); past the cap the oldest
    // goes, never the whole map (that would make every recent refusal fresh again at once).
    this.#loggedAt.delete(key);
    this.#loggedAt.set(key, now);
    if (this.#loggedAt.size > REFUSALS_KEPT) {
      const oldest = this.#loggedAt.keys().next().value;
      if (oldest !== undefined) this.#loggedAt.delete(oldest);
    }
    return true;
  }
}

export class Link extends EventEmitter<LinkEvents> {
  readonly counts: LinkCounts = emptyCounts();
  /** Resolves once the socket closed. */
  readonly closed: Promise<void>;
  readonly #ctx: LinkContext;
  readonly #socket: MeshSocket;
  readonly #nonce = createNonce();
  #phase: Phase;
  /** Invalid messages logged, by reason: when last, and how many dropped quietly since. */
  readonly #invalidLogged = new Map<string, { at: number; since: number }>();
  #hello: Hello | undefined;
  #lastMessageAt: number;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #error: string | undefined;
  #refused: { code: number; reason: string } | undefined;

  /**
   * @param remote dialled address (out) or remote ip:port (in), for logs.
   */
  constructor(
    socket: MeshSocket,
    readonly direction: Direction,
    readonly remote: string,
    ctx: LinkContext,
  ) {
    super();
    this.#socket = socket;
    this.#ctx = ctx;
    // An inbound socket is already open and waits for the caller's hello; we dial, then greet.
    this.#phase = direction === 'in' ? 'hello' : 'connecting';
    this.#lastMessageAt = ctx.now();
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    this.#handshakeTimer = setTimeout(() => this.#handshakeTimedOut(), ctx.handshakeTimeoutMs);
    this.#handshakeTimer.unref();
    socket.on('open', () => {
      if (this.#phase !== 'connecting') return;
      this.#phase = 'hello';
      this.send(this.#helloMessage());
    });
    socket.on('message', (data) => this.#onFrame(data));
    socket.on('error', (err) => {
      this.#error ??= err.message;
      ctx.logger.debug({ link: remote, err: err.message }, 'mesh socket error');
    });
    socket.on('close', (code, reason) => {
      this.#onClose(code, reason.toString());
      resolveClosed();
    });
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** The other end's hello, once received. */
  get hello(): Hello | undefined {
    return this.#hello;
  }

  /** Local time of the last valid frame (silent links lose the tie-break between duplicates). */
  get lastMessageAt(): number {
    return this.#lastMessageAt;
  }

  /** Established and its socket still open: messages sent now can arrive. */
  get isOpen(): boolean {
    return this.#phase === 'up' && this.#socket.readyState === OPEN;
  }

  /** The mesh keeps this link for its peer: the acceptor confirms with `accept`. */
  establish(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'up';
    if (this.direction === 'in') this.send({ type: 'accept' });
  }

  /**
   * The mesh keeps another link to this peer. A peer that accepted our dial may already have
   * taken this link and sent on it before our tie-break ran: what it sent still arrives, and is
   * delivered, until the close completes.
   */
  decline(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'declined';
    this.close(code, reason);
  }

  send(message: MeshMessage): boolean {
    const frame = encodeFrame(message);
    return frame !== undefined && this.sendFrame(frame);
  }

  /** Sends an already encoded frame (one encoding for a broadcast). */
  sendFrame(frame: string): boolean {
    if (this.#socket.readyState !== OPEN) return false;
    // A peer that is up but reads slower than this node writes (starved of CPU, a link that
    // crawls) would make its frames pile up here without end: past the bound the link goes, and
    // the peers catch up by digest on the next one, as after any other drop.
    const waiting = this.#socket.bufferedAmount ?? 0;
    if (waiting > this.#ctx.maxBufferedBytes) {
      this.#ctx.logger.warn(
        { link: this.remote, peer: this.#hello?.nodeId, buffered: waiting },
        `mesh link to ${this.#hello?.nodeId ?? this.remote} dropped: ${waiting} bytes waited for the peer to read them`,
      );
      this.close(CloseCode.slowReader, 'peer reads too slowly');
      this.terminate();
      return false;
    }
    try {
      this.#socket.send(frame);
    } catch (err) {
      this.#ctx.logger.debug(
        { link: this.remote, err: (err as Error).message },
        'mesh send failed',
      );
      return false;
    }
    this.counts.messagesOut++;
    this.counts.bytesOut += Buffer.byteLength(frame);
    return true;
  }

  /** Starts the close handshake; the socket is terminated if it does not finish in a second. */
  close(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    try {
      this.#socket.close(code, closeReason(reason));
    } catch {
      this.#socket.terminate?.();
    }
    this.#killTimer ??= setTimeout(() => {
      this.#killTimer = undefined;
      if (this.#phase !== 'closed') this.#socket.terminate?.();
    }, CLOSE_WAIT_MS);
    this.#killTimer.unref();
  }

  terminate(): void {
    this.#socket.terminate?.();
  }

  /** Refuses the link during the handshake: one log line naming the address and the reason. */
  refuse(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    this.counts.refused++;
    this.#refused = { code, reason };
    const hello = this.#hello;
    const who = hello ? `${hello.nodeId} (${hello.address}, via ${this.remote})` : this.remote;
    // By the address the link really has and the kind of refusal: not by what the caller claims
    // (its address, a message type of its choosing), which it could change at each try.
    const key = `${this.remote.replace(/:\d+$/, '')}|${code}`;
    const quiet =
      !this.#ctx.refusals.fresh(key, this.#ctx.now()) || code === CloseCode.selfConnection;
    this.#ctx.logger[quiet ? 'debug' : 'warn'](
      { peer: hello?.nodeId, address: hello?.address, remote: this.remote, code, reason },
      `refused mesh link ${this.direction === 'in' ? 'from' : 'to'} ${who}: ${reason}`,
    );
    this.close(code, reason);
  }

  #handshakeTimedOut(): void {
    this.#handshakeTimer = undefined;
    if (this.#phase === 'connecting') {
      // Never reached the WebSocket stage (e.g. a stopped process): a dial failure, not a refusal.
      this.#error = 'connection timed out';
      this.close(CloseCode.handshakeTimeout, 'handshake timeout');
    } else if (this.#phase !== 'up' && this.#phase !== 'closed') {
      this.refuse(CloseCode.handshakeTimeout, 'handshake timeout');
    }
  }

  #helloMessage(): MeshMessage {
    const { nodeId, address, version, schemas, caps } = this.#ctx.identity;
    return {
      type: 'hello',
      nodeId,
      address,
      version,
      protocol: MESH_PROTOCOL,
      schemas: [...schemas],
      ...(caps.length > 0 && { caps: [...caps] }),
      state: this.#ctx.lifecycle.state,
      nonce: this.#nonce,
    };
  }

  #onFrame(data: unknown): void {
    if (this.#phase === 'closed') return;
    const decoded = decodeFrame(data);
    this.counts.bytesIn += decoded.bytes;
    if (!decoded.ok) {
      if (this.#phase !== 'up' && this.#phase !== 'declined')
        return this.refuse(decoded.code, decoded.reason);
      this.counts.invalid++;
      // One line per kind of problem every INVALID_LOG_MS, with how many more were dropped: a
      // peer that keeps sending what this release cannot read does not fill the log.
      const now = this.#ctx.now();
      const last = this.#invalidLogged.get(decoded.reason);
      if (last && now - last.at < INVALID_LOG_MS) {
        last.since++;
        return;
      }
      if (!last && this.#invalidLogged.size >= INVALID_KINDS_KEPT) this.#invalidLogged.clear();
      this.#invalidLogged.set(decoded.reason, { at: now, since: 0 });
      const peer = this.#hello?.nodeId;
      const more = last?.since ? ` (and ${last.since} more like it since the last line)` : '';
      this.#ctx.logger.warn(
        { peer, address: this.remote, reason: decoded.reason, more: last?.since ?? 0 },
        `dropped message from ${peer} (${this.remote}): ${decoded.reason}${more}`,
      );
      return;
    }
    this.counts.messagesIn++;
    this.#lastMessageAt = this.#ctx.now();
    const message = decoded.message;
    switch (this.#phase) {
      case 'hello':
        return this.#onHello(message);
      case 'auth':
        return this.#onAuth(message);
      case 'accept':
        if (message.type !== 'accept') return this.#unexpected(message.type);
        return this.#authenticated();
      case 'up':
      case 'declined':
        this.emit('message', message, decoded.bytes);
        return;
      default:
        return this.#unexpected(message.type);
    }
  }

  #unexpected(type: string): void {
    this.refuse(
      CloseCode.badMessage,
      `unexpected ${type} message during handshake (${this.#phase})`,
    );
  }

  #onHello(message: MeshMessage): void {
    if (message.type !== 'hello') return this.#unexpected(message.type);
    this.#hello = message;
    if (message.nodeId === this.#ctx.identity.nodeId) {
      // This node reached itself under another name: its own hello, with its own address. Any
      // other address is another node given the same NODE_ID, and the two can never link.
      if (message.address === this.#ctx.identity.address)
        return this.refuse(CloseCode.selfConnection, 'connected to itself');
      return this.refuse(
        CloseCode.sameNodeId,
        `the node at ${message.address} has this node's id (${message.nodeId}): give each node its own NODE_ID`,
      );
    }
    if (message.nonce === this.#nonce)
      return this.refuse(CloseCode.badMessage, 'nonce echoed back');
    this.#phase = 'auth';
    // The acceptor answers a hello with its own (the challenge) and no proof: a caller learns
    // nothing it could test a guessed secret against until it has proved it knows the secret.
    if (this.direction === 'in') this.send(this.#helloMessage());
    else this.send({ type: 'auth', proof: this.#proof(message) });
  }

  #proof(hello: Hello): string {
    return createProof(this.#ctx.secret, {
      role: this.direction === 'out' ? 'initiator' : 'acceptor',
      protocol: MESH_PROTOCOL,
      proverId: this.#ctx.identity.nodeId,
      verifierId: hello.nodeId,
      proverNonce: this.#nonce,
      verifierNonce: hello.nonce,
    });
  }

  #onAuth(message: MeshMessage): void {
    if (message.type !== 'auth') return this.#unexpected(message.type);
    const hello = this.#hello;
    if (!hello) return this.#unexpected(message.type);
    const ok = verifyProof(
      this.#ctx.secret,
      {
        role: this.direction === 'out' ? 'acceptor' : 'initiator',
        protocol: MESH_PROTOCOL,
        proverId: hello.nodeId,
        verifierId: this.#ctx.identity.nodeId,
        proverNonce: hello.nonce,
        verifierNonce: this.#nonce,
      },
      message.proof,
    );
    if (!ok) return this.refuse(CloseCode.badSecret, 'bad secret');
    if (this.direction === 'out') {
      // The acceptor confirms with `accept` once it checked our proof.
      this.#phase = 'accept';
      return;
    }
    // The caller proved it knows the secret; now we prove it too (then `accept`, in establish).
    this.send({ type: 'auth', proof: this.#proof(hello) });
    this.#authenticated();
  }

  #authenticated(): void {
    const hello = this.#hello;
    if (!hello) return;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.emit('authenticated', hello);
  }

  #onClose(code: number, reason: string): void {
    const wasUp = this.#phase === 'up';
    this.#phase = 'closed';
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.emit('closed', {
      code,
      reason,
      wasUp,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
      ...(this.#refused !== undefined ? { refused: this.#refused } : {}),
    });
  }
}
