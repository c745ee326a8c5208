// Real HAProxy in front of test nodes, running deploy/haproxy.cfg unchanged: its environment
// points the listen addresses, the DNS server and the service name at the loopback set-up, and
// HTTPS is terminated with a certificate made here for 127.0.0.1 (openssl), exactly as a
// production balancer terminates TLS for the nodes behind it. Used by the TLS tests and by
// `npm run rehearsal`. Its runtime API (stats socket) is only read.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ROOT, freePort, waitFor } from './node-process.js';

export const HAPROXY_CFG = join(ROOT, 'deploy', 'haproxy.cfg');

/** Debian puts haproxy in /usr/sbin, which a non-root PATH may lack. */
const HAPROXY_BIN =
  spawnSync('haproxy', ['-v']).error && existsSync('/usr/sbin/haproxy')
    ? '/usr/sbin/haproxy'
    : 'haproxy';

/** `haproxy -v`'s first line, or null when HAProxy is not installed. */
export function haproxyVersion(): string | null {
  const hv = spawnSync(HAPROXY_BIN, ['-v'], { encoding: 'utf8' });
  return hv.error || hv.status !== 0 ? null : (hv.stdout.split('\n')[0] ?? 'haproxy');
}

export interface Certificate {
  /** certificate + private key in one PEM file, as HAProxy's `crt` takes it. */
  pemFile: string;
  /** The certificate alone (PEM), for clients to trust. */
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 (and `ips`) and localhost, valid for two days. */
export function selfSignedCertificate(dir: string, ips: string[] = []): Certificate {
  const key = join(dir, 'tls-key.pem');
  const crt = join(dir, 'tls-cert.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=minotaur test',
      '-addext',
      `subjectAltName=${['127.0.0.1', ...ips].map((ip) => `IP:${ip}`).join(',')},DNS:localhost`,
      '-keyout',
      key,
      '-out',
      crt,
    ],
    { encoding: 'utf8' },
  );
  if (made.error || made.status !== 0)
    throw new Error(`openssl could not make a certificate: ${made.error?.message ?? made.stderr}`);
  const cert = readFileSync(crt, 'utf8');
  const pemFile = join(dir, 'haproxy.pem');
  writeFileSync(pemFile, cert + readFileSync(key, 'utf8'), { mode: 0o600 });
  return { pemFile, cert };
}

export interface HaProxyOptions {
  /** Folder for the certificate and the runtime API socket. */
  dir: string;
  /** host:port of the DNS server HAProxy resolves the nodes through. */
  dns: string;
  /** The name whose A records are the nodes. */
  query: string;
  /** The port every node listens on. */
  nodePort: number;
  maxconn?: number;
  /** Address to listen on for players (default 127.0.0.1). */
  host?: string;
  /** Runs HAProxy under this prefix, e.g. ['ip', 'netns', 'exec', NS] (a host of its own). */
  prefix?: string[];
}

export interface LbServer {
  name: string;
  addr: string;
  status: string;
  /** Connections to the server in progress (`scur`). */
  sessions: number;
}

export class HaProxy {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  exited = false;

  private constructor(
    /** https://127.0.0.1:PORT: where players go (TLS terminated here). */
    readonly url: string,
    /** http://127.0.0.1:PORT: plain HTTP, which only redirects to HTTPS. */
    readonly plainUrl: string,
    /** The certificate players must trust. */
    readonly ca: string,
    readonly socket: string,
    env: Record<string, string>,
    prefix: string[] = [],
  ) {
    const argv = [...prefix, HAPROXY_BIN, '-db', '-f', HAPROXY_CFG];
    this.child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.child.on('exit', () => (this.exited = true));
  }

