// Request and reply over the sessions channel: each request carries an id; its answer resolves
// the waiting promise, a timeout or the peer going down resolves it with null. A request still
// waiting when its link to the peer is replaced is sent again (the old link may have lost it or
// its answer); the peer answers a request it already had with the same answer (Answers, below),
// so nothing runs twice.

import type { Clock, TimerHandle } from '../clock.js';
import type { MeshChannel } from '../cluster/types.js';
import type { SessionsMessage } from './protocol.js';

type Reply = Extract<SessionsMessage, { type: 'result' | 'created' | 'handoff-result' }>;

interface Pending {
  peer: string;
  msg: SessionsMessage;
  resolve: (reply: Reply | null) => void;
  timer: TimerHandle;
}

export class PeerRequests {
  readonly #pending = new Map<string, Pending>();
  #next = 0;
  /**
   * When this process's requests began (base 36): ids never repeat across a restart with the
   * same node id, so a peer that keeps its answers by id (Answers) cannot hand a new request
   * the answer to an old one.
   */
  readonly #incarnation: string;

  constructor(
    private readonly channel: MeshChannel,
    private readonly clock: Clock,
  ) {
    this.#incarnation = clock.now().toString(36);
  }

  newId(): string {
    return `${this.#incarnation}-${++this.#next}`;
  }

  /** Sends `msg` to `peer`; resolves with its answer, or null (timeout, peer down, not sent). */
  ask(peer: string, msg: SessionsMessage, timeoutMs: number): Promise<Reply | null> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.#pending.delete(msg.id);
        resolve(null);
      }, timeoutMs);
      this.#pending.set(msg.id, { peer, msg, resolve, timer });
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

  /**
   * The link to `peer` was replaced without the peer going down: what was in flight on the old
   * one may be lost, so every request still waiting for it is sent again (same id, same timeout).
   */
  resend(peer: string): void {
    for (const [id, p] of [...this.#pending])
      if (p.peer === peer && !this.channel.send(peer, p.msg)) this.#finish(id, null);
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

/**
 * The answers this node gave to its peers' requests, by peer and request id, for `keepMs`: a
 * request that arrives again (sent again after a relink) gets the answer of the first, or waits
 * for it, instead of running twice (a second game created, a command applied again).
 */
export class Answers<A> {
  readonly #given = new Map<string, { answer: Promise<A>; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly keepMs = 30_000,
  ) {}

  /** The answer to `id` from `peer`: `run()`'s, the first time it is asked within keepMs. */
  once(peer: string, id: string, run: () => Promise<A>): Promise<A> {
    const now = this.clock.now();
    // Oldest first (a Map keeps insertion order): drop what is past keeping.
    for (const [key, entry] of this.#given) {
      if (now - entry.at < this.keepMs) break;
      this.#given.delete(key);
    }
    const key = `${peer}\u0000${id}`;
    const given = this.#given.get(key);
    if (given) return given.answer;
    const answer = run();
    this.#given.set(key, { answer, at: now });
    return answer;
  }
}
