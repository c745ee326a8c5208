// A rig for redeploy tests: real node processes (node dist/main.js) on 127.0.0.x, one port,
// one shared SQLite file, found through a real DNS server the test controls, a "load
// balancer" list the bots reconnect through, games set up with bot players, and a sampler of
// the replicated records. Every process started here is killed by close().

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { adminGame, TEST_ADMIN_TOKEN, type AdminRecord } from './admin.js';
import { Bot, type BotOptions } from './bots.js';
import { agreedFinals, Sampler } from './invariants.js';
import { createDnsServer, type TestDnsServer } from './dns-server.js';
import {
  ROOT,
  freePort,
  startNode,
  tempDir,
  waitFor,
  type Launcher,
  type NodeProcess,
} from './node-process.js';
import { Player, openStartedGame } from './player.js';

export const RIG_SECRET = 'redeploy-cluster-secret-0123456789';
export const RIG_QUERY = 'tasks.minotaur-redeploy';

export interface RigOptions {
  roundSeconds?: number;
  env?: Record<string, string>;
  /** CLUSTER_SECRET of the nodes (production refuses RIG_SECRET: too short). */
  secret?: string;
  /**
   * Address the DNS server listens on (default 127.0.0.1; test hosts reach the operator's address).
   */
  dnsHost?: string;
  /** Port every node listens on (default: one free on the loopback test addresses). */
  port?: number;
}

/** A port free on 127.0.0.2 … 127.0.0.9. */
function rigPort(): Promise<number> {
  return freePort();
}

export interface GameSetup {
  code: string;
  bots: Bot[];
  players: Player[];
}

export class Rig {
  /** Every node ever started, in order (their logs stay available after they exit). */
  readonly all: NodeProcess[] = [];
  /** Nodes the load balancer routes new connections to. */
  readonly lb = new Set<NodeProcess>();
  /** Nodes that are SIGSTOPped (the sampler skips them). */
  readonly paused = new Set<NodeProcess>();
  readonly bots: Bot[] = [];
  readonly codes: string[] = [];
  readonly sampler: Sampler;
  private dnsHosts: string[] = [];
  /** The test's own connection to the nodes' SQLite file (see freeze). */
  private probe: Database.Database | null = null;
  private names = 0;

  private constructor(
    readonly dns: TestDnsServer,
    readonly port: number,
    readonly dir: string,
    readonly dbPath: string,
    private readonly env: Record<string, string>,
    private readonly secret: string = RIG_SECRET,
  ) {
    this.sampler = new Sampler(
      () => this.codes,
      () =>
        this.live()
          .filter((n) => !this.paused.has(n))
          .map((n) => n.url),
    );
  }

  static async create(opts: RigOptions = {}): Promise<Rig> {
    const dns = await createDnsServer(opts.dnsHost ? { host: opts.dnsHost } : {});
    const port = opts.port ?? (await rigPort());
    const dir = tempDir('minotaur-redeploy-');
    const env: Record<string, string> = {
      ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      ROUND_SECONDS: String(opts.roundSeconds ?? 2),
      PEER_DOWN_MS: '1500',
      HEARTBEAT_MS: '250',
      DRAIN_WINDOW_MS: '500',
      DNS_POLL_MS: '250',
      LOG_LEVEL: 'debug',
      ...opts.env,
    };
    return new Rig(dns, port, dir, join(dir, 'minotaur.db'), env, opts.secret);
  }

  /**
   * Starts three nodes (ids `${prefix}1`..`${prefix}3`, default n1..n3) on 127.0.0.2..4, waits
   * until all are ready and puts them behind the load balancer.
   */
  async startThree(prefix = 'n'): Promise<NodeProcess[]> {
    const nodes = [
      this.start(`${prefix}1`, '127.0.0.2'),
      this.start(`${prefix}2`, '127.0.0.3'),
      this.start(`${prefix}3`, '127.0.0.4'),
    ];
    await Promise.all(nodes.map((n) => n.ready()));
    for (const n of nodes) this.lb.add(n);
    return nodes;
  }

