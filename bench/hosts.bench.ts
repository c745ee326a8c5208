// Benchmark (not a timed test): live-update latency and handoff time with 50 ms between hosts,
// against the same run on one host. Run: npx tsx bench/hosts.bench.ts [--quick]
//
// Three setups, each with PostgreSQL (a cluster across hosts needs it; so the baseline uses it
// too, and only the network differs):
//   - one host: the nodes on 127.0.0.x, PostgreSQL on 127.0.0.1;
//   - hosts: each node and PostgreSQL in a network namespace of its own (test/support/netns.ts),
//     nothing added to the network between them (what the namespaces and the bridge cost);
//   - hosts, 50 ms: the same, with every packet from one host to another held 50 ms (so a round
//     trip between two nodes, or a node and PostgreSQL, takes 100 ms more).
// The players (the benchmark itself) reach their nodes without delay, as players near them.
// Measured on each, with bench/live.bench.ts's and bench/handoff.bench.ts's own code: A's
// action → B's update (3 nodes: owner n1, A on n2, B on n3), and SIGTERM of n1 owning G games →
// n2 adopted them all, and the reconnect gap of 10 players.
//
// It needs root (network namespaces, veth links, iptables). Otherwise it says why and is skipped.

import { HostNetwork, hostsUnavailable } from '../test/support/netns.js';
import type { NodeProcess } from '../test/support/node-process.js';
import { startPostgres } from '../test/support/postgres.js';
import { Rig } from '../test/support/redeploy-rig.js';
import { meshed } from '../test/support/cluster.js';
import { run as handoff, type SizeResult } from './handoff.bench.js';
import { measure, type ModeResult } from './live.bench.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  onCleanup,
  runBench,
  table,
  track,
} from './support.js';

const DELAY_MS = 50;
const LIVE_ROUNDS = Number(process.env.BENCH_HOSTS_ROUNDS ?? (QUICK ? 30 : 100));
const SIZES = (process.env.BENCH_HOSTS_GAMES ?? (QUICK ? '10' : '10,50')).split(',').map(Number);

/**
 * The same node settings in every setup: production's cluster timings, long rounds (the bench
 * drives them).
 */
const ENV: Record<string, string> = {
  ...NODE_ENV_BASE,
  ROUND_SECONDS: '60',
  HEARTBEAT_MS: '500',
  PEER_DOWN_MS: '3000',
  DRAIN_WINDOW_MS: '2000',
  DNS_POLL_MS: '250',
};

interface Setup {
  name: string;
  /** Starts n1 … nk, ready and meshed. */
  start(k: number): Promise<NodeProcess[]>;
  close(): Promise<void>;
}

/** Nodes on this host's loopback addresses, PostgreSQL on 127.0.0.1. */
async function oneHost(): Promise<Setup> {
  const pg = await startPostgres();
  onCleanup(() => pg.stop());
  const url = await pg.createDatabase('bench');
  const rig = await Rig.create({ env: { ...ENV, DATABASE_URL: url } });
  onCleanup(() => rig.close());
  return {
    name: 'one host',
    async start(k) {
      const nodes = Array.from({ length: k }, (_, i) =>
        track(rig.start(`n${i + 1}`, `127.0.0.${i + 2}`)),
      );
      await Promise.all(nodes.map((n) => n.ready(60_000)));
      await meshed(nodes, 30_000);
      return nodes;
    },
    async close() {
      await rig.close();
      pg.stop();
    },
  };
}

/** Each node and PostgreSQL on a host of its own; `delayMs` on every packet between hosts. */
async function onHosts(delayMs: number): Promise<Setup> {
  const net = HostNetwork.create();
  onCleanup(() => net.close());
  const pgHost = net.addHost('pg', 100);
  const pg = await startPostgres({ host: pgHost.address, port: 5432, prefix: pgHost.prefix });
  onCleanup(() => pg.stop());
  const url = await pg.createDatabase('bench');
  const rig = await Rig.create({
    dnsHost: net.gateway,
    port: 4000,
    env: { ...ENV, DATABASE_URL: url },
  });
  onCleanup(() => rig.close());
  return {
    name: delayMs ? `hosts, ${delayMs} ms between hosts` : 'hosts, no added delay',
    async start(k) {
      const hosts = Array.from({ length: k }, (_, i) => net.addHost(`n${i + 1}`, i + 2));
      const nodes = hosts.map((h, i) =>
        track(rig.start(`n${i + 1}`, h.address, { launcher: net.launcher(h) })),
      );
      await Promise.all(nodes.map((n) => n.ready(60_000)));
      await meshed(nodes, 30_000);
      if (delayMs)
        await net.impair(['pg', ...hosts.map((h) => h.name)], { delayMs, jitterMs: 0, lossPct: 0 });
      return nodes;
    },
    async close() {
      await net.unimpair();
      await rig.close();
      pg.stop();
      net.close();
    },
  };
}

