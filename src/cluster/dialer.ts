// Which addresses this node dials and when: the ones DNS lists, the ones asked for, and the
// ones peers advertised when they connected to us; each dialled with backoff until a link to it
// is up, and dropped once nothing wants it any more. The mesh tells it which peers are linked
// or gone; it hands every new outbound link to the mesh as a `link` event.

import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { Link, type LinkClosed, type LinkContext } from './link.js';
import { CloseCode, MAX_FRAME_BYTES } from './protocol.js';
import type { ClusterLogger } from './types.js';

export interface DialerOptions {
  /** Our own advertised host:port: never dialled. */
  selfAddress: string;
  path: string;
  handshakeTimeoutMs: number;
  /** Backoff cap between dial attempts to an address. */
  maxBackoffMs: number;
  /** Source address for outbound links (so peers see our address, e.g. 127.0.0.2). */
  localAddress?: string | undefined;
  logger: ClusterLogger;
  /** What every link needs for its handshake. */
  link: LinkContext;
}

interface Target {
  readonly address: string;
  fromDns: boolean;
  manual: boolean;
  /** The node that answered at this address. */
  peerId?: string;
  /** The address turned out to be this node under another name. */
  self: boolean;
  attempt: number;
  dialing?: Link;
  retryTimer?: NodeJS.Timeout;
  /** Dial errors already logged since the last success (each is logged once). */
  errors: Set<string>;
}

const BASE_BACKOFF_MS = 100;

export class Dialer extends EventEmitter<{ link: [link: Link] }> {
  /** Dial attempts that failed (refused, unreachable, timed out). */
  failures = 0;
  readonly #opts: DialerOptions;
  readonly #targets = new Map<string, Target>();
  /** Peers not declared down (their addresses stay wanted while they are alive). */
  readonly #alive = new Set<string>();
  /** Peers with an established link: their addresses need no dialling. */
  readonly #linked = new Set<string>();
  /** Callers of waitFor, checked whenever an address is reached. */
  readonly #waiters = new Set<() => void>();
  #stopped = false;

  constructor(options: DialerOptions) {
    super();
    this.#opts = options;
  }