  /**
   * Starts a node; clustered ones get the DNS settings and (by default) their address added to
   * DNS.
   */
  start(
    nodeId: string,
    host: string,
    opts: {
      cluster?: boolean;
      inDns?: boolean;
      env?: Record<string, string>;
      main?: string;
      launcher?: Launcher;
    } = {},
  ): NodeProcess {
    const cluster = opts.cluster ?? true;
    if (cluster && (opts.inDns ?? true))
      this.setDns([...this.dnsHosts.filter((h) => h !== host), host]);
    const env = {
      ...this.env,
      ...(cluster
        ? {
            DNS_CLUSTER_QUERY: RIG_QUERY,
            DNS_CLUSTER_RESOLVER: this.dns.address,
            CLUSTER_SECRET: this.secret,
          }
        : {}),
      ...opts.env,
    };
    const node = startNode({
      host,
      port: this.port,
      nodeId,
      databasePath: this.dbPath,
      env,
      ...(opts.main ? { main: opts.main } : {}),
      ...(opts.launcher ? { launcher: opts.launcher } : {}),
    });
    this.all.push(node);
    return node;
  }

  setDns(hosts: string[]): void {
    this.dnsHosts = [...hosts];
    this.dns.setRecords(RIG_QUERY, this.dnsHosts);
  }

  removeFromDns(node: NodeProcess): void {
    this.setDns(this.dnsHosts.filter((h) => h !== node.opts.host));
  }

  /** Nodes whose process is still running. */
  live(): NodeProcess[] {
    return this.all.filter((n) => n.alive);
  }

