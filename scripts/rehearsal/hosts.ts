// The multi-host rehearsal (`npm run rehearsal -- --hosts`; a short form runs in `npm test`):
// every node in a network namespace of its own with its own address, like containers on
// different machines of one network, started as the image starts it (tini as PID 1 of its own
// PID namespace, as an unprivileged user, NODE_ENV=production with deploy/docker-stack.yml's
// environment and its secrets read from files); PostgreSQL and HAProxy (terminating TLS) on
// hosts of their own; bots and HTTP load speak https/wss from addresses of their own. The nodes
// advertise their address by the hosts' subnet (ADVERTISE_ADDRESS, as the stack file does) and
// find each other through DNS.
//
// Scenarios, in order, under play: start-first replacement of every node (twice; once in the
// short form), each new node on a new host; loss of a whole host; a network partition between
// node hosts for 10 s, then healed; 50 ± 10 ms and 1 % loss between all hosts; PostgreSQL
// restarted mid-game; every node stopped and the cluster started again from PostgreSQL. The
// players, the rolling update, the cold start and the report are the single-host rehearsal's
// (players.ts, scenarios.ts, report.ts); what only hosts can do is here. Exit code 0 only if
// nothing a player could notice went wrong beyond what a scenario makes happen by nature.

import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ADMIN_TOKEN } from '../../test/support/admin.js';
import { checkInvariants } from '../../test/support/invariants.js';
import { HaProxy, haproxyVersion } from '../../test/support/haproxy.js';
import { HostNetwork, hostsUnavailable, type Host } from '../../test/support/netns.js';
import { MAIN, logLines, waitFor, type NodeProcess } from '../../test/support/node-process.js';
import type { Network } from '../../test/support/player.js';
import { postgresBinDir, startPostgres, type PostgresServer } from '../../test/support/postgres.js';
import { productionSecrets, secretFiles, stackEnvironment } from '../../test/support/production.js';
import { RIG_QUERY, Rig } from '../../test/support/redeploy-rig.js';
import { meshed } from '../../test/support/cluster.js';
import { ServiceStage, type Stage } from './cluster.js';
import { Players } from './players.js';
import { report, type Section } from './report.js';
import {
  coldStart,
  finalRecords,
  playingGames,
  rollingUpdate,
  roundsPass,
  type ColdStart,
  type Context,
  type Replacement,
} from './scenarios.js';
import { ms, pct, say, sayTo, secs, sleep } from './say.js';

export interface HostsOptions {
  /** The short form for CI: one rolling update, shorter phases, fewer games. */
  short?: boolean;
  games?: number;
  bots?: number;
  keep?: boolean;
  /** Where the report lines go (default stdout). */
  out?: (line: string) => void;
}

const NOBODY = { uid: 65534, gid: 65534 };
const PORT = 4000;
/** How long a page request may take before the load counts it as failed. */
const LOAD_TIMEOUT_MS = 8000;

const admin = (url: string, path: string) =>
  fetch(`${url}${path}`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(3000),
  });

/** The cluster on hosts of its own: each node, PostgreSQL and HAProxy in a network namespace. */
class HostCluster extends ServiceStage implements Stage {
  readonly readyTimeoutMs = 60_000;
  readonly #hosts = new Map<NodeProcess, Host>();
  #hostNo = 1;

  private constructor(
    readonly network: HostNetwork,
    readonly rig: Rig,
    readonly haproxy: HaProxy,
    readonly pg: PostgresServer,
    readonly pgHost: Host,
    readonly lbHost: Host,
    private readonly secretsDir: string,
  ) {
    super(20_000, 100);
  }

