// The multi-host rehearsal (`npm run rehearsal -- --hosts`; a short form runs in `npm test`):
// every node in a network namespace of its own with its own address, like containers on
// different machines of one network, started as the image starts it (tini as PID 1 of its own
// PID namespace, as an unprivileged user, NODE_ENV=production with deploy/docker-stack.yml's
// environment and its secrets read from files); PostgreSQL and HAProxy (terminating TLS) on
// hosts of their own; bots and HTTP load speak https/wss from addresses of their own. The nodes
// advertise their address by the hosts' subnet (ADVERTISE_ADDRESS, as the stack file does) and
// find each other through DNS.
//
// Scenarios, in order, under play: start-first replacement of every node (twice); loss of a
// whole host; a network partition between node hosts for 10 s, then healed; 50 ± 10 ms and 1 %
// loss between all hosts; PostgreSQL restarted mid-game; every node stopped and the cluster
// started again from PostgreSQL. The exit code is 0 only if no request failed, no acknowledged
// action was lost or doubled, no round was repeated or skipped and no game was reset.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ADMIN_TOKEN } from '../../test/support/admin.js';
import { checkInvariants } from '../../test/support/invariants.js';
import { Bot } from '../../test/support/bots.js';
import { HaProxy } from '../../test/support/haproxy.js';
import { HostNetwork, hostsUnavailable, type Host } from '../../test/support/netns.js';
import { logLines, waitFor, type NodeProcess } from '../../test/support/node-process.js';
import { Player, fetchVia, openStartedGame, type Network } from '../../test/support/player.js';
import { startPostgres, type PostgresServer } from '../../test/support/postgres.js';
import { productionSecrets, secretFiles, stackEnvironment } from '../../test/support/production.js';
import { RIG_QUERY, Rig } from '../../test/support/redeploy-rig.js';

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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : '–');

interface Failure {
  at: number;
  path: string;
  what: string;
}

