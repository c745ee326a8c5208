// The cluster under rehearsal, on this machine: nodes of the shipped production setup on
// loopback addresses, sharing one database, found through a DNS server that lists only the
// nodes "in service" (as Swarm's DNS lists healthy tasks), behind HAProxy running
// deploy/haproxy.cfg and terminating TLS. Scenarios, players and the report act on a cluster
// only through `Stage`, which the multi-host rehearsal's cluster (hosts.ts) implements too.

import { HaProxy } from '../../test/support/haproxy.js';
import { waitFor, type NodeProcess } from '../../test/support/node-process.js';
import type { Network } from '../../test/support/player.js';
import { productionEnv, productionSecrets } from '../../test/support/production.js';
import { RIG_QUERY, Rig } from '../../test/support/redeploy-rig.js';
import { meshed } from '../../test/support/cluster.js';

/** What a rehearsal needs of a cluster, wherever its nodes run. */
export interface Stage {
  readonly rig: Rig;
  readonly haproxy: HaProxy;
  /** Where players go: HAProxy, over TLS. */
  readonly url: string;
  /** How long a new node may take to be ready. */
  readonly readyTimeoutMs: number;
  /** A network identity for one player (an address of its own). */
  net(): Network;
  /** Starts a node at a new address; it enters DNS only once it is in service. */
  launch(id: string): NodeProcess;
  /** The node is ready: DNS lists it and HAProxy has it UP. */
  enterService(node: NodeProcess, timeoutMs?: number): Promise<void>;
  leaveService(node: NodeProcess): void;
  /** Waits until each of `nodes` sees all the others as ready members. */
  meshed(nodes: NodeProcess[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The loopback addresses nodes take, a new task the one left longest ago (as new tasks get new
 * addresses).
 */
const ADDRESSES = [
  '127.0.0.2',
  '127.0.0.3',
  '127.0.0.4',
  '127.0.0.5',
  '127.0.0.6',
  '127.0.0.7',
] as const;

/**
 * What every stage does the same way: DNS lists the nodes in service, and a node is in service
 * once HAProxy has it UP.
 */
export abstract class ServiceStage {
  abstract readonly rig: Rig;
  abstract readonly haproxy: HaProxy;
  #inService: string[] = [];

  /**
   * How long `enterService` waits for HAProxy by default, and how often it asks.
   */
  constructor(
    private readonly upTimeoutMs: number,
    private readonly upPollMs: number,
  ) {}

  async enterService(node: NodeProcess, timeoutMs = this.upTimeoutMs): Promise<void> {
    this.#inService = [...this.#inService, node.opts.host];
    this.rig.setDns(this.#inService);
    await waitFor(
      () => this.haproxy.isUp(node.address),
      timeoutMs,
      `HAProxy to put ${node.opts.nodeId} UP`,
      this.upPollMs,
    );
  }

  leaveService(node: NodeProcess): void {
    this.#inService = this.#inService.filter((h) => h !== node.opts.host);
    this.rig.setDns(this.#inService);
  }

  meshed(nodes: NodeProcess[], timeoutMs = 20_000): Promise<void> {
    return meshed(nodes, timeoutMs);
  }
}

export class LocalCluster extends ServiceStage implements Stage {
  readonly readyTimeoutMs = 20_000;
  #addresses = 0;
  /** When each address was last left by its node (never used: 0). */
  #released = new Map<string, number>();

  private constructor(
    readonly rig: Rig,
    readonly haproxy: HaProxy,
  ) {
    super(15_000, 50);
  }

  static async create(roundSeconds: number): Promise<LocalCluster> {
    const secrets = productionSecrets();
    const rig = await Rig.create({
      roundSeconds,
      secret: secrets.CLUSTER_SECRET,
      env: productionEnv({
        ...secrets,
        // Defaults the rig would otherwise shorten for tests: production's, as the stack leaves
        // them.
        HEARTBEAT_MS: '500',
        PEER_DOWN_MS: '3000',
        DNS_POLL_MS: '5000',
        // The invariant checker reads the debug line of every round resolution.
        LOG_LEVEL: 'debug',
      }),
    });
    const haproxy = await HaProxy.start({
      dir: rig.dir,
      dns: rig.dns.address,
      query: RIG_QUERY,
      nodePort: rig.port,
    });
    return new LocalCluster(rig, haproxy);
  }

  get url(): string {
    return this.haproxy.url;
  }

  /** Each player connects from an address of its own, as players on the internet do. */
  net(): Network {
    const n = this.#addresses++;
    return {
      ca: this.haproxy.ca,
      localAddress: `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`,
    };
  }

  /**
   * Starts a node on the free address left longest ago; it enters DNS only once it is in service.
   */
  launch(id: string): NodeProcess {
    const used = new Set(this.rig.live().map((n) => n.opts.host));
    const host = ADDRESSES.filter((a) => !used.has(a)).sort(
      (a, b) => (this.#released.get(a) ?? 0) - (this.#released.get(b) ?? 0),
    )[0];
    if (!host) throw new Error(`every rehearsal address (${ADDRESSES.join(', ')}) has a live node`);
    const node = this.rig.start(id, host, { inDns: false });
    this.#released.set(host, Infinity);
    void node.exited.then(() => this.#released.set(host, Date.now()));
    return node;
  }

  async stop(): Promise<void> {
    await this.haproxy.stop();
    await this.rig.close();
  }
}