  /** Starts HAProxy and resolves once its runtime API answers. */
  static async start(opts: HaProxyOptions): Promise<HaProxy> {
    const host = opts.host ?? '127.0.0.1';
    const cert = selfSignedCertificate(opts.dir, host === '127.0.0.1' ? [] : [host]);
    const ports = new Set<number>();
    while (ports.size < 3) ports.add(await freePort(['127.0.0.1']));
    const [tlsPort, plainPort, statsPort] = [...ports] as [number, number, number];
    const socket = join(opts.dir, 'haproxy.sock');
    const lb = new HaProxy(
      `https://${host}:${tlsPort}`,
      `http://${host}:${plainPort}`,
      cert.cert,
      socket,
      {
        HAPROXY_TLS_BIND: `${host}:${tlsPort}`,
        HAPROXY_CERT: cert.pemFile,
        HAPROXY_BIND: `${host}:${plainPort}`,
        HAPROXY_MAXCONN: String(opts.maxconn ?? 2000),
        HAPROXY_STATS_BIND: `127.0.0.1:${statsPort}`,
        HAPROXY_ADMIN_SOCKET: socket,
        DNS_NAMESERVER: opts.dns,
        MINOTAUR_DNS: opts.query,
        MINOTAUR_PORT: String(opts.nodePort),
      },
      opts.prefix,
    );
    await waitFor(
      async () => {
        if (lb.exited) throw new Error(`haproxy exited:\n${lb.lines.slice(-20).join('\n')}`);
        return (await lb.command('show info').catch(() => '')).includes('Name: HAProxy');
      },
      10_000,
      'HAProxy to start',
      50,
    );
    return lb;
  }

  /** One command on the runtime API. */
  command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(this.socket);
      let out = '';
      s.setTimeout(2000, () => s.destroy(new Error('stats socket timeout')));
      s.on('connect', () => s.write(`${cmd}\n`));
      s.on('data', (d) => (out += d.toString('utf8')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
  }

  /** The backend's servers as HAProxy sees them (slots without an address left out). */
  async servers(): Promise<LbServer[]> {
    const csv = await this.command('show stat');
    const [head, ...rows] = csv.split('\n').filter(Boolean);
    const cols = (head ?? '').replace(/^# /, '').split(',');
    const at = (name: string) => cols.indexOf(name);
    return rows
      .map((r) => r.split(','))
      .filter(
        (f) =>
          f[at('pxname')] === 'minotaur' &&
          f[at('svname')] !== 'BACKEND' &&
          f[at('svname')] !== 'FRONTEND',
      )
      .map((f) => ({
        name: f[at('svname')]!,
        addr: f[at('addr')] ?? '',
        status: f[at('status')] ?? '',
        sessions: Number(f[at('scur')] ?? 0),
      }))
      .filter((s) => s.addr !== '' && !s.addr.startsWith('0.0.0.0') && !/MAINT/.test(s.status));
  }

  async isUp(address: string): Promise<boolean> {
    return (await this.servers()).some((s) => s.addr === address && s.status === 'UP');
  }

  /** Waits until HAProxy has every one of `addresses` (host:port) UP. */
  async waitUp(addresses: string[], timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        const s = await this.servers().catch(() => []);
        return addresses.every((a) => s.some((x) => x.addr === a && x.status === 'UP'));
      },
      timeoutMs,
      `HAProxy to have ${addresses.join(', ')} UP`,
      100,
    ).catch((e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`${why}\n${this.lines.slice(-20).join('\n')}`);
    });
  }

  /** Status codes of the requests HAProxy logged (option httplog), WebSocket upgrades included. */
  statuses(): { total: number; byStatus: Map<string, number>; bad: string[] } {
    const byStatus = new Map<string, number>();
    const bad: string[] = [];
    let total = 0;
    for (const l of this.lines) {
      const m = /\s-?\d+\/-?\d+\/-?\d+\/-?\d+\/\+?-?\d+\s(-?\d+)\s/.exec(l);
      if (!m) continue;
      total++;
      const st = m[1]!;
      byStatus.set(st, (byStatus.get(st) ?? 0) + 1);
      if (Number(st) >= 500) bad.push(l);
    }
    return { total, byStatus, bad };
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<boolean>((r) => this.child.once('exit', () => r(true)));
    this.child.kill('SIGTERM');
    const late = new Promise<boolean>((r) => setTimeout(() => r(false), 2000));
    if (!(await Promise.race([gone, late]))) this.child.kill('SIGKILL');
  }
}
