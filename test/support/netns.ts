// Test hosts on one machine: each a Linux network namespace with an address of its own on a
// bridge (veth pairs into a "switch" namespace), like containers on different machines of one
// network. The test process itself joins the bridge from the root namespace (the operator's
// machine, and the players' addresses). Processes are started in a host the way the image
// starts them: tini as PID 1 of a PID namespace of their own, as an unprivileged user. The
// links between hosts can be cut, partitioned, or made slow and lossy.
//
// Every namespace and link is named with a per-run prefix (mh + 4 hex digits) and removed by
// close(), on exit, and at the next run's start if a run died without cleaning up (a marker
// file in /run/minotaur-netns names each run's owner process). Traffic stays inside these
// namespaces and the root side of the bridge link: 198.18.X.0/24 (RFC 2544's range for
// network tests), X chosen per run.
//
// Latency and loss: `tc qdisc … netem` where the kernel has sch_netem; otherwise (the kernels
// this project is tested on lack it) iptables sends each host's outgoing packets to an NFQUEUE
// that test/support/netem-queue.py holds for the delay and drops at the loss rate.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Launcher } from './node-process.js';

const MARKERS = '/run/minotaur-netns';
const PREFIX_RE = /^mh[0-9a-f]{4}$/;
const NETEM_QUEUE = fileURLToPath(new URL('./netem-queue.py', import.meta.url));
const QUEUE_NUM = 7;

