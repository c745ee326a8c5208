// Deploy rehearsal: a start-first rolling update of a real cluster, behind real HAProxy, while
// players play and HTTP load runs, with a report of everything a player could have noticed.
//
//   npm run rehearsal                 # build, then one rehearsal (about a minute)
//   npm run rehearsal -- --deploys 1 --games 3 --bots 4 --keep
//
// What it does, all on loopback (127.0.0.0/8) and within three minutes:
//   1. A DNS server (test/support/dns-server.ts) answers tasks.minotaur-redeploy with the nodes
//      that are "in service", as Swarm's embedded DNS answers tasks.<service>.
//   2. Three nodes (node dist/main.js) on 127.0.0.2-4, one port, one SQLite file in a temp dir,
//      clustered through that DNS name, run as production runs them: the environment of the
//      minotaur service in deploy/docker-stack.yml (NODE_ENV=production, TRUST_PROXY=1, secure
//      cookies, the drain budget) read from the file, secrets made like its instructions make
//      them (openssl rand -base64 48 / 32), production's password cost. Only two settings
//      differ, and say why: LOG_LEVEL=debug (the invariant checker reads each round's
//      resolution line) and ADMIN_TOKEN (the checker samples the replicated records).
//   3. HAProxy runs deploy/haproxy.cfg itself, unchanged, terminating TLS with a certificate
//      made for 127.0.0.1 (test/support/haproxy.ts): its environment points the listen
//      addresses, the certificate, the resolvers' nameserver and the server-template's name at
//      the loopback set-up, so HAProxy finds the nodes through the same DNS and health-checks
//      /health_check, exactly as in production. Its runtime API (stats socket) is only read,
//      to time when HAProxy puts a node in and out of rotation.
//   4. Bot players (test/support/bots.ts) play several games through HAProxy over https and
//      wss, each from an address of its own (127.0.1.x, as players on the internet are): they
//      keep each action until it is acknowledged and send unacknowledged ones again after
//      reconnecting, like the page does. HTTP load (logged-in GET /lobby, /leaderboard,
//      /games/:code) runs through HAProxy at the same time.
//   5. Each node is replaced, one at a time, start-first, in Swarm's order: the new node starts
//      on a new address, becomes ready, enters DNS; once HAProxy has it UP, the old node leaves
//      DNS and gets SIGTERM at once (Swarm removes a stopping task from DNS and sends SIGTERM
//      without waiting for the load balancer); the rehearsal waits for it to exit.
//   6. It stops the players, checks the invariants (test/support/bots.ts checkInvariants: no
//      acknowledged action lost, none applied twice, no round repeated or skipped, no game
//      reset) and prints the report. Exit code 0 only if no request failed, no action was lost
//      or doubled, no invariant broke and every old node exited 0 by itself.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_ADMIN_TOKEN } from '../test/support/admin.js';
import { Bot, checkInvariants, logLines } from '../test/support/bots.js';
import { HaProxy, haproxyVersion } from '../test/support/haproxy.js';
import { MAIN, waitFor, type LogLine, type NodeProcess } from '../test/support/node-process.js';
import { Player, fetchVia, openStartedGame, type Network } from '../test/support/player.js';
import { productionEnv, productionSecrets } from '../test/support/production.js';
import { RIG_QUERY, Rig } from '../test/support/redeploy-rig.js';

// ── options ─────────────────────────────────────────────────────────────────────────────