  static async create(network: HostNetwork, cleanups: (() => unknown)[]): Promise<HostCluster> {
    const pgHost = network.addHost('pg', 100);
    const lbHost = network.addHost('lb', 101);
    const pg = await startPostgres({ host: pgHost.address, port: 5432, prefix: pgHost.prefix });
    cleanups.push(() => pg.stop());
    const dbUrl = await pg.createDatabase('hosts');
    const secrets = productionSecrets();
    const secretsDir = mkdtempSync(join(tmpdir(), 'minotaur-secrets-'));
    cleanups.push(() => rmSync(secretsDir, { recursive: true, force: true }));
    chmodSync(secretsDir, 0o711); // like /run/secrets: the node's user reads its own files only
    const files = secretFiles(
      secretsDir,
      { ...secrets, DATABASE_URL: dbUrl, ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      NOBODY,
    );
    const stack = Object.fromEntries(
      Object.entries(stackEnvironment()).filter(
        ([k]) =>
          !['PORT', 'DNS_CLUSTER_QUERY', 'ADVERTISE_ADDRESS', 'DATABASE_PATH', 'NODE_ID'].includes(
            k,
          ) && !k.endsWith('_FILE'),
      ),
    );
    const rig = await Rig.create({
      port: PORT,
      dnsHost: network.gateway,
      roundSeconds: 3,
      secret: secrets.CLUSTER_SECRET,
      env: {
        ...stack,
        ...files,
        // NodeProcess's test defaults, unset: the files say what they are.
        SECRET_KEY_BASE: '',
        ADMIN_TOKEN: '',
        HOST: '0.0.0.0',
        // As the stack file does: advertise the address on the hosts' network.
        ADVERTISE_ADDRESS: network.subnet,
        PASSWORD_COST: '17',
        LOGIN_RATE_LIMIT: '10',
        HEARTBEAT_MS: '500',
        PEER_DOWN_MS: '3000',
        DNS_POLL_MS: '2000',
        // The invariant checker reads the debug line of every round resolution.
        LOG_LEVEL: 'debug',
      },
    });
    cleanups.push(() => rig.close());
    const haproxy = await HaProxy.start({
      dir: rig.dir,
      dns: rig.dns.address,
      query: RIG_QUERY,
      nodePort: PORT,
      host: lbHost.address,
      prefix: lbHost.prefix,
    });
    cleanups.push(() => haproxy.stop());
    return new HostCluster(network, rig, haproxy, pg, pgHost, lbHost, secretsDir);
  }

  get url(): string {
    return this.haproxy.url;
  }

  net(): Network {
    return { ca: this.haproxy.ca, localAddress: this.network.playerAddress() };
  }

  /** A new node on a new host (as a new task lands on another machine with a new address). */
  launch(id: string): NodeProcess {
    const host = this.network.addHost(id, ++this.#hostNo);
    // The rig passes CLUSTER_SECRET itself; the node reads it from its file instead.
    const node = this.rig.start(id, host.address, {
      inDns: false,
      launcher: this.network.launcher(host),
      env: { CLUSTER_SECRET: '' },
    });
    this.#hosts.set(node, host);
    return node;
  }

  hostOf(node: NodeProcess): Host {
    return this.#hosts.get(node)!;
  }

  async stop(): Promise<void> {
    await this.haproxy.stop();
    await this.rig.close();
    this.pg.stop();
    rmSync(this.secretsDir, { recursive: true, force: true });
  }
}

interface HostContext extends Context {
  cluster: HostCluster;
  players: Players;
}

/** Acknowledgement latencies (ms) of actions acknowledged between `from` and `to`. */
function ackLatency(rig: Rig, from: number, to: number): number[] {
  const out: number[] = [];
  for (const b of rig.bots) {
    const sentAt = new Map(b.sent.map((s) => [s.actionId, s.at]));
    for (const a of b.acks)
      if (!a.duplicate && a.at >= from && a.at <= to && sentAt.has(a.actionId))
        out.push(a.at - sentAt.get(a.actionId)!);
  }
  return out;
}

const roundsResolved = (rig: Rig) => logLines(rig.all, /^round \d+ of [A-Z]{4} resolved/).length;

/** Whether every live node holds the same version of every game it has. */
async function converged(rig: Rig): Promise<boolean> {
  for (const c of rig.codes) {
    const versions = new Set<string>();
    for (const n of rig.live()) {
      const res = await admin(n.url, `/admin/games/${c}.json`).catch(() => null);
      if (!res || res.status !== 200) continue;
      const x = (await res.json()) as { epoch: number; owner: string; seq: number };
      versions.add(`${x.epoch}/${x.owner}/${x.seq}`);
    }
    if (versions.size > 1) return false;
  }
  return true;
}

/** The node running the most games (a scenario's victim should matter). */
async function busiest(ctx: HostContext): Promise<{ node: NodeProcess; games: string[] }> {
  const games = await playingGames(ctx.cluster);
  let best = { node: ctx.current[0]!, games: [] as string[] };
  for (const n of ctx.current) {
    const owned = games.filter((g) => g.owner === n.opts.nodeId).map((g) => g.code);
    if (owned.length > best.games.length) best = { node: n, games: owned };
  }
  return best;
}

/**
 * Loss of a whole host: its link cut and every process in it killed, as a machine that loses
 * power. Its games are taken over once its lease runs out; the players connected to it through
 * HAProxy must be playing again on another node.
 */
async function hostLoss(ctx: HostContext): Promise<Section> {
  const { cluster } = ctx;
  const { node: victim, games: lost } = await busiest(ctx);
  const host = cluster.hostOf(victim);
  const id = victim.opts.nodeId!;
  // The players of every game still playing: each must see a new round after the loss.
  const watched = cluster.rig.bots.filter(
    (b) => b.status === 'playing' && ctx.players.playing(b.code),
  );
  say(`── host loss: ${host.name} (${host.address}), which runs ${lost.join(',') || 'no game'}`);
  const at = Date.now();
  cluster.network.loseHost(host.name);
  await waitFor(() => !victim.alive, 5000, "the lost host's node to be gone", 20);
  // The orchestrator notices the host gone and drops its task from DNS a moment later.
  const dnsDrop = setTimeout(() => cluster.leaveService(victim), 3000);
  const adoptedMs = await waitFor(
    async () => {
      for (const c of lost)
        if ((await cluster.rig.newest(c).catch(() => null))?.owner === id) return false;
      return Date.now() - at;
    },
    30_000,
    `the lost host's ${lost.length} games to be taken over`,
    100,
  ).catch(() => NaN);
  const outMs = await waitFor(
    async () => ((await cluster.haproxy.isUp(victim.address)) ? false : Date.now() - at),
    20_000,
    'HAProxy to take the lost node out',
    100,
  ).catch(() => NaN);
  const back = new Map<string, number>();
  await waitFor(
    () => {
      for (const b of watched) {
        if (back.has(b.name)) continue;
        const seen = b.rounds.find((r) => r.at > at);
        if (seen) back.set(b.name, seen.at - at);
        else if (b.status === 'finished' || !ctx.players.playing(b.code)) back.set(b.name, NaN);
      }
      return back.size === watched.length;
    },
    45_000,
    'every player to see a new round after the host loss',
    100,
  ).catch(() => undefined);
  clearTimeout(dnsDrop);
  cluster.leaveService(victim);
  const stuck = watched.filter((b) => !back.has(b.name));
  for (const b of stuck)
    say(
      `(stuck: ${b.name} of ${b.code}, round ${b.currentRound}, ${b.status}, ${b.connected ? 'connected' : 'not connected'} since ${secs(b.connects.at(-1)?.at ?? 0)}, ${b.closes.filter((x) => x.at > at).length} closes since the loss)`,
    );
  const seen = [...back.values()].filter(Number.isFinite);
  const fresh = cluster.launch(`r${cluster.rig.all.length + 1}`);
  await fresh.ready(cluster.readyTimeoutMs);
  await cluster.enterService(fresh);
  ctx.current = [...ctx.current.filter((n) => n !== victim), fresh];
  await roundsPass(cluster, 1, 30_000).catch((e: unknown) => say(`(${(e as Error).message})`));
  say(
    `host loss: games taken over after ${ms(adoptedMs)}, players back after ${ms(Math.max(...seen))} at most; ${fresh.opts.nodeId} replaces ${id}`,
  );
  const problems: string[] = [];
  if (!Number.isFinite(adoptedMs)) problems.push('the lost host’s games were not taken over');
  if (stuck.length)
    problems.push(
      `${stuck.length} players saw no new round within 45 s of the host loss (${stuck.map((b) => `${b.name} of ${b.code}`).join(', ')})`,
    );
  return {
    lines: [
      `host loss      ${host.name} (${host.address}) lost (link cut, every process killed) while running ${lost.length} games: taken over ${ms(adoptedMs)} after, out of HAProxy after ${ms(outMs)}; its players and the others saw a new round after p50 ${ms(pct(seen, 50))}, max ${ms(Math.max(...seen))} (${seen.length} players${stuck.length ? `; ${stuck.length} never` : ''}); replacement ${fresh.opts.nodeId} on a new host`,
      `               around the loss: ${ackLatency(cluster.rig, at - 2000, at + 20_000).length} actions acknowledged`,
    ],
    problems,
    excuses: [
      {
        kind: 'hung',
        from: at - LOAD_TIMEOUT_MS,
        to: at + (Number.isFinite(outMs) ? outMs : 20_000) + 2000,
        label: 'in flight to the lost host',
      },
    ],
  };
}

/** The end of a cut, in which every player still in play must be acting again. */
const CUT_TAIL_MS = 4000;

/**
 * Whether players went on playing through a cut: of those who had an action acknowledged in the
 * 5 s before it (and are still in play), how many had one acknowledged in its last seconds; and
 * how many pages were closed with 1012 meanwhile (moved to a node that reaches their game).
 */
function playersAcrossCut(
  rig: Rig,
  from: number,
  to: number,
): { playing: number; kept: number; moved: number } {
  const ackedIn = (b: Rig['bots'][number], a: number, z: number) =>
    b.acks.some((x) => !x.duplicate && x.at >= a && x.at <= z);
  const playing = rig.bots.filter(
    (b) => !b.eliminated && b.status !== 'finished' && ackedIn(b, from - 5000, from),
  );
  return {
    playing: playing.length,
    kept: playing.filter((b) => ackedIn(b, to - CUT_TAIL_MS, to)).length,
    moved: rig.bots
      .flatMap((b) => b.closes)
      .filter((c) => c.code === 1012 && c.at >= from && c.at <= to).length,
  };
}

/**
 * One node's host cut from the other nodes' hosts for 10 s (all still reach PostgreSQL and
 * HAProxy), then healed.
 */
async function partition(ctx: HostContext): Promise<Section> {
  const { cluster } = ctx;
  const { node: alone, games: aloneOwns } = await busiest(ctx);
  const rest = ctx.current.filter((n) => n !== alone);
  const names = (nodes: NodeProcess[]) => nodes.map((n) => cluster.hostOf(n).name);
  say(
    `── partition: ${names([alone]).join(', ')} cut from ${names(rest).join(', ')} for 10 s (it runs ${aloneOwns.join(',') || 'no game'})`,
  );
  const before = roundsResolved(cluster.rig);
  const at = Date.now();
  cluster.network.partition(names([alone]), names(rest));
  await sleep(10_000);
  cluster.network.heal();
  const healedAt = Date.now();
  const during = roundsResolved(cluster.rig) - before;
  const across = playersAcrossCut(cluster.rig, at, healedAt);
  const meshMs = await meshed(ctx.current, 30_000).then(
    () => Date.now() - healedAt,
    () => NaN,
  );
  const convergedMs = await waitFor(
    async () => ((await converged(cluster.rig)) ? Date.now() - healedAt : false),
    30_000,
    'the replicas to converge after the partition',
    200,
  ).catch(() => NaN);
  const takeovers = logLines(cluster.rig.all, /\[takeover\]/).filter(
    (x) => Date.parse(String(x.line.time)) >= at,
  ).length;
  await roundsPass(cluster, 1, 30_000).catch((e: unknown) => say(`(${(e as Error).message})`));
  say(
    `partition healed: the nodes met again after ${ms(meshMs)}, replicas converged after ${ms(convergedMs)}`,
  );
  const problems: string[] = [];
  if (!Number.isFinite(meshMs))
    problems.push('the nodes did not meet again after the partition healed');
  if (!Number.isFinite(convergedMs))
    problems.push('the replicas did not converge after the partition');
  if (across.kept < across.playing)
    problems.push(
      `${across.playing - across.kept} players acting before the partition had no action acknowledged in its last ${CUT_TAIL_MS / 1000} s`,
    );
  return {
    lines: [
      `partition      ${names([alone]).join(', ')} cut from ${names(rest).join(', ')} for 10 s (all still reach PostgreSQL and HAProxy): ${during} rounds resolved meanwhile, ${takeovers} takeovers (the cut node kept its ${aloneOwns.length} games by its lease); after healing the nodes met again in ${ms(meshMs)} and the replicas converged in ${ms(convergedMs)}`,
      `               players: ${across.kept} of the ${across.playing} who acted in the 5 s before the cut had an action acknowledged in its last ${CUT_TAIL_MS / 1000} s; ${across.moved} pages moved to their game's side (closed with 1012)`,
    ],
    problems,
    // Joining or starting a game owned across the cut, through the cut node (HAProxy still
    // sends players to it), fails after the command's deadline: that node cannot reach the
    // owner. The page says so and the player tries again; the keeper's new games are counted
    // apart for the window.
    excuses: [
      {
        kind: 'partition',
        from: at,
        to: healedAt + 1000,
        label: 'opened while a node was cut off from the others',
      },
    ],
  };
}

/**
 * 50 ± 10 ms and 1 % loss on every packet between hosts (nodes, PostgreSQL, HAProxy) during play.
 */
async function latency(ctx: HostContext, playMs: number, baseline: number[]): Promise<Section> {
  const { cluster } = ctx;
  const names = [
    ...ctx.current.map((n) => cluster.hostOf(n).name),
    cluster.pgHost.name,
    cluster.lbHost.name,
  ];
  say(`── latency: 50 ± 10 ms and 1 % loss between ${names.join(', ')} for ${playMs / 1000} s`);
  const kind = await cluster.network.impair(names, { delayMs: 50, jitterMs: 10, lossPct: 1 });
  const at = Date.now();
  const before = roundsResolved(cluster.rig);
  await sleep(playMs);
  const acks = ackLatency(cluster.rig, at, Date.now());
  const rounds = roundsResolved(cluster.rig) - before;
  const passed = await cluster.network.unimpair();
  const problems: string[] = [];
  if (rounds === 0) problems.push('no round resolved with latency and loss between the hosts');
  return {
    lines: [
      `latency        50 ± 10 ms, 1 % loss on every packet between hosts (${kind === 'netem' ? 'tc netem' : `NFQUEUE delayer, the kernel has no netem: ${passed.accepted} packets delayed, ${passed.dropped} dropped`}) for ${playMs / 1000} s: ${rounds} rounds; acknowledgement latency p50 ${ms(pct(acks, 50))}, p95 ${ms(pct(acks, 95))} (${acks.length} actions), against p50 ${ms(pct(baseline, 50))}, p95 ${ms(pct(baseline, 95))} before any fault`,
    ],
    problems,
    excuses: [],
  };
}

/**
 * PostgreSQL stopped mid-game and started again 2 s later: games wait (nothing is acknowledged
 * that no database holds), what waited is written after, and play goes on.
 */
async function postgresRestart(ctx: HostContext): Promise<Section> {
  const { cluster } = ctx;
  say('── PostgreSQL restart');
  const before = roundsResolved(cluster.rig);
  const at = Date.now();
  cluster.pg.stop({ keep: true });
  await sleep(2000);
  cluster.pg.restart();
  const outage = Date.now() - at;
  const caughtMs = await waitFor(
    async () => {
      for (const n of ctx.current) {
        const j = (await (await admin(n.url, '/admin/cluster.json')).json()) as {
          database: { state: string; waiting: { snapshots: number; results: number } };
        };
        if (
          j.database.state !== 'up' ||
          j.database.waiting.snapshots + j.database.waiting.results > 0
        )
          return false;
      }
      return Date.now() - at;
    },
    30_000,
    'every node to write what waited for PostgreSQL',
    200,
  ).catch(() => NaN);
  const during = roundsResolved(cluster.rig) - before;
  await roundsPass(cluster, 1, 30_000).catch((e: unknown) => say(`(${(e as Error).message})`));
  say(`PostgreSQL back; every node caught up ${ms(caughtMs)} after the stop`);
  const problems: string[] = [];
  if (!Number.isFinite(caughtMs))
    problems.push('the nodes did not catch up with PostgreSQL within 30 s');
  const down = new Set(
    logLines(cluster.rig.all, /^database .* down: /)
      .filter((x) => Date.parse(String(x.line.time)) >= at)
      .map((x) => x.node),
  ).size;
  return {
    lines: [
      `PostgreSQL     stopped mid-game and started again (down ${ms(outage)}; ${down} of ${ctx.current.length} nodes noticed): ${during} rounds resolved until every node had written what waited, ${ms(caughtMs)} after the stop`,
    ],
    problems,
    // Sign-ups and new games need the database: a node answers 503 "back in a moment" meanwhile.
    excuses: [
      {
        kind: 'database',
        from: at,
        to: at + (Number.isFinite(caughtMs) ? caughtMs : 30_000) + 1000,
        label: 'that needed the database while it restarted',
      },
    ],
  };
}

export async function runHostsRehearsal(opts: HostsOptions = {}): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  sayTo(out);
  const why =
    hostsUnavailable() ??
    (haproxyVersion()
      ? null
      : '`haproxy` is not installed: run `bash scripts/ensure-haproxy.sh`') ??
    (postgresBinDir()
      ? null
      : 'PostgreSQL is not installed: run `bash scripts/ensure-postgres.sh`') ??
    (existsSync(MAIN) ? null : 'dist/main.js is missing: run `npm run build` first');
  if (why) {
    out(`rehearsal --hosts: ${why}`);
    return 2;
  }
  const short = opts.short ?? false;
  const games = opts.games ?? 3;
  const bots = opts.bots ?? (short ? 3 : 4);
  const deploys = short ? 1 : 2;
  const playMs = short ? 6000 : 15_000;
  // Limits for a stuck run, not for speed: on a loaded CI machine the short form took 300 s.
  const limitMs = short ? 480_000 : 600_000;

  const cleanups: (() => unknown)[] = [];
  let cluster: HostCluster | undefined;
  let players: Players | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (cluster) {
      const { rig, haproxy } = cluster;
      writeFileSync(join(rig.dir, 'haproxy.log'), haproxy.lines.join('\n') + '\n');
      writeFileSync(join(rig.dir, 'postgres.log'), cluster.pg.log());
      for (const n of rig.all)
        writeFileSync(join(rig.dir, `node-${n.opts.nodeId}.log`), n.raw.join('\n') + '\n');
    }
    for (const b of cluster?.rig.bots ?? []) b.stop();
    await players?.load?.stop();
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        /* the rest is still cleaned up */
      }
    }
  };

  const rehearse = async (): Promise<number> => {
    const network = HostNetwork.create();
    cleanups.push(() => network.close());
    cluster = await HostCluster.create(network, cleanups);
    const c = cluster;
    const rig = c.rig;
    const first = ['a1', 'a2', 'a3'].map((id) => c.launch(id));
    await Promise.all(first.map((n) => n.ready(c.readyTimeoutMs)));
    for (const n of first) await c.enterService(n);
    await c.meshed(first);
    const advertised = first[0]!.lines.find((l) => /^advertising /.test(l.msg))?.msg ?? '?';
    say(
      `3 nodes on hosts ${first.map((n) => n.opts.host).join(', ')} (${advertised}), PostgreSQL on ${c.pgHost.address}, HAProxy (TLS) on ${c.lbHost.address}`,
    );

    players = new Players(c, {
      games,
      bots,
      prefix: 'h',
      maxGames: games * 8,
      botDelayMs: [300, 1500],
      connectTimeoutMs: 8000,
      playingWithinMs: 10_000,
      firstRoundWithinMs: 30_000,
      load: { timeoutMs: LOAD_TIMEOUT_MS, pauseMs: 25 },
    });
    await players.start(short ? 2 : 3);
    const ctx: HostContext = {
      cluster: c,
      current: first,
      playingGames: () => playingGames(c),
      players,
    };
    say(`${rig.codes.length} games × ${bots} bots playing through HAProxy`);
    await roundsPass(c, 1, 30_000);
    const baseline = ackLatency(rig, 0, Date.now());

    const replacements: Replacement[] = [];
    for (let d = 1; d <= deploys; d++) replacements.push(...(await rollingUpdate(ctx, d, deploys)));
    const sections: Section[] = [];
    // Each scenario starts under full play (the keeper replaces games that ended).
    await players.full();
    sections.push(await hostLoss(ctx));
    await players.full();
    sections.push(await partition(ctx));
    await players.full();
    sections.push(await latency(ctx, playMs, baseline));
    await players.full();
    sections.push(await postgresRestart(ctx));
    // The cold start resumes running games: stop opening new ones, and make sure one runs.
    await players.pause();
    if ((await ctx.playingGames()).length === 0) await players.tryOpen();
    const cold: ColdStart = await coldStart(ctx, 'SIGTERM');

    await players.stop();
    await rig.quiesce();
    const { finals, missing } = await finalRecords(c, cold);
    const invariants = checkInvariants({
      codes: rig.codes.filter((x) => finals.has(x)),
      bots: rig.bots.filter((b) => finals.has(b.code)),
      nodes: rig.all,
      samples: rig.sampler.samples,
      finals,
    });
    const result = report({
      cluster: c,
      players,
      invariants,
      finals,
      missing,
      replacements,
      deploys,
      freeze: null,
      cold,
      title: 'Multi-host rehearsal report',
      setup: `hosts in network namespaces on a bridge (${network.subnet}); each node under tini as PID 1 of its own PID namespace, as nobody, NODE_ENV=production with deploy/docker-stack.yml's environment and secrets from files; PostgreSQL (${c.pgHost.address}) and HAProxy with TLS (${c.lbHost.address}) on hosts of their own; ${deploys} start-first rolling update(s) = ${replacements.length} node replacements on new hosts, a host lost, a partition, latency and loss, PostgreSQL restarted, every node stopped (SIGTERM) and a cold start`,
      sections,
    });
    // The logs stay in rig.dir on the machine that ran it; a CI run shows only what is said here,
    // and often only its end: the nodes' warnings come first, the report last.
    if (result.failed) out(`each node's last warnings and errors:\n${rig.warnings(12)}`);
    for (const l of result.lines) out(l);
    writeFileSync(join(rig.dir, 'report.txt'), result.lines.join('\n') + '\n');
    return result.failed ? 1 : 0;
  };

  let code = 1;
  let timer: NodeJS.Timeout | undefined;
  const overTime = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), limitMs);
  });
  const run = rehearse().catch((err: unknown) => {
    if (cluster) say(cluster.rig.tail(12));
    say(`rehearsal --hosts aborted: ${(err as Error).stack ?? String(err)}`);
    return 1;
  });
  try {
    const first = await Promise.race([run, overTime]);
    if (first === 'late') say(`rehearsal --hosts: over its ${limitMs / 1000} s limit; stopping`);
    else code = first;
  } finally {
    clearTimeout(timer);
    await cleanup();
    // A rehearsal stopped at its limit fails on its own once its processes are gone.
    void run.catch(() => undefined);
    const dir = cluster?.rig.dir;
    if (dir) {
      if (code !== 0 || opts.keep) out(`logs kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
    sayTo((l) => void process.stdout.write(`${l}\n`));
  }
  return code;
}

// Run directly: tsx scripts/rehearsal/hosts.ts [--short] [--keep]
if (process.argv[1] && /rehearsal[/\\]hosts\.ts$/.test(process.argv[1])) {
  process.once('SIGINT', () => process.exit(130)); // the test hosts are removed on exit (netns.ts)
  runHostsRehearsal({
    short: process.argv.includes('--short'),
    keep: process.argv.includes('--keep'),
  }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