function run(argv: string[], opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (!opts.allowFail && (r.error || r.status !== 0))
    throw new Error(`${argv.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
  // null when the command could not be started (its typings say it is always a string).
  const stdout = r.stdout as string | null;
  return stdout ?? '';
}

/** Why this machine cannot run test hosts, or null when it can. */
export function hostsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'test hosts need Linux network namespaces';
  if (process.getuid?.() !== 0) {
    return 'test hosts need root: creating network namespaces, veth links and iptables rules needs CAP_NET_ADMIN (CI runs as root; run `sudo npm test`, or `sudo npm run rehearsal -- --hosts`)';
  }
  const missing = ['ip', 'iptables', 'tini', 'unshare', 'setpriv', 'python3'].filter(
    (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0,
  );
  if (missing.length)
    return `test hosts need ${missing.join(', ')}: run \`bash scripts/ensure-debian.sh\` (Debian packages iproute2, iptables, tini, util-linux, python3)`;
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process in a namespace (by pid) and deletes it. */
function removeNamespace(ns: string): void {
  for (const pid of run(['ip', 'netns', 'pids', ns], { allowFail: true })
    .split('\n')
    .filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  run(['ip', 'netns', 'del', ns], { allowFail: true });
}

function removeRun(prefix: string): void {
  for (const ns of run(['ip', 'netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')) {
    if (ns.startsWith(`${prefix}-`)) removeNamespace(ns);
  }
  run(['ip', 'link', 'del', `${prefix}r`], { allowFail: true });
  rmSync(join(MARKERS, prefix), { force: true });
}

/** Removes what earlier runs left behind (their owner process is gone). */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  const live = new Set<string>();
  if (existsSync(MARKERS)) {
    for (const prefix of readdirSync(MARKERS).filter((p) => PREFIX_RE.test(p))) {
      const owner = Number(readFileSync(join(MARKERS, prefix), 'utf8').trim());
      if (owner && pidAlive(owner)) live.add(prefix);
    }
  }
  const seen = new Set<string>();
  for (const ns of run(['ip', 'netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')) {
    const prefix = ns.split('-')[0] ?? '';
    if (PREFIX_RE.test(prefix) && !live.has(prefix)) seen.add(prefix);
  }
  for (const link of run(['ip', '-o', 'link', 'show'], { allowFail: true }).matchAll(
    /^\d+: (mh[0-9a-f]{4})r[@:]/gm,
  )) {
    if (!live.has(link[1]!)) seen.add(link[1]!);
  }
  if (existsSync(MARKERS))
    for (const prefix of readdirSync(MARKERS).filter((p) => PREFIX_RE.test(p) && !live.has(p)))
      seen.add(prefix);
  for (const prefix of seen) {
    removeRun(prefix);
    removed.push(prefix);
  }
  return removed;
}

export interface Host {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  /** Runs a command in this host: ['ip', 'netns', 'exec', ns]. */
  readonly prefix: string[];
}

export interface Impairment {
  delayMs: number;
  jitterMs: number;
  lossPct: number;
}

export class HostNetwork {
  readonly hosts = new Map<string, Host>();
  /** The root namespace's address on the bridge (the operator's machine). */
  readonly gateway: string;
  private readonly links = new Map<string, string>();
  private readonly delayers = new Map<string, ChildProcess>();
  private players = 0;
  private closed = false;
  private readonly onExit = () => this.close();

  private constructor(
    readonly id: string,
    /** First three octets of this run's /24. */
    readonly net: string,
  ) {
    this.gateway = `${net}.254`;
  }

  /** The /24 of this run, e.g. 198.18.37.0/24. */
  get subnet(): string {
    return `${this.net}.0/24`;
  }

  /** Hosts are .1–.127 (what impairments and partitions act on); players and the operator above. */
  get hostRange(): string {
    return `${this.net}.0/25`;
  }

  static create(): HostNetwork {
    const why = hostsUnavailable();
    if (why) throw new Error(why);
    removeLeftovers();
    const used = run(['ip', '-4', 'route', 'show'], { allowFail: true });
    let net = '';
    for (let i = 0; i < 50 && !net; i++) {
      const candidate = `198.18.${1 + Math.floor(Math.random() * 250)}`;
      if (!used.includes(`${candidate}.`)) net = candidate;
    }
    if (!net) throw new Error('no free 198.18.X.0/24 for the test hosts');
    const id = `mh${randomBytes(2).toString('hex')}`;
    mkdirSync(MARKERS, { recursive: true });
    writeFileSync(join(MARKERS, id), `${process.pid}\n`);
    const network = new HostNetwork(id, net);
    process.once('exit', network.onExit);
    try {
      const sw = `${id}-sw`;
      run(['ip', 'netns', 'add', sw]);
      run(['ip', '-n', sw, 'link', 'set', 'lo', 'up']);
      run(['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      run(['ip', '-n', sw, 'link', 'set', 'br0', 'up']);
      run(['ip', 'link', 'add', `${id}r`, 'type', 'veth', 'peer', 'name', `${id}rs`, 'netns', sw]);
      run(['ip', '-n', sw, 'link', 'set', `${id}rs`, 'master', 'br0', 'up']);
      run(['ip', 'addr', 'add', `${network.gateway}/24`, 'dev', `${id}r`]);
      run(['ip', 'link', 'set', `${id}r`, 'up']);
    } catch (err) {
      network.close();
      throw err;
    }
    return network;
  }

  /** A new host on the bridge at .n of this run's /24 (1–127). */
  addHost(name: string, n: number): Host {
    if (!/^[a-z0-9]{1,8}$/.test(name))
      throw new Error(`host name ${name}: 1–8 lower-case letters or digits`);
    if (!Number.isInteger(n) || n < 1 || n > 127) throw new Error(`host number ${n}: 1–127`);
    const ns = `${this.id}-${name}`;
    const link = `${this.id}h${n}`;
    const sw = `${this.id}-sw`;
    const address = `${this.net}.${n}`;
    run(['ip', 'netns', 'add', ns]);
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', sw, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run(['ip', '-n', sw, 'link', 'set', link, 'master', 'br0', 'up']);
    run(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    // Partition rules live in a chain of their own, emptied to heal.
    run(['ip', 'netns', 'exec', ns, 'iptables', '-N', 'MINOTAUR-CUT']);
    run(['ip', 'netns', 'exec', ns, 'iptables', '-I', 'INPUT', '-j', 'MINOTAUR-CUT']);
    run(['ip', 'netns', 'exec', ns, 'iptables', '-I', 'OUTPUT', '-j', 'MINOTAUR-CUT']);
    const host: Host = { name, ns, address, prefix: ['ip', 'netns', 'exec', ns] };
    this.hosts.set(name, host);
    this.links.set(name, link);
    return host;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /**
   * A new address of the operator's machine for one player (players on the internet each have their
   * own).
   */
  playerAddress(): string {
    if (this.players >= 100) throw new Error('at most 100 player addresses');
    const address = `${this.net}.${150 + this.players++}`;
    run(['ip', 'addr', 'add', `${address}/32`, 'dev', `${this.id}r`]);
    return address;
  }

  /**
   * Starts a program in `host` as a container's entry point: tini as PID 1 of a new PID
   * namespace, everything as `user` (default nobody). Signals go to tini, which forwards them.
   */
  launcher(host: Host, user = 'nobody'): Launcher {
    return {
      argv: (...command: string[]) => [
        ...host.prefix,
        'unshare',
        '--pid',
        '--fork',
        '--mount-proc',
        '--kill-child=SIGKILL',
        'setpriv',
        `--reuid=${user}`,
        `--regid=${user === 'nobody' ? 'nogroup' : user}`,
        '--clear-groups',
        '--',
        'tini',
        '--',
        ...command,
      ],
      signal: (child: ChildProcess, sig: NodeJS.Signals) => {
        const init = child.pid ? childrenOf(child.pid)[0] : undefined;
        try {
          if (init) process.kill(init, sig);
          else child.kill(sig);
        } catch {
          /* already gone */
        }
      },
    };
  }

  /** Loss of a whole host: every process in it killed, its link cut. */
  loseHost(name: string): void {
    this.cut(name);
    for (const pid of run(['ip', 'netns', 'pids', this.host(name).ns], { allowFail: true })
      .split('\n')
      .filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Takes a host's link down (its cable pulled); restore() puts it back. */
  cut(name: string): void {
    run(['ip', '-n', `${this.id}-sw`, 'link', 'set', this.links.get(name)!, 'down']);
  }

  restore(name: string): void {
    run(['ip', '-n', `${this.id}-sw`, 'link', 'set', this.links.get(name)!, 'up']);
  }

  /** Drops every packet between the two groups of hosts (silently, as a broken network does). */
  partition(a: string[], b: string[]): void {
    for (const [side, other] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const name of side) {
        const ns = this.host(name).ns;
        for (const peer of other) {
          const address = this.host(peer).address;
          for (const way of ['-s', '-d'])
            run([
              'ip',
              'netns',
              'exec',
              ns,
              'iptables',
              '-A',
              'MINOTAUR-CUT',
              way,
              address,
              '-j',
              'DROP',
            ]);
        }
      }
    }
  }

  heal(): void {
    for (const host of this.hosts.values())
      run(['ip', 'netns', 'exec', host.ns, 'iptables', '-F', 'MINOTAUR-CUT'], { allowFail: true });
  }

  /**
   * Whether the kernel has sch_netem (most distributions' kernels do; minimal VM kernels often
   * not).
   */
  static hasNetem(): boolean {
    return existsSync('/proc/config.gz')
      ? /CONFIG_NET_SCH_NETEM=[ym]/.test(
          spawnSync('sh', ['-c', 'zcat /proc/config.gz'], { encoding: 'utf8' }).stdout,
        )
      : existsSync('/sys/module/sch_netem');
  }

  /**
   * Latency, jitter and loss on every packet one host sends to another (so each direction of a
   * link is delayed once, as `tc qdisc add dev eth0 root netem delay 50ms 10ms loss 1%` on every
   * host does). Traffic to the operator's machine and the players is left alone.
   */
  async impair(names: string[], how: Impairment): Promise<'netem' | 'nfqueue'> {
    const netem = HostNetwork.hasNetem();
    for (const name of names) {
      const host = this.host(name);
      if (netem) {
        run([
          ...host.prefix,
          'tc',
          'qdisc',
          'replace',
          'dev',
          'eth0',
          'root',
          'netem',
          'delay',
          `${how.delayMs}ms`,
          `${how.jitterMs}ms`,
          'loss',
          `${how.lossPct}%`,
        ]);
        continue;
      }
      const child = spawn(
        host.prefix[0]!,
        [
          ...host.prefix.slice(1),
          'python3',
          NETEM_QUEUE,
          '--queue',
          String(QUEUE_NUM),
          '--delay',
          String(how.delayMs),
          '--jitter',
          String(how.jitterMs),
          '--loss',
          String(how.lossPct),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.delayers.set(name, child);
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) resolve();
        });
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.once('exit', (code) =>
          reject(new Error(`netem-queue.py in ${name} exited ${code}: ${out}`)),
        );
      });
      run([
        ...host.prefix,
        'iptables',
        '-A',
        'OUTPUT',
        '-d',
        this.hostRange,
        '-j',
        'NFQUEUE',
        '--queue-num',
        String(QUEUE_NUM),
        '--queue-bypass',
      ]);
    }
    return netem ? 'netem' : 'nfqueue';
  }

  /** Ends every impairment; returns how many packets each delayer passed and dropped. */
  async unimpair(): Promise<{ accepted: number; dropped: number }> {
    const totals = { accepted: 0, dropped: 0 };
    for (const host of this.hosts.values()) {
      run([...host.prefix, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], { allowFail: true });
      run(
        [
          ...host.prefix,
          'iptables',
          '-D',
          'OUTPUT',
          '-d',
          this.hostRange,
          '-j',
          'NFQUEUE',
          '--queue-num',
          String(QUEUE_NUM),
          '--queue-bypass',
        ],
        { allowFail: true },
      );
    }
    for (const [name, child] of this.delayers) {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
      const m = /accepted (\d+) dropped (\d+)/.exec(out);
      if (m) {
        totals.accepted += Number(m[1]);
        totals.dropped += Number(m[2]);
      }
      this.delayers.delete(name);
    }
    return totals;
  }

  /** Kills every process in every host, removes the namespaces and links. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    for (const child of this.delayers.values()) child.kill('SIGKILL');
    removeRun(this.id);
  }
}

/** Pids whose parent is `pid` (an unshare's forked init). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}
