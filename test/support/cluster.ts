// A cluster of real Minotaur nodes for tests: one loopback address per node (127.0.0.x), the
// same port on each (like Swarm tasks), one shared SQLite file, found through a DNS server the
// test controls. Everything started here is killed by close().

import { join } from 'node:path';
import { TEST_ADMIN_TOKEN, adminGame, type AdminRecord } from './admin.js';
import { createDnsServer, type TestDnsServer } from './dns-server.js';
import { freePort, startNode, tempDir, waitFor, type NodeProcess } from './node-process.js';
import { fetchMetrics, metricValue } from './metrics.js';
import type { ClusterView } from '../../src/web/deps.js';

export const CLUSTER_SECRET = 'test-cluster-secret-0123456789abcdef';

/** One member as `/admin/cluster.json` lists it (the operator pages' view, over JSON). */
export type ClusterMember = ReturnType<ClusterView['members']>[number];

export interface ClusterJson {
  node: string;
  state: string;
  members: ClusterMember[];
  replication: Record<string, number | null>;
}

export interface ClusterOptions {
  /** Environment shared by every node (on top of the cluster's own). */
  env?: Record<string, string>;
  /** The DNS name the nodes poll. */
  query?: string;
  /** Addresses the port must be free on (defaults to 127.0.0.2 … 127.0.0.7). */
  hosts?: string[];
}

export interface AddOptions {
  nodeId?: string;
  env?: Record<string, string>;
  /** Add the address to DNS before starting (default true). */
  inDns?: boolean;
}

/** A port free on every one of `hosts`, so each node can listen on HOST:PORT. */
export function freePortOn(hosts: string[]): Promise<number> {
  return freePort(hosts);
}

export class TestCluster {
  readonly nodes: NodeProcess[] = [];
  /** Addresses currently answered by DNS. */
  private dnsHosts: string[] = [];

  private constructor(
    readonly dns: TestDnsServer,
    readonly port: number,
    readonly dir: string,
    readonly query: string,
    private readonly env: Record<string, string>,
  ) {}

  static async create(options: ClusterOptions = {}): Promise<TestCluster> {
    const hosts = options.hosts ?? [
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.5',
      '127.0.0.6',
      '127.0.0.7',
    ];
    const dns = await createDnsServer();
    const port = await freePortOn(hosts);
    const query = options.query ?? `tasks.minotaur-test-${port}`;
    dns.setRecords(query, []);
    return new TestCluster(dns, port, tempDir('minotaur-cluster-'), query, options.env ?? {});
  }

  /** Creates a cluster and starts one node per host (nodes n1, n2, …), all in DNS, all ready. */
  static async start(hosts: string[], options: ClusterOptions = {}): Promise<TestCluster> {
    const c = await TestCluster.create(options);
    c.setDns(hosts);
    hosts.forEach((h, i) => c.add(h, { nodeId: `n${i + 1}`, inDns: true }));
    await Promise.all(c.nodes.map((n) => n.ready(30_000)));
    return c;
  }

  get databasePath(): string {
    return join(this.dir, 'minotaur.db');
  }

  /** Replaces the DNS answer with exactly these addresses. */
  setDns(hosts: string[]): void {
    this.dnsHosts = [...hosts];
    this.dns.setRecords(this.query, this.dnsHosts);
  }

  addToDns(host: string): void {
    if (!this.dnsHosts.includes(host)) this.setDns([...this.dnsHosts, host]);
  }

  removeFromDns(host: string): void {
    this.setDns(this.dnsHosts.filter((h) => h !== host));
  }

  /** Starts a node on `host` (not waiting for it to be ready). */
  add(host: string, opts: AddOptions = {}): NodeProcess {
    if (opts.inDns ?? true) this.addToDns(host);
    const node = startNode({
      host,
      port: this.port,
      nodeId: opts.nodeId ?? `n${this.nodes.length + 1}`,
      databasePath: this.databasePath,
      env: {
        DNS_CLUSTER_QUERY: this.query,
        DNS_CLUSTER_RESOLVER: this.dns.address,
        CLUSTER_SECRET,
        DNS_POLL_MS: '250',
        ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        ...this.env,
        ...opts.env,
      },
    });
    this.nodes.push(node);
    return node;
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.opts.nodeId === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await this.dns.close();
  }
}

async function adminJson<T>(base: string, path: string): Promise<T> {
  const res = await fetch(base + path, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(3000),
  });
  if (res.status !== 200) throw new Error(`${path} on ${base}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** /admin/cluster.json of a node. */
export function clusterOf(node: NodeProcess): Promise<ClusterJson> {
  return adminJson<ClusterJson>(node.url, '/admin/cluster.json');
}

/**
 * Waits until each of `nodes` lists all the others as ready members (read from
 * /admin/cluster.json).
 */
export async function meshed(nodes: NodeProcess[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      for (const n of nodes) {
        const { members } = await clusterOf(n);
        if (nodes.some((m) => !members.some((x) => x.id === m.opts.nodeId && x.state === 'ready')))
          return false;
      }
      return true;
    },
    timeoutMs,
    `${nodes.map((n) => n.opts.nodeId).join(', ')} to see each other`,
    100,
  );
}

/** The other members a node lists (itself left out). */
export async function peersOf(node: NodeProcess): Promise<ClusterMember[]> {
  return (await clusterOf(node)).members.filter((m) => !m.self);
}

/** Waits until `node` lists exactly the nodes `ids` as other members, all in `state`. */
export function waitForPeers(
  node: NodeProcess,
  ids: string[],
  state = 'ready',
  timeoutMs = 15_000,
): Promise<ClusterMember[]> {
  const want = [...ids].sort().join(',');
  return waitFor(
    async () => {
      const peers = await peersOf(node);
      const have = peers
        .map((m) => m.id)
        .sort()
        .join(',');
      return have === want && peers.every((m) => m.state === state) ? peers : false;
    },
    timeoutMs,
    `${node.opts.nodeId} to list [${want}] as ${state}`,
  );
}

/** A game's record as `node` holds it. */
export function recordOn(node: NodeProcess, code: string): Promise<AdminRecord> {
  return adminGame(node.url, code);
}

/** The body of /metrics of a node. */
export function metricsOf(node: NodeProcess): Promise<string> {
  return fetchMetrics(node.url, 3000);
}

export { metricValue };