const SETUPS: [string, () => Promise<Setup>][] = [
  ['one host', oneHost],
  ['hosts', () => onHosts(0)],
  [`hosts ${DELAY_MS} ms`, () => onHosts(DELAY_MS)],
];

interface HandoffRow {
  setup: string;
  sizes: SizeResult[];
}

export async function main(): Promise<{
  skipped?: string;
  live: ModeResult[];
  handoff: HandoffRow[];
}> {
  const why = hostsUnavailable();
  if (why) {
    console.log(`hosts benchmark skipped: ${why}`);
    return { skipped: why, live: [], handoff: [] };
  }
  console.log(
    `Live-update latency and handoff time: one host against hosts ${DELAY_MS} ms apart (PostgreSQL in every setup); ${LIVE_ROUNDS} measured rounds, handoff of ${SIZES.join(', ')} games`,
  );
  console.log(`machine: ${machine()}`);
  const live: ModeResult[] = [];
  const handoffs: HandoffRow[] = [];
  for (const [label, make] of SETUPS) {
    const setup = await make();
    const [n1, n2, n3] = (await setup.start(3)) as [NodeProcess, NodeProcess, NodeProcess];
    const r = await measure(
      `${setup.name}: 3 nodes (owner n1, A on n2, B on n3)`,
      n1,
      n2,
      n3,
      LIVE_ROUNDS,
    );
    live.push(r);
    console.log(
      `  live, ${label}: p50 ${fmt(r.p50, 1)} ms, p95 ${fmt(r.p95, 1)} ms (${r.samples} rounds)`,
    );
    await setup.close();
    const row: HandoffRow = { setup: setup.name, sizes: [] };
    for (const games of SIZES) {
      const s = await make();
      const result = await handoff(games, async () => {
        const [a, b] = (await s.start(2)) as [NodeProcess, NodeProcess];
        return { n1: a, n2: b, close: () => s.close() };
      });
      row.sizes.push(result);
      console.log(
        `  handoff, ${label}, ${games} games: all adopted after ${fmt(result.adoptedS, 3)} s, reconnect gap p50 ${fmt(result.gapP50Ms, 0)} ms`,
      );
    }
    handoffs.push(row);
  }
  console.log('');
  console.log(
    table(
      [
        'setup',
        'samples',
        'A act → B update p50 ms',
        'p95 ms',
        'p99 ms',
        'A ack p50 ms',
        'A ack p95 ms',
      ],
      live.map((r) => [
        r.mode,
        String(r.samples),
        fmt(r.p50, 1),
        fmt(r.p95, 1),
        fmt(r.p99, 1),
        fmt(r.ackP50, 1),
        fmt(r.ackP95, 1),
      ]),
    ),
  );
  console.log('');
  console.log(
    table(
      [
        'setup',
        'games',
        'SIGTERM → all adopted s',
        'n1 drained s',
        'handoff mean ms',
        'reconnect gap p50 ms',
        'gap max ms',
        'n1 exit s',
      ],
      handoffs.flatMap((h) =>
        h.sizes.map((s) => [
          h.setup,
          String(s.games),
          fmt(s.adoptedS, 3),
          fmt(s.drainedS, 3),
          fmt(s.histMeanMs, 1),
          s.reconnected ? `${fmt(s.gapP50Ms, 0)} (${s.reconnected}/${s.watchers})` : '—',
          fmt(s.gapMaxMs, 0),
          fmt(s.exitS, 2),
        ]),
      ),
    ),
  );
  return { live, handoff: handoffs };
}

await runBench('hosts', QUICK ? 240_000 : 420_000, main);