/** Logged-in page loads through HAProxy, from a player address, until stopped. */
class PageLoad {
  total = 0;
  readonly failures: Failure[] = [];
  readonly latencies: number[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];
  constructor(
    private readonly base: string,
    private readonly cookies: string[],
    private readonly paths: () => string[],
    private readonly net: Network,
  ) {}
  start(n: number): void {
    this.workers = Array.from({ length: n }, (_, w) => this.worker(w));
  }
  private async worker(w: number): Promise<void> {
    for (let i = w; !this.stopped && this.total < 30_000; i++) {
      const paths = this.paths();
      const path = paths[i % paths.length]!;
      const started = Date.now();
      this.total++;
      try {
        const res = await fetchVia(this.net, this.base + path, { headers: { cookie: this.cookies[i % this.cookies.length]! }, redirect: 'manual', signal: AbortSignal.timeout(8000) });
        const body = await res.text();
        if (res.status >= 400) this.failures.push({ at: started, path, what: `${res.status} ${body.replace(/\s+/g, ' ').slice(0, 100)}` });
        else if (res.status >= 300 && /\/login/.test(res.headers.get('location') ?? '')) this.failures.push({ at: started, path, what: `${res.status} to /login (session lost)` });
      } catch (err) {
        this.failures.push({ at: started, path, what: String((err as Error).cause ?? err) });
      }
      this.latencies.push(Date.now() - started);
      await sleep(25);
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }
}

export async function runHostsRehearsal(opts: HostsOptions = {}): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const t0 = Date.now();
  const say = (m: string) => out(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s  ${m}`);
  const why = hostsUnavailable();
  if (why) {
    out(`rehearsal --hosts: ${why}`);
    return 2;
  }
  const short = opts.short ?? false;
  const GAMES = opts.games ?? (short ? 2 : 4);
  const BOTS = opts.bots ?? (short ? 3 : 4);
  const DEPLOYS = short ? 1 : 2;
  const PLAY_MS = short ? 6000 : 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'minotaur-hosts-'));
  const report: string[] = [];
  const line = (s: string) => report.push(s);
  const problems: string[] = [];

  const net = HostNetwork.create();
  let pg: PostgresServer | undefined;
  let haproxy: HaProxy | undefined;
  let rig: Rig | undefined;
  let load: PageLoad | undefined;
  let failed = true;
  let hostNo = 1;
  const secretsDirs: string[] = [];
  try {
    // ── the hosts ──
    const pgHost = net.addHost('pg', 100);
    const lbHost = net.addHost('lb', 101);
    pg = await startPostgres({ host: pgHost.address, port: 5432, prefix: pgHost.prefix });
    const dbUrl = await pg.createDatabase('hosts');
    const secrets = productionSecrets();
    const secretsDir = mkdtempSync(join(tmpdir(), 'minotaur-secrets-'));
    secretsDirs.push(secretsDir);
    chmodSync(secretsDir, 0o711); // like /run/secrets: the node's user reads its own files only
    const files = secretFiles(secretsDir, { ...secrets, DATABASE_URL: dbUrl, ADMIN_TOKEN: TEST_ADMIN_TOKEN }, NOBODY);
    const stack = Object.fromEntries(Object.entries(stackEnvironment()).filter(([k]) => !['PORT', 'DNS_CLUSTER_QUERY', 'ADVERTISE_ADDRESS', 'DATABASE_PATH'].includes(k) && !k.endsWith('_FILE')));
    rig = await Rig.create({
      port: PORT,
      dnsHost: net.gateway,
      roundSeconds: 3,
      secret: secrets.CLUSTER_SECRET,
      env: {
        ...stack,
        ...files,
        // NodeProcess's test defaults, unset: the files say what they are.
        SECRET_KEY_BASE: '',
        ADMIN_TOKEN: '',
        CLUSTER_SECRET: '',
        HOST: '0.0.0.0',
        ADVERTISE_ADDRESS: net.subnet,
        PASSWORD_COST: '17',
        LOGIN_RATE_LIMIT: '10',
        HEARTBEAT_MS: '500',
        PEER_DOWN_MS: '3000',
        DNS_POLL_MS: '2000',
        LOG_LEVEL: 'debug',
      },
    });
    const r = rig;
    // The rig passes CLUSTER_SECRET itself; the node reads it from the file instead.
    const start = (id: string): { node: NodeProcess; host: Host } => {
      const host = net.addHost(id, ++hostNo);
      const node = r.start(id, host.address, { inDns: false, launcher: net.launcher(host), env: { CLUSTER_SECRET: '' } });
      return { node, host };
    };
    haproxy = await HaProxy.start({ dir, dns: rig.dns.address, query: RIG_QUERY, nodePort: PORT, host: lbHost.address, prefix: lbHost.prefix });
    const lb = haproxy;
    const playerNet = (): Network => ({ ca: lb.ca, localAddress: net.playerAddress() });
    let inDns: string[] = [];
    const setDns = (hosts: string[]) => {
      inDns = [...hosts];
      r.setDns(inDns);
    };

    let current = ['a1', 'a2', 'a3'].map((id) => start(id));
    await Promise.all(current.map((c) => c.node.ready(60_000)));
    setDns(current.map((c) => c.host.address));
    await lb.waitUp(current.map((c) => c.node.address), 30_000);
    await waitFor(async () => {
      for (const c of current) {
        const res = await fetch(`${c.node.url}/admin/cluster.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
        const j = (await res.json()) as { members: { id: string; state: string }[] };
        if (current.some((m) => !j.members.some((x) => x.id === m.node.opts.nodeId && x.state === 'ready'))) return false;
      }
      return true;
    }, 20_000, 'the three nodes to mesh', 200);
    const advertised = current.map((c) => c.node.lines.find((l) => /^advertising /.test(l.msg))?.msg ?? '?');
    say(`3 nodes on hosts ${current.map((c) => c.host.address).join(', ')} (${advertised[0]}), PostgreSQL on ${pgHost.address}, HAProxy (TLS) on ${lbHost.address}`);

    // ── players ──
    let opened = 0;
    const openGame = async (): Promise<string> => {
      const tag = `${Date.now().toString(36).slice(-4)}${opened++}`;
      const players = Array.from({ length: BOTS }, (_, i) => new Player(lb.url, `h${tag}p${i}`, 'correct horse battery', playerNet()));
      const code = await openStartedGame(players);
      const rec = await waitFor(async () => {
        const x = await r.newest(code);
        return x.state.status === 'playing' && x.state.players.length === BOTS ? x : false;
      }, 10_000, `${code} playing`);
      const bots = players.map((p) => new Bot({ name: p.username, code, player: p, playerId: rec.state.players.find((x) => x.name === p.username)!.id, backends: () => [lb.url], defendRate: 0.8, delayMs: [300, 1500], connectTimeoutMs: 8000 }));
      r.codes.push(code);
      r.bots.push(...bots);
      for (const b of bots) b.start();
      return code;
    };
    const setupFailures: Failure[] = [];
    const tryOpen = async () => {
      const at = Date.now();
      try {
        return await openGame();
      } catch (err) {
        setupFailures.push({ at, path: 'new game', what: (err as Error).message });
        return null;
      }
    };
    await Promise.all(Array.from({ length: GAMES }, () => tryOpen()));
    if (r.codes.length === 0) throw new Error(`no game could be opened: ${setupFailures.map((f) => f.what).join('; ')}`);
    await waitFor(() => r.bots.every((b) => b.currentRound >= 1), 30_000, 'every bot to see round 1');
    r.sampler.start();
    const playing = (code: string) => r.bots.some((b) => b.code === code && b.status !== 'finished' && b.status !== 'gone');
    let keeping = true;
    const keeper = (async () => {
      const active = new Set(r.codes);
      while (keeping && opened < GAMES * 4) {
        for (const c of [...active]) {
          if (playing(c) || !keeping) continue;
          active.delete(c);
          const code = await tryOpen();
          if (code) active.add(code);
        }
        await sleep(500);
      }
    })();
    const loaders = [new Player(lb.url, `hload1${Date.now().toString(36).slice(-4)}`, 'correct horse battery', playerNet()), new Player(lb.url, `hload2${Date.now().toString(36).slice(-4)}`, 'correct horse battery', playerNet())];
    for (const p of loaders) await p.signup();
    load = new PageLoad(lb.url, loaders.map((p) => p.cookie), () => ['/lobby', '/leaderboard', ...r.codes.filter(playing).map((c) => `/games/${c}`)], playerNet());
    load.start(short ? 2 : 3);
    say(`${r.codes.length} games × ${BOTS} bots playing through HAProxy`);
    await r.roundsPass(1, 30_000);

    const ackLatency = (from: number, to: number): number[] => {
      const out: number[] = [];
      for (const b of r.bots) {
        const sentAt = new Map(b.sent.map((s) => [s.actionId, s.at]));
        for (const a of b.acks) if (!a.duplicate && a.at >= from && a.at <= to && sentAt.has(a.actionId)) out.push(a.at - sentAt.get(a.actionId)!);
      }
      return out;
    };
    const owners = async (nodeId: string) => {
      const codes: string[] = [];
      for (const c of r.codes) {
        const x = await r.newest(c).catch(() => null);
        if (x && x.owner === nodeId && x.state.status === 'playing') codes.push(c);
      }
      return codes;
    };
    const roundsResolved = () => logLines(r.all, /^round \d+ of [A-Z]{4} resolved/).length;
    const converged = async (): Promise<boolean> => {
      for (const c of r.codes) {
        const versions = new Set<string>();
        for (const n of r.live()) {
          const res = await fetch(`${n.url}/admin/games/${c}.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } }).catch(() => null);
          if (!res || res.status !== 200) continue;
          const x = (await res.json()) as { epoch: number; owner: string; seq: number };
          versions.add(`${x.epoch}/${x.owner}/${x.seq}`);
        }
        if (versions.size > 1) return false;
      }
      return true;
    };

    // ── 1. start-first replacement of every node ──
    const baseline = ackLatency(0, Date.now());
    line(`baseline       acknowledgement latency before any fault: p50 ${ms(pct(baseline, 50))}, p95 ${ms(pct(baseline, 95))} (${baseline.length} actions)`);
    const replaced: string[] = [];
    for (let d = 0; d < DEPLOYS; d++) {
      const next: typeof current = [];
      for (let i = 0; i < current.length; i++) {
        const old = current[i]!;
        const id = `${String.fromCharCode(98 + d)}${i + 1}`;
        const at = Date.now();
        const fresh = start(id);
        await fresh.node.ready(60_000);
        const readyMs = Date.now() - at;
        setDns([...inDns, fresh.host.address]);
        await waitFor(() => lb.isUp(fresh.node.address), 20_000, `HAProxy to put ${id} UP`, 100);
        next.push(fresh);
        const owned = await owners(old.node.opts.nodeId!);
        setDns(inDns.filter((h) => h !== old.host.address));
        const sig = Date.now();
        old.node.signal('SIGTERM');
        await waitFor(() => !old.node.alive, 15_000, `${old.node.opts.nodeId} to exit`, 20).catch(() => undefined);
        const handed = logLines([old.node], /^game [A-Z]{4} handed to node /).length;
        replaced.push(`${old.node.opts.nodeId}→${id} ready ${ms(readyMs)}, exit ${old.node.exitCode ?? old.node.exitSignal} after ${ms(Date.now() - sig)}, ${handed}/${owned.length} games handed`);
        if (old.node.alive || old.node.exitCode !== 0) problems.push(`${old.node.opts.nodeId} did not exit 0 after SIGTERM`);
        await r.roundsPass(1, 30_000).catch((e) => say(`(${(e as Error).message})`));
      }
      current = next;
    }
    say(`rolling updates done: ${replaced.length} replacements`);
    line(`replacements   ${DEPLOYS} start-first rolling update(s), ${replaced.length} node replacements, each node on a new host:`);
    for (const x of replaced) line(`                 ${x}`);

    // ── 2. loss of a whole host ──
    {
      let victim = current[0]!;
      let most = -1;
      for (const c of current) {
        const n = (await owners(c.node.opts.nodeId!)).length;
        if (n > most) [victim, most] = [c, n];
      }
      const lost = await owners(victim.node.opts.nodeId!);
      const at = Date.now();
      net.loseHost(victim.host.name);
      await waitFor(() => !victim.node.alive, 5000, 'the lost host\'s node to be gone', 20);
      // The orchestrator notices the host gone and drops its task from DNS a moment later.
      setTimeout(() => setDns(inDns.filter((h) => h !== victim.host.address)), 3000);
      const adopted = await waitFor(async () => {
        for (const c of lost) if ((await r.newest(c).catch(() => null))?.owner === victim.node.opts.nodeId) return false;
        return Date.now() - at;
      }, 30_000, `the lost host's ${lost.length} games to be taken over`, 100).catch(() => NaN);
      const down = await waitFor(async () => ((await lb.isUp(victim.node.address)) ? false : Date.now() - at), 20_000, 'HAProxy to take the lost node out', 100).catch(() => NaN);
      const fresh = start(`r${hostNo}`);
      await fresh.node.ready(60_000);
      setDns([...inDns, fresh.host.address]);
      current = [...current.filter((c) => c !== victim), fresh];
      await r.roundsPass(1, 30_000).catch(() => undefined);
      line(`host loss      ${victim.host.name} (${victim.host.address}) killed and cut: its ${lost.length} games taken over ${ms(adopted)} after, out of HAProxy after ${ms(down)}; replacement ${fresh.node.opts.nodeId} ready`);
      if (!Number.isFinite(adopted)) problems.push('games of the lost host not taken over');
      say('host loss done');
    }

    // ── 3. partition between hosts for 10 s ──
    {
      const [alone, ...rest] = current;
      const aloneOwns = await owners(alone!.node.opts.nodeId!);
      const before = roundsResolved();
      const at = Date.now();
      net.partition([alone!.host.name], rest.map((c) => c.host.name));
      await sleep(10_000);
      net.heal();
      const during = roundsResolved() - before;
      const healed = await waitFor(async () => ((await converged()) ? Date.now() - at - 10_000 : false), 30_000, 'the replicas to converge after the partition', 200).catch(() => NaN);
      const takeovers = logLines(r.all, /\[takeover\]/).filter((x) => Date.parse(String(x.line.time)) >= at).length;
      line(`partition      ${alone!.host.name} cut from ${rest.map((c) => c.host.name).join(', ')} for 10 s (all still reach PostgreSQL and HAProxy): ${during} rounds resolved meanwhile, ${takeovers} takeovers (${aloneOwns.length} games owned by the cut node, kept by its lease), converged ${ms(healed)} after healing`);
      if (!Number.isFinite(healed)) problems.push('replicas did not converge after the partition');
      say('partition done');
    }

    // ── 4. 50 ± 10 ms and 1 % loss between hosts ──
    {
      const names = [...current.map((c) => c.host.name), 'pg', 'lb'];
      const kind = await net.impair(names, { delayMs: 50, jitterMs: 10, lossPct: 1 });
      const at = Date.now();
      const before = roundsResolved();
      await sleep(PLAY_MS);
      const acks = ackLatency(at, Date.now());
      const passed = await net.unimpair();
      line(`latency        50 ± 10 ms, 1 % loss on every packet between hosts (${kind === 'netem' ? 'tc netem' : `NFQUEUE delayer: the kernel has no netem; ${passed.accepted} packets delayed, ${passed.dropped} dropped`}) for ${PLAY_MS / 1000} s: ${roundsResolved() - before} rounds, acknowledgement latency p50 ${ms(pct(acks, 50))}, p95 ${ms(pct(acks, 95))} (${acks.length} actions)`);
      say('latency done');
    }

    // ── 5. PostgreSQL restarted mid-game ──
    {
      const at = Date.now();
      pg.stop({ keep: true });
      await sleep(2000);
      pg.restart();
      const outage = Date.now() - at;
      const caught = await waitFor(async () => {
        for (const c of current) {
          const res = await fetch(`${c.node.url}/admin/cluster.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
          const j = (await res.json()) as { database: { state: string; waiting: { snapshots: number; results: number } } };
          if (j.database.state !== 'up' || j.database.waiting.snapshots + j.database.waiting.results > 0) return false;
        }
        return Date.now() - at;
      }, 30_000, 'every node to write what waited for PostgreSQL', 200).catch(() => NaN);
      await r.roundsPass(1, 30_000).catch(() => undefined);
      line(`PostgreSQL     restarted mid-game (down ${ms(outage)}): every node up with nothing waiting ${ms(caught)} after the stop`);
      if (!Number.isFinite(caught)) problems.push('nodes did not catch up with PostgreSQL');
      say('PostgreSQL restart done');
    }

    // ── 6. every node stopped; the cluster started again from PostgreSQL ──
    const beforeCold = new Map<string, Awaited<ReturnType<typeof r.newest>>>();
    {
      keeping = false;
      await Promise.race([keeper, sleep(20_000)]);
      for (const c of r.codes) {
        const rec = await r.newest(c).catch(() => null);
        if (rec) beforeCold.set(c, rec);
      }
      const at = Date.now();
      setDns([]);
      for (const c of current) c.node.signal('SIGTERM');
      await waitFor(() => current.every((c) => !c.node.alive), 20_000, 'every node to stop', 50);
      const stoppedMs = Date.now() - at;
      const restartAt = Date.now();
      const fresh = ['z1', 'z2', 'z3'].map((id) => start(id));
      await Promise.all(fresh.map((f) => f.node.ready(60_000)));
      setDns(fresh.map((f) => f.host.address));
      const readyMs = Date.now() - restartAt;
      const resumed = logLines(fresh.map((f) => f.node), /\[cold-start\]/).length;
      await r.roundsPass(1, 40_000).catch((e) => problems.push(`no round after the cold start: ${(e as Error).message}`));
      current = fresh;
      line(`cold start     every node stopped (${ms(stoppedMs)}), three new nodes started together on new hosts: ready after ${ms(readyMs)}, ${resumed} games resumed from PostgreSQL, play went on`);
      say('cold start done');
    }

    // ── check ──
    await load.stop();
    await r.quiesce();
    // A game that finished before the cold start is not resumed (its result is recorded): it is
    // checked up to its last sample. Any other game no node holds is lost.
    const finals = new Map<string, Awaited<ReturnType<typeof r.newest>>>();
    const checked: string[] = [];
    for (const c of r.codes) {
      const rec = await r.newest(c).catch(() => null);
      if (rec) {
        finals.set(c, rec);
        checked.push(c);
      } else if (beforeCold.get(c)?.state.status === 'finished') {
        finals.set(c, beforeCold.get(c)!);
        checked.push(c);
      } else problems.push(`game ${c} is on no node after the cold start`);
    }
    const inv = checkInvariants({ codes: checked, bots: r.bots.filter((b) => checked.includes(b.code)), nodes: r.all, samples: r.sampler.samples, finals });
    const lost = inv.violations.filter((v) => v.kind === 'ack-lost');
    const doubled = inv.violations.filter((v) => v.kind === 'doubled');
    const rounds = inv.violations.filter((v) => v.kind === 'round-repeated' || v.kind === 'round-skipped' || v.kind === 'final-mismatch');
    const other = inv.violations.filter((v) => v.kind === 'reset' || v.kind === 'seen-regressed');
    const sent = r.bots.reduce((n, b) => n + b.sent.length, 0);
    const acked = r.bots.reduce((n, b) => n + b.acks.filter((a) => !a.duplicate).length, 0);
    const roundsPlayed = Object.values(inv.summary).reduce((n, s) => n + s.rounds, 0);
    const lbLog = lb.statuses();

    out('');
    out('══ Multi-host rehearsal report ══════════════════════════════════════════════════════');
    out(`setup          hosts in network namespaces on a bridge (${net.subnet}); each node under tini as PID 1 of its own PID namespace, as nobody, NODE_ENV=production with deploy/docker-stack.yml's environment and secrets from files; PostgreSQL and HAProxy (TLS) on hosts of their own; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const l of report) out(l);
    out(`HTTP load      ${load.failures.length} failed of ${load.total} requests (https GET /lobby, /leaderboard, /games/:code, logged in); latency p50 ${ms(pct(load.latencies, 50))}, p99 ${ms(pct(load.latencies, 99))}`);
    for (const f of load.failures.slice(0, 10)) out(`                 ${((f.at - t0) / 1000).toFixed(1)}s ${f.path}: ${f.what}`);
    out(`new games      ${opened} opened through HAProxy; ${setupFailures.length} failed`);
    for (const f of setupFailures.slice(0, 5)) out(`                 ${f.what}`);
    out(`HAProxy log    ${lbLog.total} requests: ${[...lbLog.byStatus].sort().map(([s, n]) => `${s}×${n}`).join(' ')}; ${lbLog.bad.length} answered 5xx`);
    out(`actions        ${sent} sent, ${acked} acknowledged; ${lost.length} acknowledged actions lost, ${doubled.length} doubled`);
    out(`rounds         ${roundsPlayed} rounds resolved in ${r.codes.length} games; ${rounds.length} repeated or skipped; ${other.length} other violations (resets, rounds seen going back)`);
    for (const v of inv.violations.slice(0, 20)) out(`  VIOLATION [${v.kind}] ${v.text}`);
    if (load.failures.length) problems.push(`${load.failures.length} failed HTTP requests`);
    if (setupFailures.length) problems.push(`${setupFailures.length} games could not be opened`);
    if (lbLog.bad.length) problems.push(`${lbLog.bad.length} 5xx answers in HAProxy's log`);
    if (lost.length) problems.push(`${lost.length} acknowledged actions lost`);
    if (doubled.length) problems.push(`${doubled.length} actions doubled`);
    if (rounds.length || other.length) problems.push(`${rounds.length + other.length} other invariant violations`);
    if (roundsPlayed === 0) problems.push('no round was played');
    out(problems.length ? `RESULT         FAILED: ${problems.join('; ')}` : 'RESULT         OK: no failed request, no lost or doubled action, no repeated or skipped round, no game reset');
    failed = problems.length > 0;
    return failed ? 1 : 0;
  } catch (err) {
    out(`rehearsal --hosts aborted: ${(err as Error).stack ?? String(err)}`);
    if (rig) out(rig.tail(12));
    return 1;
  } finally {
    if (rig) for (const n of rig.all) writeFileSync(join(dir, `node-${n.opts.nodeId}.log`), n.raw.join('\n') + '\n');
    if (haproxy) writeFileSync(join(dir, 'haproxy.log'), haproxy.lines.join('\n') + '\n');
    if (pg) writeFileSync(join(dir, 'postgres.log'), pg.log());
    await load?.stop();
    if (rig) for (const b of rig.bots) b.stop();
    rig?.sampler.stop();
    await haproxy?.stop();
    await rig?.close();
    pg?.stop();
    net.close();
    if (secretsDirs.length) for (const d of secretsDirs) rmSync(d, { recursive: true, force: true });
    if (failed || opts.keep) out(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

// Run directly: tsx scripts/rehearsal/hosts.ts [--short] [--keep]
if (process.argv[1] && /rehearsal[/\\]hosts\.ts$/.test(process.argv[1])) {
  runHostsRehearsal({ short: process.argv.includes('--short'), keep: process.argv.includes('--keep') }).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
