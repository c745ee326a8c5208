// Which address a node listening on all interfaces tells its peers. In a Swarm or Kubernetes
// task the right one is the interface address that the cluster's DNS name lists for us.

import { Resolver } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { parseHostPort } from './discovery.js';
import type { ClusterLogger } from './types.js';

export function localIPv4s(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

/** Pure choice: the local address DNS names for the service, else the first local one. */
export function pickAdvertiseHost(local: readonly string[], dnsAnswers: readonly string[]): string {
  return local.find((ip) => dnsAnswers.includes(ip)) ?? local[0] ?? '127.0.0.1';
}

export async function chooseAdvertiseHost(
  dns: { query: string | null; resolver: string | null },
  logger: ClusterLogger,
): Promise<string> {
  const local = localIPv4s();
  let answers: string[] = [];
  if (dns.query) {
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      if (dns.resolver) {
        const { host, port } = parseHostPort(dns.resolver);
        resolver.setServers([`${host}:${port}`]);
      }
      answers = await resolver.resolve4(dns.query);
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'could not resolve the cluster name to choose an address; using the first interface',
      );
    }
  }
  const chosen = pickAdvertiseHost(local, answers);
  logger.info(
    { address: chosen, interfaces: local },
    `advertising ${chosen} to peers (set ADVERTISE_ADDRESS to override)`,
  );
  return chosen;
}
