// Which address a node listening on all interfaces tells its peers. In a Swarm or Kubernetes
// task the right one is the interface address that the cluster's DNS name lists for us; a
// container on several networks is told which one by a subnet (ADVERTISE_ADDRESS=10.0.9.0/24).

import { Resolver } from 'node:dns/promises';
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parseHostPort } from './discovery.js';
import type { ClusterLogger } from './types.js';

/** One IPv4 address of this machine with its network, as `ip addr` shows it (10.0.9.4/24). */
export interface LocalAddress {
  address: string;
  cidr: string | null;
}

export function localIPv4s(): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? [])
      if (a.family === 'IPv4' && !a.internal) out.push({ address: a.address, cidr: a.cidr });
  }
  return out;
}

/** Parses `a.b.c.d/n`; null when it is not an IPv4 subnet. */
export function parseSubnet(value: string): { network: string; prefix: number } | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value);
  const network = m?.[1];
  const prefix = Number(m?.[2]);
  if (network === undefined || !isIPv4(network) || prefix > 32) return null;
  return { network, prefix };
}

function inSubnet(address: string, cidr: string): boolean {
  const s = parseSubnet(cidr);
  if (!s || !isIPv4(address)) return false;
  const list = new BlockList();
  list.addSubnet(s.network, s.prefix, 'ipv4');
  return list.check(address, 'ipv4');
}

/**
 * Pure choice, in this order: the local address inside `subnet` when one is given; the local
 * address DNS names for the service; a local address on the same network as an address DNS
 * names (a node that DNS does not list yet, beside peers it does); the first local one.
 */
export function pickAdvertiseHost(
  local: readonly (LocalAddress | string)[],
  dnsAnswers: readonly string[],
  subnet: string | null = null,
): string {
  const all = local.map((l) => (typeof l === 'string' ? { address: l, cidr: null } : l));
  if (subnet) {
    const inside = all.find((l) => inSubnet(l.address, subnet));
    if (inside) return inside.address;
  }
  return (
    all.find((l) => dnsAnswers.includes(l.address))?.address ??
    all.find(({ cidr }) => cidr !== null && dnsAnswers.some((a) => inSubnet(a, cidr)))?.address ??
    all[0]?.address ??
    '127.0.0.1'
  );
}

export async function chooseAdvertiseHost(
  dns: { query: string | null; resolver: string | null },
  logger: ClusterLogger,
  subnet: string | null = null,
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
  const chosen = pickAdvertiseHost(local, answers, subnet);
  const bySubnet =
    subnet !== null && local.some((l) => l.address === chosen && inSubnet(chosen, subnet));
  if (subnet && !bySubnet) {
    logger.warn(
      { subnet, interfaces: local.map((l) => l.cidr ?? l.address) },
      `no interface in ADVERTISE_ADDRESS's subnet ${subnet}; advertising ${chosen}`,
    );
  }
  logger.info(
    { address: chosen, interfaces: local.map((l) => l.cidr ?? l.address) },
    bySubnet
      ? `advertising ${chosen} to peers (its interface in ADVERTISE_ADDRESS's subnet ${subnet})`
      : `advertising ${chosen} to peers (set ADVERTISE_ADDRESS to override)`,
  );
  return chosen;
}
