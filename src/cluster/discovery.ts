// Peer discovery by polling DNS A records (e.g. Swarm's tasks.<service>): reports the set of
// peer addresses (ip:port, self excluded) whenever it changes. No caching beyond one poll.

import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClusterLogger } from './types.js';

export interface DiscoveryOptions {
  /** DNS name to resolve, e.g. tasks.minotaur-stack_minotaur. */
  query: string;
  /** host:port of the DNS server to ask instead of the system's (any port, e.g. 127.0.0.1:5399). */
  resolver?: string;
  intervalMs?: number;
  /** Poll interval while DNS names no peer at all (default 1 s). */
  lonelyIntervalMs?: number;
  /** Port every peer listens on (all tasks of a service share it). */
  port: number;
  /** Our own host:port, left out of the peer set. */
  selfAddress: string;
  logger: ClusterLogger;
  /** Per-query timeout; defaults to a fraction of the interval. */
  timeoutMs?: number;
}

export type PeersHandler = (peers: string[]) => void;

// Answers that mean "no peers right now" rather than "DNS is broken".
const EMPTY_ANSWER_CODES = new Set(['ENOTFOUND', 'ENODATA']);

/** Splits host:port, [v6]:port or a bare host (port 53). */
export function parseHostPort(value: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(value);
  const m = v6 ?? v4;
  if (!m || !m[1]) throw new Error(`"${value}" is not host:port`);
  const port = m[2] === undefined ? 53 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`"${value}" has an invalid port`);
  return { host: m[1], port };
}

export class Discovery {
  private readonly query: string;
  private readonly resolverAddress: string | undefined;
  private readonly intervalMs: number;
  private readonly lonelyIntervalMs: number;
  private readonly port: number;
  private readonly selfAddress: string;
  private readonly logger: ClusterLogger;
  private readonly resolver: Resolver;
  private readonly handlers: PeersHandler[] = [];
  private serversSet = false;
  private current: string[] = [];
  private lastError: string | undefined;
  private inFlight: Promise<string[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: DiscoveryOptions) {
    const { query, resolver, intervalMs = 5000, port, selfAddress, logger } = options;
    if (!query) throw new Error('Discovery needs a DNS query');
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`invalid port ${port}`);
    if (!(intervalMs > 0)) throw new Error(`invalid intervalMs ${intervalMs}`);
    if (resolver !== undefined) parseHostPort(resolver);
    this.query = query;
    this.resolverAddress = resolver;
    this.intervalMs = intervalMs;
    this.lonelyIntervalMs = options.lonelyIntervalMs ?? 1000;
    this.port = port;
    this.selfAddress = selfAddress;
    this.logger = logger;
    const timeout = options.timeoutMs ?? Math.min(2000, Math.max(250, Math.floor(intervalMs / 2)));
    this.resolver = new Resolver({ timeout, tries: 2 });
  }

  /** Called with the full peer set each time it changes. */
  onChange(handler: PeersHandler): void {
    this.handlers.push(handler);
  }

  /** The last peer set DNS returned. */
  peers(): string[] {
    return [...this.current];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.poll();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Resolves once now (shared with a poll already in flight). Reports a change like a poll
   * does; on a DNS error it logs and returns the last known set.
   */
  resolveNow(): Promise<string[]> {
    this.inFlight ??= this.resolveOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async poll(): Promise<void> {
    const peers = await this.resolveNow();
    if (!this.running) return;
    // Alone (e.g. every task of a first deploy starts before DNS lists any of them): ask again
    // soon, so the nodes find each other in about a second instead of a whole poll interval.
    const next =
      peers.length === 0 ? Math.min(this.intervalMs, this.lonelyIntervalMs) : this.intervalMs;
    this.timer = setTimeout(() => void this.poll(), next);
    this.timer.unref();
  }

  private async resolveOnce(): Promise<string[]> {
    let ips: string[];
    try {
      await this.useConfiguredServer();
      ips = await this.resolver.resolve4(this.query);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (EMPTY_ANSWER_CODES.has(code)) {
        ips = [];
        this.noteError(`${this.query} has no A records (${code})`, 'info');
      } else {
        this.noteError(
          `cannot resolve ${this.query}${this.via()}: ${(err as Error).message}`,
          'warn',
        );
        return this.peers();
      }
    }
    if (ips.length > 0 && this.lastError !== undefined) {
      this.logger.info(
        { query: this.query, records: ips.length },
        `DNS answers for ${this.query} again`,
      );
      this.lastError = undefined;
    }
    const next = [...new Set(ips.map((ip) => `${ip}:${this.port}`))]
      .filter((a) => a !== this.selfAddress)
      .sort();
    if (next.join(',') !== this.current.join(',')) {
      this.current = next;
      this.logger.info({ query: this.query, peers: next }, `DNS lists ${next.length} peer(s)`);
      for (const handler of this.handlers) {
        try {
          handler(this.peers());
        } catch (err) {
          this.logger.error({ err }, 'discovery change handler failed');
        }
      }
    }
    return this.peers();
  }

  private via(): string {
    return this.resolverAddress ? ` via ${this.resolverAddress}` : '';
  }

  // Logs each distinct problem once, so a DNS outage is one line, not one per poll.
  private noteError(message: string, level: 'info' | 'warn'): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.logger[level]({ query: this.query, resolver: this.resolverAddress }, message);
  }

  private async useConfiguredServer(): Promise<void> {
    if (this.serversSet || this.resolverAddress === undefined) return;
    const { host, port } = parseHostPort(this.resolverAddress);
    // setServers takes IPs only; a resolver given by name is looked up once.
    let ip = host;
    if (!isIP(host)) {
      try {
        ip = (await lookup(host)).address;
      } catch (err) {
        // Not the cluster's name that is missing, but the resolver's: say which (a typo in
        // DNS_CLUSTER_RESOLVER would otherwise read as "no A records", and each node run alone).
        throw Object.assign(
          new Error(
            `DNS_CLUSTER_RESOLVER ${this.resolverAddress}: its name ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          ),
          { code: 'ERESOLVERNAME' },
        );
      }
    }
    this.resolver.setServers([isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`]);
    this.serversSet = true;
  }
}
