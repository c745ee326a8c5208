// A hand-driven mesh peer for tests: dials a node's mesh endpoint, completes the
// challenge–response handshake with the cluster secret (as the initiator), keeps the link alive
// with heartbeats, and then sends whatever frames a test wants, well-formed or not.

import WebSocket from 'ws';
import { createNonce, createProof, verifyProof } from '../../src/cluster/auth.js';
import { MESH_PATH, MESH_PROTOCOL } from '../../src/cluster/protocol.js';
import { waitFor } from './node-process.js';

export interface RawMeshOptions {
  /** host:port of the node to dial. */
  target: string;
  secret: string;
  nodeId: string;
  /** The address this peer claims in its hello (host:port). */
  address: string;
  version?: string;
  schemas?: number[];
  /** Lifecycle state announced in hello and heartbeats; 'joining' keeps games off this peer. */
  state?: string;
  localAddress?: string;
  path?: string;
  heartbeatMs?: number;
}

export interface Frame {
  raw: string;
  json: Record<string, unknown> | null;
}

export class RawMeshPeer {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  peerId = '';
  private hb: NodeJS.Timeout | undefined;
  private theirT: number | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly opts: RawMeshOptions,
  ) {}

  /** Connects and completes the handshake; rejects if the node refuses. */
  static async connect(opts: RawMeshOptions): Promise<RawMeshPeer> {
    const ws = new WebSocket(`ws://${opts.target}${opts.path ?? MESH_PATH}`, {
      perMessageDeflate: false,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const peer = new RawMeshPeer(ws, opts);
    const nonce = createNonce();
    const state = opts.state ?? 'joining';
    let up = false;
    let failure: Error | null = null;
    ws.on('message', (data: Buffer) => {
      const raw = data.toString();
      let json: Record<string, unknown> | null;
      try {
        json = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        json = null;
      }
      peer.frames.push({ raw, json });
      if (!json) return;
      if (json.type === 'hello') {
        peer.peerId = String(json.nodeId);
        const proof = createProof(opts.secret, {
          role: 'initiator',
          protocol: MESH_PROTOCOL,
          proverId: opts.nodeId,
          verifierId: peer.peerId,
          proverNonce: nonce,
          verifierNonce: String(json.nonce),
        });
        peer.sendJson({ type: 'auth', proof });
        (peer as { theirNonce?: string }).theirNonce = String(json.nonce);
      } else if (json.type === 'auth') {
        const ok = verifyProof(
          opts.secret,
          {
            role: 'acceptor',
            protocol: MESH_PROTOCOL,
            proverId: peer.peerId,
            verifierId: opts.nodeId,
            proverNonce: (peer as { theirNonce?: string }).theirNonce ?? '',
            verifierNonce: nonce,
          },
          String(json.proof),
        );
        if (!ok) failure = new Error('the node’s proof did not verify');
      } else if (json.type === 'accept') {
        up = true;
      } else if (json.type === 'hb') {
        peer.theirT = Number(json.t);
      }
    });
    ws.on('close', (code, reason) => {
      peer.closeCode = code;
      peer.closeReason = reason.toString();
      if (peer.hb) clearInterval(peer.hb);
    });
    ws.on('error', (err) => {
      failure ??= err;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    peer.sendJson({
      type: 'hello',
      nodeId: opts.nodeId,
      address: opts.address,
      version: opts.version ?? '0.0.0-probe',
      protocol: MESH_PROTOCOL,
      schemas: opts.schemas ?? [],
      state,
      nonce,
    });
    await waitFor(
      () => {
        if (failure) throw failure;
        if (peer.closeCode !== null)
          throw new Error(`refused: ${peer.closeCode} ${peer.closeReason}`);
        return up;
      },
      5000,
      'the mesh handshake',
      10,
    );
    peer.hb = setInterval(() => {
      peer.sendJson({
        type: 'hb',
        state,
        t: Date.now(),
        ...(peer.theirT !== undefined ? { ack: peer.theirT } : {}),
      });
    }, opts.heartbeatMs ?? 200);
    peer.hb.unref();
    return peer;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a raw frame (text as is, objects as JSON). */
  send(frame: string | Buffer): void {
    this.ws.send(frame);
  }

  sendJson(obj: unknown): void {
    this.ws.send(JSON.stringify(obj));
  }

  /** Sends `body` on an application channel (e.g. "replication", "sessions"). */
  sendApp(ch: string, body: unknown): void {
    this.sendJson({ type: 'app', ch, body });
  }

  /** The first application message on `ch` whose body matches, from index `since` on. */
  nextApp(
    ch: string,
    pred: (body: Record<string, unknown>) => boolean,
    since = 0,
    timeoutMs = 5000,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      () => {
        for (const f of this.frames.slice(since)) {
          const j = f.json;
          if (
            j?.type === 'app' &&
            j.ch === ch &&
            j.body &&
            typeof j.body === 'object' &&
            pred(j.body as Record<string, unknown>)
          )
            return j.body as Record<string, unknown>;
        }
        return null;
      },
      timeoutMs,
      `a ${ch} message`,
      10,
    );
  }

  /** Says goodbye and closes. */
  close(): void {
    if (this.hb) clearInterval(this.hb);
    if (this.open) {
      this.sendJson({ type: 'bye', reason: 'test done' });
      this.ws.close(1001, 'test done');
    }
  }

  terminate(): void {
    if (this.hb) clearInterval(this.hb);
    this.ws.terminate();
  }
}
