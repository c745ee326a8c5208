// The cluster under rehearsal, on this machine: nodes of the shipped production setup on
// loopback addresses, sharing one database, found through a DNS server that lists only the
// nodes "in service" (as Swarm's DNS lists healthy tasks), behind HAProxy running
// deploy/haproxy.cfg and terminating TLS. Scenarios act on it only through these methods.

import { TEST_ADMIN_TOKEN } from '../../test/support/admin.js';
import { HaProxy } from '../../test/support/haproxy.js';
import { waitFor, type NodeProcess } from '../../test/support/node-process.js';
import type { Network } from '../../test/support/player.js';
import { productionEnv, productionSecrets } from '../../test/support/production.js';
import { RIG_QUERY, Rig } from '../../test/support/redeploy-rig.js';

/** Two address sets the nodes alternate between, as new tasks get new addresses. */
const ADDRESS_SETS = [
  ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
  ['127.0.0.5', '127.0.0.6', '127.0.0.7'],
] as const;

export class LocalCluster {
  #inService: string[] = [];
  #addresses = 0;
  #set = 0;

  private constructor(
    readonly rig: Rig,
    readonly haproxy: HaProxy,
  ) {}

  static async create(roundSeconds: number): Promise<LocalCluster> {
    const secrets = productionSecrets();
    const rig = await Rig.create({
      roundSeconds,
      secret: secrets.CLUSTER_SECRET,
      env: productionEnv({
        ...secrets,
        // Defaults the rig would otherwise shorten for tests: production's, as the stack leaves them.
        HEARTBEAT_MS: '500',
        PEER_DOWN_MS: '3000',
        DNS_POLL_MS: '5000',
        // The invariant checker reads the debug line of every round resolution.
        LOG_LEVEL: 'debug',
      }),
    });
    const haproxy = await HaProxy.start({ dir: rig.dir, dns: rig.dns.address, query: RIG_QUERY, nodePort: rig.port });
    return new LocalCluster(rig, haproxy);
  }

  get url(): string {
    return this.haproxy.url;
  }

  /** Each player connects from an address of its own, as players on the internet do. */
  net(): Network {
    const n = this.#addresses++;
    return { ca: this.haproxy.ca, localAddress: `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}` };
  }

  /** The addresses the next set of nodes will use (the other set from the running one). */
  nextAddresses(): readonly string[] {
    this.#set = 1 - this.#set;
    return ADDRESS_SETS[this.#set]!;
  }

  /** Starts a node on `host`; it enters DNS only once it is in service. */
  launch(id: string, host: string): NodeProcess {
    return this.rig.start(id, host, { inDns: false });
  }

  /** The node is ready: DNS lists it and HAProxy has it UP. */
  async enterService(node: NodeProcess, timeoutMs = 15_000): Promise<void> {
    this.#inService = [...this.#inService, node.opts.host];
    this.rig.setDns(this.#inService);
    await waitFor(() => this.haproxy.isUp(node.address), timeoutMs, `HAProxy to put ${node.opts.nodeId} UP`, 50);
  }

  /** The node leaves DNS (Swarm removes a stopping task before it sends SIGTERM). */
  leaveService(node: NodeProcess): void {
    this.#inService = this.#inService.filter((h) => h !== node.opts.host);
    this.rig.setDns(this.#inService);
  }

  /** Waits until each of `nodes` sees all the others as ready members. */
  async meshed(nodes: NodeProcess[], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        for (const n of nodes) {
          const res = await fetch(`${n.url}/admin/cluster.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
          const c = (await res.json()) as { members: { id: string; state: string }[] };
          if (nodes.some((m) => !c.members.some((x) => x.id === m.opts.nodeId && x.state === 'ready'))) return false;
        }
        return true;
      },
      timeoutMs,
      `${nodes.map((n) => n.opts.nodeId).join(', ')} to see each other`,
      100,
    );
  }

  async stop(): Promise<void> {
    await this.haproxy.stop();
    await this.rig.close();
  }
}
