// A private PostgreSQL server for tests: Debian's postgresql binaries (initdb, pg_ctl) run as
// the `postgres` user when the tests run as root, a cluster in a temp folder, listening on
// 127.0.0.1 only, on a free port, with a password. Stopped and removed by stop(), and on exit.
// Databases made by createDatabase() belong to an ordinary role (`minotaur`), as in production,
// not to the superuser.
//
// The cluster's default collation is ICU en-US, not C, so tests notice any comparison that
// depends on the server's collation (node ids must compare byte-wise, as in JavaScript).

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './node-process.js';

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** URL of a database on this server (default: the `postgres` maintenance database). */
  url(database?: string): string;
  /**
   * Creates an empty database with a fresh name, owned by the role `minotaur`, and returns its URL
   * (as that role).
   */
  createDatabase(prefix?: string): Promise<string>;
  /** Starts the server again after stop({ keep: true }) (same port, same data). */
  restart(): void;
  /**
   * Stops the server; keep: true leaves its data for restart() (a database that goes away).
   * crash: true kills it without a clean shutdown (what a lost host looks like to clients).
   */
  stop(opts?: { keep?: boolean; crash?: boolean }): void;
  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) every process of the server: connections stay open but
   * nothing answers, like a database behind a link that drops packets.
   */
  pause(): void;
  resume(): void;
  /** The server's own log, for failure messages. */
  log(): string;
}

/** initdb and pg_ctl: Debian keeps them in /usr/lib/postgresql/<version>/bin, off the PATH. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

function systemUser(name: string): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd file */
  }
  return null;
}

const servers = new Set<PostgresServer>();
process.once('exit', () => {
  for (const s of servers) s.stop();
});

export interface PostgresOptions {
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Runs the server's commands under this prefix, e.g. ['ip', 'netns', 'exec', NS] (a host of its
   * own).
   */
  prefix?: string[];
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin)
    throw new Error(
      'PostgreSQL is not installed: run `bash scripts/ensure-debian.sh` (apt-get install -y postgresql)',
    );
  const root = process.getuid?.() === 0;
  const owner = root ? systemUser('postgres') : null;
  if (root && !owner)
    throw new Error(
      "running as root but there is no `postgres` user (Debian's postgresql package creates it)",
    );

  const dir = mkdtempSync(join(tmpdir(), 'minotaur-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pw');
  const password = randomBytes(12).toString('hex');
  writeFileSync(pwFile, password + '\n');
  writeFileSync(logFile, '');
  if (owner) {
    for (const p of [dir, pwFile, logFile]) chownSync(p, owner.uid, owner.gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) => {
    const full = join(bin, cmd);
    const argv = [
      ...(opts.prefix ?? []),
      ...(owner ? ['runuser', '-u', 'postgres', '--', full] : [full]),
      ...args,
    ];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}\n${safeRead(logFile)}`);
    return r.stdout;
  };

  run('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--pwfile',
    pwFile,
    '--auth',
    'scram-sha-256',
    '-E',
    'UTF8',
    '--locale',
    'C.UTF-8',
    '--locale-provider',
    'icu',
    '--icu-locale',
    'en-US',
    '--no-sync',
  ]);
  rmSync(pwFile);
  const host = opts.host ?? '127.0.0.1';
  // initdb admits local connections only; a server on a test host admits that host's network
  // (its namespace is reachable from nowhere else), still with a password.
  if (host !== '127.0.0.1')
    appendFileSync(
      join(data, 'pg_hba.conf'),
      `host all all ${host.replace(/\.\d+$/, '.0')}/24 scram-sha-256\n`,
    );
  const port = opts.port ?? (await freePort(['127.0.0.1']));
  const serverOptions = [
    `-c listen_addresses=${host}`,
    `-c port=${port}`,
    `-c unix_socket_directories='${dir}'`,
    // Faster on a shared test machine; a server process that dies still loses nothing committed
    // (only a crash of the whole machine would).
    '-c fsync=off',
    '-c max_connections=200',
    '-c shared_buffers=32MB',
  ].join(' ');
  let running = false;
  const start = () => {
    run('pg_ctl', ['-D', data, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
    running = true;
  };
  start();
  const admin = new pg.Client({
    connectionString: `postgres://postgres:${password}@${host}:${port}/postgres`,
  });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE minotaur LOGIN PASSWORD '${password}'`);
  } finally {
    await admin.end();
  }

  const url = (database = 'postgres') =>
    `postgres://postgres:${password}@${host}:${port}/${database}`;
  let n = 0;
  const server: PostgresServer = {
    host,
    port,
    user: 'postgres',
    password,
    url,
    async createDatabase(prefix = 'test') {
      const name = `${prefix}_${process.pid}_${++n}_${randomBytes(3).toString('hex')}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}" OWNER minotaur`);
      } finally {
        await client.end();
      }
      return `postgres://minotaur:${password}@${host}:${port}/${name}`;
    },
    restart() {
      if (!running) start();
    },
    stop(o = {}) {
      signalAll('SIGCONT');
      if (running) {
        try {
          run('pg_ctl', [
            '-D',
            data,
            '-m',
            o.crash || !o.keep ? 'immediate' : 'fast',
            '-w',
            'stop',
          ]);
        } catch {
          /* already gone */
        }
        running = false;
      }
      if (!o.keep) {
        servers.delete(server);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    pause: () => signalAll('SIGSTOP'),
    resume: () => signalAll('SIGCONT'),
    log: () => safeRead(logFile),
  };
  /** The postmaster (first line of postmaster.pid) and its children, found by parent pid. */
  function signalAll(signal: NodeJS.Signals): void {
    const postmaster = Number(safeRead(join(data, 'postmaster.pid')).split('\n')[0]);
    if (!postmaster) return;
    const pids = [postmaster];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = safeRead(join('/proc', entry, 'stat'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    }
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  servers.add(server);
  return server;
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