  node(id: string): NodeProcess {
    const n = [...this.all].reverse().find((x) => x.opts.nodeId === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** What the load balancer routes to: live, routable nodes. */
  backends = (): string[] => [...this.lb].filter((n) => n.alive).map((n) => n.url);

  /**
   * Opens `games` games, each created on `via[i % via.length]` by its first player, joined by
   * `botsPerGame - 1` more and started; then one Bot per player plays it through the load
   * balancer (`botOpts`: the same options for every bot, or options by seat). Returns once every
   * bot saw round 1.
   */
  async setupGames(
    games: number,
    botsPerGame: number,
    via: NodeProcess[],
    botOpts: Partial<BotOptions> | ((seat: number) => Partial<BotOptions>) = {},
  ): Promise<GameSetup[]> {
    const optsOf = typeof botOpts === 'function' ? botOpts : () => botOpts;
    const out: GameSetup[] = [];
    await Promise.all(
      Array.from({ length: games }, async (_, g) => {
        const node = via[g % via.length]!;
        const tag = `${Date.now().toString(36).slice(-4)}${this.names++}`;
        const players = Array.from(
          { length: botsPerGame },
          (_, i) => new Player(node.url, `bot${tag}g${g}p${i}`),
        );
        const code = await openStartedGame(players);
        const rec = await adminGame(node.url, code);
        const bots = players.map(
          (p, seat) =>
            new Bot({
              name: p.username,
              code,
              player: p,
              playerId: rec.state.players.find((x) => x.name === p.username)!.id,
              gameId: rec.state.id,
              backends: this.backends,
              ...optsOf(seat),
            }),
        );
        out[g] = { code, bots, players };
      }),
    );
    for (const s of out) {
      this.codes.push(s.code);
      this.bots.push(...s.bots);
    }
    for (const b of out.flatMap((s) => s.bots)) b.start();
    await waitFor(
      () => this.bots.every((b) => b.currentRound >= 1),
      15_000,
      'every bot to see round 1',
    );
    return out;
  }

  /** The newest record of `code` among the live (not paused) nodes. */
  async newest(code: string): Promise<AdminRecord> {
    let best: AdminRecord | null = null;
    for (const n of this.live().filter((x) => !this.paused.has(x))) {
      try {
        const r = await adminGame(n.url, code);
        if (
          !best ||
          r.epoch > best.epoch ||
          (r.epoch === best.epoch &&
            (r.owner > best.owner || (r.owner === best.owner && r.seq > best.seq)))
        )
          best = r;
      } catch {
        /* not there */
      }
    }
    if (!best) throw new Error(`no live node has ${code}`);
    return best;
  }

  /** The newest record of every game, once they agree with the logs (`agreedFinals`). */
  finals(
    also?: (finals: Map<string, AdminRecord>) => Promise<boolean>,
    timeoutMs = 10_000,
  ): Promise<Map<string, AdminRecord>> {
    return agreedFinals(
      this.all,
      async () => {
        const m = new Map<string, AdminRecord>();
        for (const c of this.codes) m.set(c, await this.newest(c));
        return m;
      },
      also,
      timeoutMs,
    );
  }

  /** Waits until every game still playing is at least `n` rounds further than now. */
  async roundsPass(n: number, timeoutMs = 20_000): Promise<void> {
    const start = new Map<string, number>();
    for (const c of this.codes) start.set(c, (await this.newest(c)).state.round);
    await waitFor(
      async () => {
        for (const c of this.codes) {
          const r = await this.newest(c);
          if (r.state.status === 'playing' && r.state.round < start.get(c)! + n) return false;
        }
        return true;
      },
      timeoutMs,
      `${n} more rounds in every game`,
      100,
    );
  }

  /**
   * Waits for a round of `code` that starts from now on and still has at least `minLeftMs`
   * before its deadline; returns its record.
   */
  async freshRound(code: string, minLeftMs: number, timeoutMs = 20_000): Promise<AdminRecord> {
    const from = (await this.newest(code)).state.round;
    return waitFor(
      async () => {
        const r = await this.newest(code);
        return r.state.status === 'playing' &&
          r.state.round > from &&
          (r.state.deadline ?? 0) - Date.now() >= minLeftMs
          ? r
          : false;
      },
      timeoutMs,
      `a fresh round of ${code} with ${minLeftMs} ms left`,
      30,
    );
  }

  /** Stops bots and the sampler and waits until the replicas settle on one version per game. */
  async quiesce(): Promise<void> {
    for (const b of this.bots) b.stop();
    this.sampler.stop();
    await new Promise((r) => setTimeout(r, 300));
    await this.sampler.once();
  }

  /** The last `n` warnings and errors of every node's log, for failure messages. */
  warnings(n = 12): string {
    return this.tail(n, /"level":"(warn|error|fatal)"/);
  }

  /**
   * Writes every node's whole log (debug lines included: each round's resolution, each write
   * confirmed) to test-results/NAME/NODE.log, for a failure to be read after the run; returns
   * the folder.
   */
  saveLogs(name: string): string {
    const dir = join(ROOT, 'test-results', name);
    mkdirSync(dir, { recursive: true });
    // A node started again with the same id (a restart) gets its own file: NODE.2.log, …
    const seen = new Map<string, number>();
    for (const p of this.all) {
      const id = p.opts.nodeId ?? p.opts.host;
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      writeFileSync(join(dir, `${id}${n > 1 ? `.${n}` : ''}.log`), p.raw.join('\n') + '\n');
    }
    return dir;
  }

  /** The last lines of every node's log, for failure messages. */
  tail(n = 40, re?: RegExp): string {
    return this.all
      .map(
        (p) =>
          `── ${p.opts.nodeId} (${p.opts.host}) ${p.alive ? 'alive' : `exited ${p.exitCode ?? p.exitSignal}`}\n${p.raw
            .filter((l) => !re || re.test(l))
            .slice(-n)
            .join('\n')}`,
      )
      .join('\n');
  }

  /**
   * SIGSTOPs `node` (and counts it paused) at a moment it holds no write lock on the nodes'
   * shared SQLite file: a node frozen in the middle of a write stops every node's writes until
   * it runs again, so no peer can claim its games. That case has a test of its own
   * (test/redeploy/locked-database.test.ts); the tests of a frozen node are about the rest.
   */
  async freeze(node: NodeProcess): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      node.signal('SIGSTOP');
      if (this.env.DATABASE_URL !== undefined || this.fileWritable()) break;
      node.signal('SIGCONT');
      if (attempt === 50)
        throw new Error(`${node.opts.nodeId} held the database's write lock at 50 stops`);
      await new Promise((r) => setTimeout(r, 2));
    }
    this.paused.add(node);
  }

  /** True if the SQLite file's write lock can be taken now (waiting a moment for a live node). */
  private fileWritable(): boolean {
    this.probe ??= new Database(this.dbPath, { timeout: 20, fileMustExist: true });
    try {
      this.probe.exec('begin immediate');
      this.probe.exec('rollback');
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.probe?.close();
    for (const b of this.bots) b.stop();
    this.sampler.stop();
    for (const n of this.paused) n.signal('SIGCONT');
    await Promise.all(this.all.map((n) => n.kill()));
    await this.dns.close();
  }
}
