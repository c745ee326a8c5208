// Request and reply over the sessions channel: each request carries an id; its answer resolves
// the waiting promise, a timeout or the peer going down resolves it with null.

import type { Clock, TimerHandle } from '../clock.js';
import type { MeshChannel } from '../cluster/types.js';
import type { SessionsMessage } from './protocol.js';

type Reply = Extract<SessionsMessage, { type: 'result' | 'created' | 'handoff-result' }>;

interface Pending {
  peer: string;
  resolve: (reply: Reply | null) => void;
  timer: TimerHandle;
}

export class PeerRequests {
  readonly #pending = new Map<string, Pending>();
  #next = 0;

  constructor(
    private readonly channel: MeshChannel,
    private readonly clock: Clock,
  ) {}

  newId(): string {
    return `${this.channel.selfId}-${++this.#next}`;
  }

  /** Sends `msg` to `peer`; resolves with its answer, or null (timeout, peer down, not sent). */
  ask(peer: string, msg: SessionsMessage, timeoutMs: number): Promise<Reply | null> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.#pending.delete(msg.id);
        resolve(null);
      }, timeoutMs);
      this.#pending.set(msg.id, { peer, resolve, timer });
      if (!this.channel.send(peer, msg)) this.#finish(msg.id, null);
    });
  }

  /** An answer arrived; false when nobody waits for it (late, after a timeout). */
  answer(from: string, reply: Reply): boolean {
    const p = this.#pending.get(reply.id);
    if (!p || p.peer !== from) return false;
    this.#finish(reply.id, reply);
    return true;
  }

  /** A peer is gone: its answers will never come. */
  peerDown(peer: string): void {
    for (const [id, p] of [...this.#pending]) if (p.peer === peer) this.#finish(id, null);
  }

  stop(): void {
    for (const id of [...this.#pending.keys()]) this.#finish(id, null);
  }

  #finish(id: string, reply: Reply | null): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.clock.clearTimeout(p.timer);
    p.resolve(reply);
  }
}