  /**
   * The addresses DNS currently lists. New ones are dialled; known ones keep being retried
   * with backoff. An address that leaves DNS is not disconnected: a stopping node is removed
   * from DNS before it drains, and we keep talking to it until it leaves.
   */
  setPeers(addresses: Iterable<string>): void {
    if (this.#stopped) return;
    const next = new Set([...addresses].filter((a) => a !== this.#opts.selfAddress));
    for (const target of [...this.#targets.values()]) {
      if (target.fromDns && !next.has(target.address)) {
        target.fromDns = false;
        if (!this.#wanted(target)) this.#drop(target);
      }
    }
    for (const address of next) {
      const target = this.#ensureTarget(address);
      target.fromDns = true;
      this.#ensureDial(target);
    }
  }

  /** Dials an address now and keeps it as a known peer address. */
  connect(address: string): void {
    if (this.#stopped || address === this.#opts.selfAddress) return;
    const target = this.#ensureTarget(address);
    target.manual = true;
    this.#ensureDial(target);
  }

  /**
   * The mesh established `link` as the link of `peerId`, which advertises `advertised`: that
   * address is now known (we redial it if the link drops), and the one dialled succeeded.
   */
  linked(peerId: string, advertised: string, link: Link): void {
    this.#alive.add(peerId);
    this.#linked.add(peerId);
    const target = this.#ensureTarget(advertised);
    const dialled = [...this.#targets.values()].find((t) => t.dialing === link);
    for (const t of [target, dialled]) {
      if (!t) continue;
      t.peerId = peerId;
      t.attempt = 0;
      this.#clearRetry(t);
      if (t.errors.size > 0) {
        this.#opts.logger.info({ address: t.address }, `reached ${t.address} again`);
        t.errors.clear();
      }
    }
    if (dialled) dialled.dialing = undefined;
    this.#notify();
  }

  /** The peer's link closed and it has a grace period to come back: dial its address now. */
  unlinked(peerId: string, address: string): void {
    this.#linked.delete(peerId);
    const target = this.#targets.get(address);
    if (!target) return;
    target.attempt = 0;
    this.#clearRetry(target);
    this.#ensureDial(target);
  }

  /**
   * The peer was declared down: addresses wanted only because of it are dropped; one DNS still
   * lists (or that was asked for) is dialled again with backoff. After a partition both sides
   * declared the other down and DNS did not change: nothing else would dial.
   */
  gone(peerId: string): void {
    this.#alive.delete(peerId);
    this.#linked.delete(peerId);
    for (const target of [...this.#targets.values()]) {
      if (target.peerId !== peerId) continue;
      if (!this.#wanted(target)) this.#drop(target);
      else this.#ensureDial(target);
    }
  }

  /**
   * Resolves once every address has an authenticated link (or turned out to be ourselves), or
   * when timeoutMs passes: how startup knows it joined the peers DNS returned.
   */
  waitFor(
    addresses: string[],
    timeoutMs: number,
  ): Promise<{ joined: string[]; missing: string[] }> {
    return new Promise((resolve) => {
      const check = (force: boolean): void => {
        const missing = addresses.filter((a) => !this.#reached(a));
        if (!force && missing.length > 0 && !this.#stopped) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve({ joined: addresses.filter((a) => !missing.includes(a)), missing });
      };
      const waiter = (): void => {
        check(false);
      };
      const timer = setTimeout(() => {
        check(true);
      }, timeoutMs);
      timer.unref();
      this.#waiters.add(waiter);
      check(false);
    });
  }

  /** The address is ours, or has a linked peer behind it. */
  #reached(address: string): boolean {
    if (address === this.#opts.selfAddress) return true;
    const target = this.#targets.get(address);
    return target !== undefined && (target.self || this.#isLinked(target.peerId));
  }

  stop(): void {
    this.#stopped = true;
    for (const target of this.#targets.values()) this.#clearRetry(target);
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #ensureTarget(address: string): Target {
    let target = this.#targets.get(address);
    if (!target) {
      target = {
        address,
        fromDns: false,
        manual: false,
        self: address === this.#opts.selfAddress,
        attempt: 0,
        errors: new Set(),
      };
      this.#targets.set(address, target);
    }
    return target;
  }

  /** DNS lists it, it was asked for, or it belongs to a peer not declared down. */
  #wanted(target: Target): boolean {
    if (target.self) return false;
    return (
      target.fromDns ||
      target.manual ||
      (target.peerId !== undefined && this.#alive.has(target.peerId))
    );
  }

  #isLinked(peerId: string | undefined): boolean {
    return peerId !== undefined && this.#linked.has(peerId);
  }

  #ensureDial(target: Target): void {
    if (this.#stopped || target.self || target.dialing || target.retryTimer) return;
    if (this.#isLinked(target.peerId)) return;
    this.#dial(target);
  }

  #dial(target: Target): void {
    const { path, handshakeTimeoutMs, localAddress } = this.#opts;
    let socket: WebSocket;
    try {
      socket = new WebSocket(`ws://${target.address}${path}`, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: handshakeTimeoutMs,
        perMessageDeflate: false,
        ...(localAddress ? { localAddress } : {}),
      });
    } catch (err) {
      this.#failed(target, (err as Error).message);
      return;
    }
    const link = new Link(socket, 'out', target.address, this.#opts.link);
    target.dialing = link;
    // Registered before the mesh hears of the link, so a failure is handled before the mesh's
    // own close handling (and its waiters see the outcome).
    link.once('closed', (info) => this.#dialEnded(target, link, info));
    this.emit('link', link);
  }

  #dialEnded(target: Target, link: Link, info: LinkClosed): void {
    if (info.wasUp || target.dialing !== link) return;
    target.dialing = undefined;
    const why =
      info.refused?.reason ??
      info.error ??
      `closed ${info.code}${info.reason ? ` ${info.reason}` : ''}`;
    // Our own refusal was already logged; do not log it again as a dial failure.
    if (info.refused !== undefined) target.errors.add(info.refused.reason);
    this.#failed(target, why, info.refused?.code ?? info.code);
  }

  #failed(target: Target, reason: string, code?: number): void {
    this.failures++;
    if (this.#stopped || target.self || code === CloseCode.selfConnection) {
      target.self ||= code === CloseCode.selfConnection;
      this.#notify();
      return;
    }
    if (!this.#wanted(target)) return this.#drop(target);
    if (this.#isLinked(target.peerId)) return;
    if (!target.errors.has(reason)) {
      this.#opts.logger.warn(
        { address: target.address, reason },
        `cannot reach peer at ${target.address}: ${reason}; retrying`,
      );
      if (target.errors.size > 20) target.errors.clear();
      target.errors.add(reason);
    }
    const backoff = Math.min(this.#opts.maxBackoffMs, BASE_BACKOFF_MS * 2 ** target.attempt);
    const delay = backoff * (0.5 + Math.random() / 2);
    target.attempt = Math.min(target.attempt + 1, 20);
    target.retryTimer = setTimeout(() => {
      target.retryTimer = undefined;
      if (this.#wanted(target)) this.#ensureDial(target);
      else this.#drop(target);
    }, delay);
    target.retryTimer.unref();
  }

  #clearRetry(target: Target): void {
    if (target.retryTimer) clearTimeout(target.retryTimer);
    target.retryTimer = undefined;
  }

  #drop(target: Target): void {
    this.#clearRetry(target);
    if (this.#targets.get(target.address) === target) this.#targets.delete(target.address);
  }
}