function opt(name: string, dflt: number, min: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`rehearsal: --${name} must be an integer from ${min} to ${max}\n`);
    process.exit(2);
  }
  return v;
}
const DEPLOYS = opt('deploys', 2, 1, 3); // full rolling updates of the 3 nodes, one after the other
const GAMES = opt('games', 4, 1, 8);
const BOTS = opt('bots', 4, 2, 8);
const LOAD_WORKERS = opt('http-workers', 4, 0, 16);
const KEEP = process.argv.includes('--keep');
const TIME_LIMIT_MS = 170_000;
const MAX_HTTP_REQUESTS = 40_000;
const NODES = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const secs = (at: number) => `${((at - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (msg: string) => process.stdout.write(`${secs(Date.now())}  ${msg}\n`);

// ── preflight ───────────────────────────────────────────────────────────────────────────

function preflight(): void {
  const hv = haproxyVersion();
  if (!hv) {
    process.stderr.write('rehearsal: `haproxy` is not installed (or not on PATH).\n  Debian/Ubuntu: apt-get install -y haproxy openssl   (2.2 or newer)\n');
    process.exit(2);
  }
  if (!existsSync(MAIN)) {
    process.stderr.write('rehearsal: dist/main.js is missing; run `npm run build` first (npm run rehearsal does).\n');
    process.exit(2);
  }
  say(`${hv}; node ${process.version}; ${DEPLOYS} rolling update(s) of ${NODES} nodes, ${GAMES} games × ${BOTS} bots, ${LOAD_WORKERS} HTTP load workers`);
}

// ── HTTP load ───────────────────────────────────────────────────────────────────────────

interface Failure {
  at: number;
  path: string;
  what: string;
}

class HttpLoad {
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
    let i = w;
    while (!this.stopped && this.total < MAX_HTTP_REQUESTS) {
      const paths = this.paths();
      const path = paths[i % paths.length]!;
      const cookie = this.cookies[i % this.cookies.length]!;
      i++;
      const started = Date.now();
      this.total++;
      try {
        const res = await fetchVia(this.net, this.base + path, { headers: { cookie }, redirect: 'manual', signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.status >= 400) this.failures.push({ at: started, path, what: `${res.status} ${body.replace(/\s+/g, ' ').slice(0, 120)}` });
        else if (res.status >= 300 && /\/login/.test(res.headers.get('location') ?? '')) this.failures.push({ at: started, path, what: `${res.status} to /login (session lost)` });
      } catch (err) {
        this.failures.push({ at: started, path, what: String((err as Error).cause ?? err) });
      }
      this.latencies.push(Date.now() - started);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }
}

// ── report helpers ──────────────────────────────────────────────────────────────────────

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : '–');
const logTime = (l: LogLine) => Date.parse(String(l.time));

interface Replacement {
  old: NodeProcess;
  fresh: NodeProcess;
  freshReadyMs: number;
  lbUpMs: number;
  sigtermAt: number;
  lbOutMs: number | null;
  exitMs: number | null;
  owned: string[];
}

// ── the rehearsal ───────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  preflight();
  const secrets = productionSecrets();
  const rig = await Rig.create({
    roundSeconds: 5,
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
  const lbUrl = haproxy.url;
  // Every player connects from an address of its own, as players on the internet do: the
  // nodes see it (TRUST_PROXY) and limit sign-ups and logins per address.
  let addresses = 0;
  const net = (): Network => {
    const n = addresses++;
    return { ca: haproxy.ca, localAddress: `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}` };
  };
  let load: HttpLoad | null = null;
  let failed = true;
  const cleanup = async () => {
    for (const b of rig.bots) b.stop();
    rig.sampler.stop();
    await load?.stop();
    await haproxy.stop();
    await rig.close();
  };
  const watchdog = setTimeout(() => {
    say(`rehearsal: over the ${TIME_LIMIT_MS / 1000} s limit; stopping. Logs: ${rig.dir}`);
    void cleanup().finally(() => process.exit(1));
  }, TIME_LIMIT_MS);
  watchdog.unref();
  process.once('SIGINT', () => {
    say('interrupted');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    // DNS answers only nodes that are ready ("healthy tasks"), like Swarm.
    let inDns: string[] = [];
    const setDns = (hosts: string[]) => {
      inDns = hosts;
      rig.setDns(hosts);
    };
    const setA = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const setB = ['127.0.0.5', '127.0.0.6', '127.0.0.7'];
    let current = setA.map((h, i) => rig.start(`a${i + 1}`, h, { inDns: false }));
    await Promise.all(current.map((n) => n.ready()));
    setDns(current.map((n) => n.opts.host!));
    await haproxy.waitUp(current.map((n) => n.address));
    // A freshly started cluster is three islands until the nodes' next DNS poll (each became
    // ready before DNS listed the others, as in a first Swarm deploy): wait until they meshed.
    await waitFor(
      async () => {
        for (const n of current) {
          const res = await fetch(`${n.url}/admin/cluster.json`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
          const c = (await res.json()) as { members: { id: string; state: string }[] };
          if (current.some((m) => !c.members.some((x) => x.id === m.opts.nodeId && x.state === 'ready'))) return false;
        }
        return true;
      },
      15_000,
      'the three nodes to see each other',
      100,
    );
    say(`3 nodes ready on ${current.map((n) => n.address).join(', ')} (NODE_ENV=production, environment of deploy/docker-stack.yml); HAProxy on ${lbUrl} (TLS) has them UP (found through DNS ${rig.dns.address})`);

    // Players: games created, joined and started through HAProxy, one Bot per player.
    let opened = 0;
    const openGame = async (): Promise<string> => {
      const tag = `${Date.now().toString(36).slice(-4)}${opened++}`;
      const players = Array.from({ length: BOTS }, (_, i) => new Player(lbUrl, `r${tag}p${i}`, 'correct horse battery', net()));
      const code = await openStartedGame(players);
      const rec = await waitFor(
        async () => {
          const r = await rig.newest(code);
          return r.state.status === 'playing' && r.state.players.length === BOTS ? r : false;
        },
        5_000,
        `${code} to be playing with ${BOTS} players after create, join × ${BOTS - 1}, start (every answer was 303)`,
      );
      const bots = players.map((p) => new Bot({ name: p.username, code, player: p, playerId: rec.state.players.find((x) => x.name === p.username)!.id, backends: () => [lbUrl], defendRate: 0.8, delayMs: [400, 1800] }));
      rig.codes.push(code);
      rig.bots.push(...bots);
      for (const b of bots) b.start();
      return code;
    };
    const playing = (code: string) => rig.bots.some((b) => b.code === code && b.status !== 'finished' && b.status !== 'gone');
    const setupFailures: Failure[] = [];
    const tryOpen = async (): Promise<string | null> => {
      const at = Date.now();
      try {
        return await openGame();
      } catch (err) {
        setupFailures.push({ at, path: 'new game', what: (err as Error).message });
        return null;
      }
    };
    await Promise.all(Array.from({ length: GAMES }, () => tryOpen()));
    if (rig.codes.length === 0) throw new Error(`no game could be opened: ${setupFailures.map((f) => f.what).join('; ')}`);
    await waitFor(() => rig.bots.every((b) => b.currentRound >= 1), 15_000, 'every bot to see round 1');
    rig.sampler.start();
    const owners = await Promise.all(rig.codes.map(async (c) => `${c}@${(await rig.newest(c)).owner}`));
    say(`${rig.codes.length} games × ${BOTS} bots playing through HAProxy (${owners.join(' ')})`);

    // A game that ends is replaced by a new one (sign-ups, create, join, start through HAProxy
    // while nodes come and go), so every replacement happens under play. Bounded.
    let keeping = true;
    const keeper = (async () => {
      const active = new Set(rig.codes);
      while (keeping && opened < GAMES * 4) {
        for (const c of [...active]) {
          if (playing(c) || !keeping) continue;
          active.delete(c);
          const code = await tryOpen();
          if (code) active.add(code);
        }
        await sleep(250);
      }
    })();

    // HTTP load: two logged-in players' cookies, pages every player loads.
    const loaders = [new Player(lbUrl, `r${Date.now().toString(36).slice(-4)}load1`, 'correct horse battery', net()), new Player(lbUrl, `r${Date.now().toString(36).slice(-4)}load2`, 'correct horse battery', net())];
    for (const p of loaders) await p.signup();
    load = new HttpLoad(lbUrl, loaders.map((p) => p.cookie), () => ['/lobby', '/leaderboard', ...rig.codes.filter(playing).map((c) => `/games/${c}`)], net());
    load.start(LOAD_WORKERS);
    await rig.roundsPass(2);

    // The rolling updates.
    const replacements: Replacement[] = [];
    for (let d = 0; d < DEPLOYS; d++) {
      const hosts = d % 2 === 0 ? setB : setA;
      const next: NodeProcess[] = [];
      say(`── rolling update ${d + 1}/${DEPLOYS}: parallelism 1, start-first`);
      for (let i = 0; i < current.length; i++) {
        const old = current[i]!;
        const oldId = old.opts.nodeId!;
        const freshId = `${String.fromCharCode(98 + d)}${i + 1}`;
        const startedAt = Date.now();
        const fresh = rig.start(freshId, hosts[i]!, { inDns: false });
        await fresh.ready();
        const freshReadyMs = Date.now() - startedAt;
        setDns([...inDns, fresh.opts.host!]);
        await waitFor(() => haproxy.isUp(fresh.address), 15_000, `HAProxy to put ${freshId} UP`, 50);
        const lbUpMs = Date.now() - startedAt;
        next.push(fresh);
        const owned: string[] = [];
        for (const c of rig.codes) {
          const r = await rig.newest(c);
          if (r.owner === oldId && r.state.status === 'playing') owned.push(c);
        }
        // Swarm: the stopping task leaves DNS and gets SIGTERM at once.
        setDns(inDns.filter((h) => h !== old.opts.host));
        const sigtermAt = Date.now();
        old.signal('SIGTERM');
        const rep: Replacement = { old, fresh, freshReadyMs, lbUpMs, sigtermAt, lbOutMs: null, exitMs: null, owned };
        replacements.push(rep);
        const watchLb = (async () => {
          while (old.alive || rep.lbOutMs === null) {
            if (!(await haproxy.isUp(old.address).catch(() => true))) {
              rep.lbOutMs = Date.now() - sigtermAt;
              return;
            }
            await sleep(20);
            if (Date.now() - sigtermAt > 15_000) return;
          }
        })();
        await waitFor(() => !old.alive, 12_000, `${oldId} to exit after SIGTERM`, 10).catch(() => undefined);
        rep.exitMs = old.alive ? null : Date.now() - sigtermAt;
        await watchLb;
        say(`${oldId} (${old.address}) → ${freshId} (${fresh.address}): new node ready in ${ms(freshReadyMs)}, UP in HAProxy after ${ms(lbUpMs)}; old one owned ${owned.join(',') || 'no game'}, out of HAProxy ${ms(rep.lbOutMs ?? NaN)} and exited ${old.alive ? 'NOT' : `${old.exitCode ?? old.exitSignal}`} ${ms(rep.exitMs ?? NaN)} after SIGTERM`);
        if (old.alive) throw new Error(`${oldId} did not exit within 12 s of SIGTERM`);
        await rig.roundsPass(1).catch((e) => say(`(${(e as Error).message})`));
      }
      current = next;
    }
    await rig.roundsPass(1).catch(() => undefined);

    // Stop the players and the load, then check.
    keeping = false;
    await keeper;
    await load.stop();
    await rig.quiesce();
    const finals = await rig.finals();
    const inv = checkInvariants({ codes: rig.codes, bots: rig.bots, nodes: rig.all, samples: rig.sampler.samples, finals });
    const lost = inv.violations.filter((v) => /was acknowledged/.test(v));
    const doubled = inv.violations.filter((v) => /applied in \d+ resolutions|acknowledged as new \d+ times/.test(v));
    const rounds = inv.violations.filter((v) => /resolved \d+ times|never resolved|final record is at/.test(v));
    const other = inv.violations.filter((v) => !lost.includes(v) && !doubled.includes(v) && !rounds.includes(v));

    // Handoffs, from the logs.
    const handoffs: { game: string; from: string; to: string; round: number; afterSigtermMs: number; adoptedAfterSigtermMs: number }[] = [];
    const missingAdoption: string[] = [];
    for (const r of replacements) {
      const oldId = r.old.opts.nodeId!;
      const sig = r.old.lines.find((l) => /^SIGTERM received/.test(l.msg));
      const sigAt = sig ? logTime(sig) : r.sigtermAt;
      for (const { line } of logLines([r.old], /^game [A-Z]{4} handed to node /)) {
        const m = /^game ([A-Z]{4}) handed to node (\S+) \(epoch (\d+), round (\d+)\)$/.exec(line.msg)!;
        const [game, to, epoch, round] = [m[1]!, m[2]!, m[3]!, Number(m[4])];
        const target = rig.node(to);
        const adopted = target.lines.find((l) => l.msg === `game ${game} adopted from node ${oldId} (epoch ${epoch}, round ${round})`);
        if (!adopted) missingAdoption.push(`${game} ${oldId}→${to}`);
        handoffs.push({ game, from: oldId, to, round, afterSigtermMs: logTime(line) - sigAt, adoptedAfterSigtermMs: adopted ? logTime(adopted) - sigAt : NaN });
      }
    }
    const takeovers = logLines(rig.all, /\[takeover\]|left in the database for the next node/);
    const notHanded = replacements.flatMap((r) => r.owned.filter((c) => !handoffs.some((h) => h.game === c && h.from === r.old.opts.nodeId) && finals.get(c)?.state.status === 'playing' && !r.old.lines.some((l) => new RegExp(`^game ${c} `).test(l.msg) && /finished|recorded/.test(l.msg))));
    const badExits = replacements.filter((r) => r.old.exitCode !== 0);

    // Reconnect gaps the bots saw: socket closed → first partial on the next connection.
    const gaps: number[] = [];
    const closeCodes = new Map<number, number>();
    let unrecovered = 0;
    let bounced = 0; // connections closed before they showed anything (HAProxy sent the reconnect to a draining node)
    for (const b of rig.bots) {
      for (const c of b.closes) {
        closeCodes.set(c.code, (closeCodes.get(c.code) ?? 0) + 1);
        const opened = b.connects.filter((x) => x.at <= c.at).at(-1);
        if (opened && !b.firstPartials.some((p) => p.at >= opened.at && p.at <= c.at)) bounced++;
        const fp = b.firstPartials.find((p) => p.at > c.at);
        if (fp) gaps.push(fp.at - c.at);
        else if (b.status === 'playing') unrecovered++;
      }
    }

    const sent = rig.bots.reduce((n, b) => n + b.sent.length, 0);
    const acked = rig.bots.reduce((n, b) => n + b.acks.filter((a) => !a.duplicate).length, 0);
    const dupAcks = rig.bots.reduce((n, b) => n + b.acks.filter((a) => a.duplicate).length, 0);
    const refusals = new Map<string, number>();
    for (const b of rig.bots) for (const r of b.refusals) refusals.set(r.code, (refusals.get(r.code) ?? 0) + 1);
    const lbLog = haproxy.statuses();
    const roundsPlayed = Object.values(inv.summary).reduce((n, s) => n + s.rounds, 0);

    // ── report ──
    const out: string[] = [];
    const line = (s = '') => out.push(s);
    line();
    line('══ Deploy rehearsal report ══════════════════════════════════════════════════════════');
    line(`setup          ${NODES} production nodes (deploy/docker-stack.yml's environment) behind HAProxy terminating TLS (deploy/haproxy.cfg), DNS discovery, ${DEPLOYS} start-first rolling update(s) = ${replacements.length} node replacements in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    line(`HTTP load      ${load.failures.length} failed of ${load.total} requests (https GET /lobby, /leaderboard, /games/:code, logged in); latency p50 ${ms(pct(load.latencies, 50))}, p99 ${ms(pct(load.latencies, 99))}, max ${ms(Math.max(...load.latencies))}`);
    for (const f of load.failures.slice(0, 10)) line(`                 ${secs(f.at)} ${f.path}: ${f.what}`);
    line(`new games      ${opened} games opened through HAProxy (sign-up, create, join, start), ${opened - GAMES} of them during the updates; ${setupFailures.length} failed`);
    for (const f of setupFailures.slice(0, 10)) line(`                 ${secs(f.at)} ${f.what}`);
    line(`HAProxy log    ${lbLog.total} requests logged (pages, forms, WebSocket upgrades): ${[...lbLog.byStatus].sort().map(([s, n]) => `${s}×${n}`).join(' ')}; ${lbLog.bad.length} answered 5xx`);
    for (const l of lbLog.bad.slice(0, 5)) line(`                 ${l}`);
    line(`actions        ${sent} sent, ${acked} acknowledged, ${dupAcks} resends recognised as duplicates; ${lost.length} acknowledged actions lost, ${doubled.length} doubled`);
    if (refusals.size) line(`               refusals: ${[...refusals].map(([c, n]) => `${c}×${n}`).join(' ')}`);
    line(`rounds         ${roundsPlayed} rounds resolved in ${rig.codes.length} games; ${rounds.length} repeated or skipped; ${other.length} other violations (resets, rounds seen going back)`);
    for (const [code, s] of Object.entries(inv.summary)) line(`                 ${code}: ${s.rounds} rounds, final round ${s.finalRound} (${s.status}), acks checked ${s.acks}, resolved by ${Object.entries(s.byNode).map(([n, k]) => `${n}×${k}`).join(' ')}`);
    for (const v of inv.violations.slice(0, 20)) line(`  VIOLATION ${v}`);
    const hs = handoffs.map((h) => h.adoptedAfterSigtermMs).filter(Number.isFinite);
    line(`handoffs       ${handoffs.length} games handed over (SIGTERM → adopted by the successor: median ${ms(pct(hs, 50))}, max ${ms(Math.max(...hs))}); ${takeovers.length} takeovers or snapshots; ${missingAdoption.length} without adoption log; ${notHanded.length} owned games not handed over`);
    for (const h of handoffs) line(`                 ${h.game} round ${h.round}: ${h.from} → ${h.to}, handed ${ms(h.afterSigtermMs)} / adopted ${ms(h.adoptedAfterSigtermMs)} after SIGTERM`);
    for (const t of takeovers) line(`  TAKEOVER ${t.node}: ${t.line.msg}`);
    line('old nodes      SIGTERM → out of HAProxy / drained (games handed, sockets closed 1012) / exit:');
    for (const r of replacements) {
      const drained = r.old.lines.find((l) => /^drained: /.test(l.msg));
      line(`                 ${r.old.opts.nodeId!.padEnd(3)} out ${ms(r.lbOutMs ?? NaN).padStart(7)}, drained ${ms(drained ? Number(drained.ms) : NaN).padStart(7)}, exit ${r.old.exitCode ?? r.old.exitSignal} after ${ms(r.exitMs ?? NaN)}   (successor ${r.fresh.opts.nodeId} ready ${ms(r.freshReadyMs)}, UP in HAProxy ${ms(r.lbUpMs)})`);
    }
    line(`reconnects     ${gaps.length} socket closes → first partial on the new connection: p50 ${ms(pct(gaps, 50))}, p95 ${ms(pct(gaps, 95))}, max ${ms(Math.max(...gaps))}; close codes ${[...closeCodes].map(([c, n]) => `${c}×${n}`).join(' ') || 'none'}, ${bounced} of them on a connection that had shown nothing yet (a reconnect sent to the draining node)${unrecovered ? `; ${unrecovered} never got a partial again` : ''}`);

    const problems: string[] = [];
    if (load.failures.length) problems.push(`${load.failures.length} failed HTTP requests`);
    if (setupFailures.length) problems.push(`${setupFailures.length} games could not be opened`);
    if (lbLog.bad.length) problems.push(`${lbLog.bad.length} 5xx answers in HAProxy's log`);
    if (lost.length) problems.push(`${lost.length} acknowledged actions lost`);
    if (doubled.length) problems.push(`${doubled.length} actions doubled`);
    if (rounds.length || other.length) problems.push(`${rounds.length + other.length} other invariant violations`);
    if (badExits.length) problems.push(`${badExits.length} old nodes did not exit 0`);
    if (takeovers.length || notHanded.length || missingAdoption.length) problems.push('games not handed over cleanly');
    if (unrecovered) problems.push(`${unrecovered} bots never saw their game again after a close`);
    line(problems.length ? `RESULT         FAILED: ${problems.join('; ')}` : 'RESULT         OK: no failed request, no lost or doubled action, every game handed over');
    line();
    process.stdout.write(out.join('\n') + '\n');
    failed = problems.length > 0;

    // Logs, for a closer look.
    writeFileSync(join(rig.dir, 'report.txt'), out.join('\n') + '\n');
    writeFileSync(join(rig.dir, 'haproxy.log'), haproxy.lines.join('\n') + '\n');
    for (const n of rig.all) writeFileSync(join(rig.dir, `node-${n.opts.nodeId}.log`), n.raw.join('\n') + '\n');
    return failed ? 1 : 0;
  } catch (err) {
    say(`rehearsal aborted: ${(err as Error).stack ?? String(err)}`);
    await sleep(500); // the nodes' last log lines are still in the pipes
    say(rig.tail(15));
    writeFileSync(join(rig.dir, 'haproxy.log'), haproxy.lines.join('\n') + '\n');
    for (const n of rig.all) writeFileSync(join(rig.dir, `node-${n.opts.nodeId}.log`), n.raw.join('\n') + '\n');
    return 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
    if (failed || KEEP) say(`logs and report kept in ${rig.dir}`);
    else rmSync(rig.dir, { recursive: true, force: true });
  }
}

// The multi-host mode (every node, PostgreSQL and HAProxy on hosts of their own) lives in
// scripts/rehearsal/hosts.ts.
const run = process.argv.includes('--hosts')
  ? import('./rehearsal/hosts.js').then((m) => m.runHostsRehearsal({ short: process.argv.includes('--short'), keep: KEEP }))
  : main();
run.then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
