// Reads the environment once, validates it, and returns a typed, frozen configuration.
// This is the only module that looks at process.env.

import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { parseSubnet } from './cluster/advertise.js';

/** Which messages of players' live sockets are compressed (web/live-wire.ts). */
export type LiveCompression = 'off' | 'large' | 'on';

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$/;

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

function checkDatabaseUrl(value: string, ctx: z.RefinementCtx): void {
  const example = 'e.g. postgres://minotaur:secret@db.internal:5432/minotaur';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be a postgres:// URL, ${example}` });
    return;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue({
      code: 'custom',
      message: `must start with postgres:// or postgresql:// (got ${url.protocol}//), ${example}`,
    });
  } else if (!url.hostname && !url.searchParams.get('host')) {
    ctx.addIssue({ code: 'custom', message: `names no host, ${example}` });
  }
}

/**
 * Secrets an orchestrator mounts as files (Docker and Kubernetes secrets): NAME_FILE names a
 * file whose content is NAME's value, so the value never sits in the environment.
 */
export const FILE_VARIABLES = [
  'SECRET_KEY_BASE',
  'CLUSTER_SECRET',
  'DATABASE_URL',
  'ADMIN_TOKEN',
] as const;

const filePath = z.string().min(1).optional();

/** What SHUTDOWN_TIMEOUT_MS less DRAIN_WINDOW_MS must leave: 2.5 s to stop, 0.5 s to hand over. */
const STOP_RESERVE_MS = 3000;

/**
 * A number written in digits (`10`, `2.5`). z.coerce.number() would read '' and ' ' as 0 (an
 * empty PORT listened on a random port), and '0x10' or '1e3' as numbers.
 */
const digits = () =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number written in digits, such as 10 or 2.5')
    .transform(Number);
/** A whole number written in digits. */
const whole = () => digits().pipe(z.number().int('must be a whole number'));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: whole().pipe(z.number().min(0).max(65535)).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /**
   * Address peers reach this node at, or the subnet (a.b.c.d/n) of the interface to advertise;
   * default: HOST, or the interface address the cluster's DNS name lists.
   */
  ADVERTISE_ADDRESS: z
    .string()
    .regex(
      /^[A-Za-z0-9.:[\]-]+(\/\d{1,2})?$/,
      'must be an address, a host name, or an IPv4 subnet such as 10.0.9.0/24',
    )
    .optional(),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, dot, dash or underscore, at most 64')
    .optional(),
  SECRET_KEY_BASE: z.string().min(32, 'must be at least 32 characters').optional(),
  DATABASE_PATH: z.string().min(1).default('./data/minotaur.db'),
  /** PostgreSQL instead of SQLite (a cluster across hosts). Empty counts as unset. */
  DATABASE_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().superRefine(checkDatabaseUrl).optional(),
  ),
  DATABASE_POOL_MAX: whole().pipe(z.number().min(1).max(200)).default(10),
  /**
   * SQLite: whether each commit waits for the disk (full) or only each checkpoint, about once a
   * second (normal). See docs/storage.md for what a power cut may cost with normal.
   */
  SQLITE_SYNCHRONOUS: z.enum(['normal', 'full']).default('normal'),
  DNS_CLUSTER_QUERY: z
    .string()
    .max(253, 'a DNS name has at most 253 characters')
    .regex(
      /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$/,
      'must be a DNS name, e.g. tasks.minotaur_minotaur (labels of letters, digits, - and _)',
    )
    .optional(),
  DNS_CLUSTER_RESOLVER: z
    .string()
    .regex(hostPort, 'must be host:port, e.g. 127.0.0.1:5353')
    .refine((v) => {
      const port = Number(v.slice(v.lastIndexOf(':') + 1));
      return port >= 1 && port <= 65535;
    }, 'its port must be between 1 and 65535')
    .optional(),
  DNS_POLL_MS: whole().pipe(z.number().min(100).max(600_000)).default(5000),
  CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  HEARTBEAT_MS: whole().pipe(z.number().min(50).max(10_000)).default(500),
  PEER_DOWN_MS: whole()
    .pipe(z.number().min(1000, 'must be at least 1000 ms').max(60_000))
    .default(3000),
  ROUND_SECONDS: digits().pipe(z.number().min(1).max(600)).default(10),
  /** How long a finished game stays on its players' screens before the node drops it. */
  FINISHED_GAME_SECONDS: whole().pipe(z.number().min(5).max(86_400)).default(300),
  /** How long a draining node keeps serving requests that still reach it before it exits. */
  DRAIN_WINDOW_MS: whole().pipe(z.number().min(0).max(120_000)).default(2000),
  /** Hard limit for the whole shutdown; must fit inside the orchestrator's stop grace period. */
  SHUTDOWN_TIMEOUT_MS: whole().pipe(z.number().min(1000).max(300_000)).default(8000),
  /** No longer read (operator rights are granted with `npm run admin`); only warned about. */
  ADMIN_USERS: z.string().optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Comma-separated origins allowed to open WebSockets, in addition to the page's own host. */
  ALLOWED_ORIGINS: z.string().optional(),
  TRUST_PROXY: z.string().optional(),
  COOKIE_SECURE: bool.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * scrypt cost exponent; the default 17 (N=131072) is OWASP's recommendation. Only tests lower it.
   */
  PASSWORD_COST: whole().pipe(z.number().min(10).max(20)).default(17),
  LOGIN_RATE_LIMIT: whole().pipe(z.number().min(1).max(10_000)).default(10),
  /** Logins, sign-ups and password changes in progress at once from one address, per node. */
  PASSWORD_CHECKS_PER_ADDRESS: whole().pipe(z.number().min(1).max(10_000)).default(8),
  /** Games an account may have created and not yet finished (open or playing). */
  OPEN_GAMES_PER_ACCOUNT: whole().pipe(z.number().min(1).max(1000)).default(3),
  /** Games an account may create per hour. */
  GAMES_PER_HOUR: whole().pipe(z.number().min(1).max(10_000)).default(20),
  /** Live sockets (open pages) one account may hold on one node. */
  SOCKETS_PER_ACCOUNT: whole().pipe(z.number().min(1).max(1000)).default(8),
  /**
   * How often a node checks that the sessions its open live pages were opened with still exist
   * (ended by a password change, a logout or their expiry: the page is sent to reconnect).
   */
  SESSION_CHECK_MS: whole().pipe(z.number().min(1000).max(3_600_000)).default(30_000),
  /**
   * Days a finished game keeps its final board for its page (1 KB or so a game); after that its
   * page shows its result only. 0 keeps every board.
   */
  FINAL_STATE_DAYS: whole().pipe(z.number().min(0).max(36_500)).default(90),
  /**
   * permessage-deflate on players' live sockets: `large` messages only (1 KiB and more, no zlib
   * state kept), every message `on`, or `off` (web/live-wire.ts; costs in docs/benchmarks.md).
   */
  LIVE_COMPRESSION: z.enum(['off', 'large', 'on']).default('large'),
  SECRET_KEY_BASE_FILE: filePath,
  CLUSTER_SECRET_FILE: filePath,
  DATABASE_URL_FILE: filePath,
  ADMIN_TOKEN_FILE: filePath,
});

/** Every environment variable the node reads (the README's configuration table lists them all). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /**
   * Address peers reach this node at; null means "work it out at start" (see cluster/advertise).
   */
  advertiseHost: string | null;
  /** The subnet whose local address to advertise (ADVERTISE_ADDRESS=a.b.c.d/n), or null. */
  advertiseSubnet: string | null;
  nodeId: string;
  secretKeyBase: string;
  /** SQLite file; used when `database` is SQLite. */
  databasePath: string;
  /**
   * Where accounts, sessions, results and snapshots live: DATABASE_URL if set, else DATABASE_PATH.
   */
  database: { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };
  databasePoolMax: number;
  /** SQLite: commits wait for the disk ('full') or only checkpoints do ('normal'). */
  sqliteSynchronous: 'normal' | 'full';
  dataDir: string;
  cluster: {
    query: string | null;
    resolver: string | null;
    pollMs: number;
    secret: string | null;
    heartbeatMs: number;
    peerDownMs: number;
  };
  roundMs: number;
  /** How long a finished game stays in the replica (its winner screen) before it is dropped. */
  finishedRetentionMs: number;
  drainWindowMs: number;
  shutdownTimeoutMs: number;
  adminToken: string | null;
  allowedOrigins: string[];
  /** Express `trust proxy`: false, true, a hop count, or addresses/subnets (validated). */
  trustProxy: TrustProxy;
  cookieSecure: boolean;
  logLevel: string;
  passwordCost: number;
  loginRateLimit: number;
  /** Requests that check a password in progress at once from one client address (per node). */
  passwordChecksPerAddress: number;
  limits: {
    openGamesPerAccount: number;
    gamesPerHour: number;
    socketsPerAccount: number;
  };
  /** Which messages of players' live sockets are compressed (if a page offers the extension). */
  liveCompression: LiveCompression;
  /** How often the sessions of open live pages are checked (ms). */
  sessionCheckMs: number;
  /** Days finished games keep their final board; 0: forever. */
  finalStateDays: number;
  version: string;
  /** Settings that are accepted but deserve the operator's attention; logged at start. */
  warnings: string[];
}

export type TrustProxy = boolean | number | string[];

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** For local use only: a secret generated once and kept beside the database. */
function localSecret(dataDir: string): string {
  const file = join(dataDir, 'secret_key_base');
  try {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, secret + '\n', { mode: 0o600 });
    return secret;
  } catch (err) {
    // The directory of DATABASE_PATH cannot be made or written (a read-only mount, no rights).
    throw invalid(
      'DATABASE_PATH',
      `its directory ${dataDir} must be writable, to keep the node's secret key (${file}) beside the database, or set SECRET_KEY_BASE: ${(err as Error).message}`,
    );
  }
}

/**
 * ALLOWED_ORIGINS as the origins a browser sends (`Origin`: scheme, host and port, lower case,
 * no default port, no path). An entry written with a trailing slash or in capitals still
 * matches; one that is not an http(s) origin at all (no scheme, a path, `*`) is refused, where
 * it would otherwise never match and every socket from it would be turned away.
 */
function parseOrigins(value: string | undefined): string[] {
  const origins: string[] = [];
  for (const entry of (value ?? '').split(',').map((s) => s.trim())) {
    if (!entry) continue;
    let url: URL | null;
    try {
      url = new URL(entry);
    } catch {
      url = null;
    }
    // scheme://host[:port] and at most a slash; a user (user@host) is no part of an origin.
    if (!url || url.username || url.password || !/^https?:\/\/[^/?#]+\/?$/i.test(entry))
      throw invalid(
        'ALLOWED_ORIGINS',
        `"${entry}" is not an origin: write each as scheme://host[:port], such as https://play.example.com, separated by commas`,
      );
    origins.push(url.origin);
  }
  return origins;
}

function invalid(variable: string, message: string): ConfigError {
  return new ConfigError(`invalid configuration:\n  ${variable}: ${message}`);
}

/**
 * TRUST_PROXY as Express documents `trust proxy`: `true`/`false`, a number of hops between the
 * node and the client, or a comma-separated list of addresses, subnets and the names
 * loopback, linklocal, uniquelocal. A bare number is a hop count: Express would otherwise read
 * the string "1" as the address 0.0.0.1 and trust no proxy at all.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (!Number.isSafeInteger(hops) || hops > 100)
      throw invalid('TRUST_PROXY', `${value} hops is not a plausible number of proxies`);
    return hops === 0 ? false : hops;
  }
  const list = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  try {
    proxyaddr.compile(list);
  } catch (err) {
    throw invalid(
      'TRUST_PROXY',
      `${(err as Error).message}; expected true, false, a hop count (e.g. 1) or addresses/subnets (e.g. 10.0.0.0/8,loopback)`,
    );
  }
  return list;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const HEX = /^[0-9a-fA-F]+$/;
/** Base64 or hex over several lines, as `openssl rand -base64` wraps it every 64 characters. */
const WRAPPED = /^[A-Za-z0-9+/_=-]+(?:\r?\n[A-Za-z0-9+/_=-]+)*(?:\r?\n)?$/;

/**
 * The secrets whose form is checked (CLUSTER_SECRET, ADMIN_TOKEN), given as the variable or its
 * file, are read without line breaks when they are base64 or hex wrapped over lines
 * (`openssl rand -base64 49` and longer): every node reading the same file gets the same value,
 * and it is the value an operator's tool sends in one header line. Anything else is kept as
 * written. SECRET_KEY_BASE is used as written: it was always accepted with line breaks, and a
 * different key would end every player's session.
 */
const UNWRAPPED = ['CLUSTER_SECRET', 'ADMIN_TOKEN'] as const;

/** `value` without the line breaks of wrapped base64 or hex; anything else unchanged. */
export function unwrapSecret(value: string): string {
  return WRAPPED.test(value) ? value.replace(/\r?\n/g, '') : value;
}

/**
 * A production secret must carry at least `needed` bits: for the cluster secret 256, 43+
 * characters of base64 (e.g. `openssl rand -base64 32`) or 64+ of hex (`openssl rand -hex 32`);
 * for the operators' ADMIN_TOKEN 128. Neither may be a repeated pattern. Returns what is wrong,
 * or null.
 */
export function weakSecret(secret: string, needed = 256): string | null {
  const bytes = needed / 8;
  const advice = `use ${bytes} random bytes, e.g. \`openssl rand -base64 ${bytes}\` (${Math.ceil(bytes / 3) * 4} characters)`;
  const body = secret.replace(/=+$/, '');
  if (!BASE64.test(secret)) return `must be base64 or hex (${advice})`;
  const bits = HEX.test(body) ? body.length * 4 : body.length * 6;
  if (bits < needed)
    return `too short: ${body.length} characters carry at most ${bits} bits, ${needed} needed (${advice})`;
  const counts = new Map<string, number>();
  for (const c of body) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (counts.size < 8 || Math.max(...counts.values()) > body.length / 4)
    return `does not look random (${advice})`;
  return null;
}

/**
 * The environment with every NAME_FILE replaced by NAME = the file's content (one trailing
 * newline dropped, as `echo` and `openssl rand` leave one). Setting both, or a file that cannot
 * be read or is empty, is a configuration error naming the variable.
 */
export function readSecretFiles(
  env: Record<string, string | undefined>,
  names: readonly string[] = FILE_VARIABLES,
): Record<string, string | undefined> {
  const out = { ...env };
  const problems: string[] = [];
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`  ${name}_FILE: set ${name} or ${name}_FILE, not both`);
      continue;
    }
    let value: string;
    try {
      value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(
        `  ${name}_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
      continue;
    }
    if (value.trim() === '') problems.push(`  ${name}_FILE: ${path} is empty`);
    else out[name] = value;
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return out;
}

/**
 * Names other servers use for what one of ours sets: each is ignored here, so a node started
 * with one would quietly run on the default (e.g. DATA_DIR, and the database under ./data).
 */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  DATA_DIR: 'DATABASE_PATH',
  DB_PATH: 'DATABASE_PATH',
  DB_FILE: 'DATABASE_PATH',
  SQLITE_PATH: 'DATABASE_PATH',
  SQLITE_FILE: 'DATABASE_PATH',
  DATABASE_FILE: 'DATABASE_PATH',
  DB_URL: 'DATABASE_URL',
  POSTGRES_URL: 'DATABASE_URL',
  PG_URL: 'DATABASE_URL',
  SESSION_SECRET: 'SECRET_KEY_BASE',
  COOKIE_SECRET: 'SECRET_KEY_BASE',
  TRUSTED_PROXIES: 'TRUST_PROXY',
  LOGLEVEL: 'LOG_LEVEL',
  ADMIN_TOKEN_PATH: 'ADMIN_TOKEN_FILE',
};

/**
 * Warnings for variables the node does not read but an operator may have meant for it: another
 * server's name for one of ours, a near miss of one (two letters at most, in names of six and
 * more, so HOME is not taken for HOST), or _FILE on a setting that is not read from a file.
 */
export function unknownSettings(env: Record<string, string | undefined>): string[] {
  const known = new Set(CONFIG_VARIABLES);
  const names = [...known];
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || env[name] === undefined) continue;
    const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : '';
    if (known.has(base)) {
      warnings.push(
        `${name} is not read: only ${FILE_VARIABLES.join(', ')} can be given as files; set ${base} itself`,
      );
      continue;
    }
    const upper = name.toUpperCase();
    const near = closest(upper, names);
    const meant =
      OTHER_NAMES[upper] ?? (name.length >= 6 && distance(upper, near) <= 2 ? near : undefined);
    if (meant) warnings.push(`${name} is not read by the node: did you mean ${meant}?`);
  }
  return warnings;
}

export function loadConfig(rawEnv: Record<string, string | undefined> = process.env): Config {
  const env = readSecretFiles(rawEnv);
  for (const name of UNWRAPPED) {
    const value = env[name];
    if (value !== undefined) env[name] = unwrapSecret(value);
  }
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw invalidAll(parsed.error);
  }
  const e = parsed.data;
  const dataDir = e.DATABASE_PATH === ':memory:' ? './data' : dirname(e.DATABASE_PATH);
  if (e.NODE_ENV === 'production' && !e.SECRET_KEY_BASE) {
    throw new ConfigError(
      'invalid configuration:\n  SECRET_KEY_BASE: required in production (64 random characters, e.g. `openssl rand -base64 48`)',
    );
  }
  if (e.DNS_CLUSTER_QUERY && !e.CLUSTER_SECRET) {
    throw new ConfigError(
      'invalid configuration:\n  CLUSTER_SECRET: required when DNS_CLUSTER_QUERY is set (nodes authenticate each other with it)',
    );
  }
  checkPasswordCost(e);
  if (e.NODE_ENV === 'production' && e.CLUSTER_SECRET) {
    const weak = weakSecret(e.CLUSTER_SECRET);
    if (weak) throw invalid('CLUSTER_SECRET', weak);
  }
  if (e.NODE_ENV === 'production' && e.ADMIN_TOKEN) {
    // It opens every game's secret moves to whoever holds it, from the players' side of the
    // balancer: no guessable token.
    const weak = weakSecret(e.ADMIN_TOKEN, 128);
    if (weak) throw invalid('ADMIN_TOKEN', weak);
  }
  if (e.DRAIN_WINDOW_MS + STOP_RESERVE_MS > e.SHUTDOWN_TIMEOUT_MS)
    // The stop keeps 2.5 s for itself and gives the handoff what is left after the drain window:
    // a window that takes it all ends every drain at the hard limit, exit 1.
    throw invalid(
      'DRAIN_WINDOW_MS',
      `${e.DRAIN_WINDOW_MS} leaves no time for handing games over within SHUTDOWN_TIMEOUT_MS ${e.SHUTDOWN_TIMEOUT_MS}: keep it at least ${STOP_RESERVE_MS} ms below`,
    );
  if (e.DNS_CLUSTER_QUERY && e.PORT === 0)
    // Peers reach a node at the port it advertises, the same on every node.
    throw invalid(
      'PORT',
      '0 (any free port) cannot be told to the peers of a cluster (DNS_CLUSTER_QUERY): set the port every node listens on',
    );
  if (e.DNS_CLUSTER_QUERY && e.PEER_DOWN_MS <= 2 * e.HEARTBEAT_MS)
    throw invalid(
      'PEER_DOWN_MS',
      `${e.PEER_DOWN_MS} must be more than two heartbeats (HEARTBEAT_MS ${e.HEARTBEAT_MS} × 2 = ${2 * e.HEARTBEAT_MS} ms): a peer would be marked down between two of its heartbeats`,
    );
  const advertiseSubnet = e.ADVERTISE_ADDRESS?.includes('/') ? e.ADVERTISE_ADDRESS : null;
  if (advertiseSubnet && !parseSubnet(advertiseSubnet))
    throw invalid(
      'ADVERTISE_ADDRESS',
      `${advertiseSubnet} is not an IPv4 subnet (e.g. 10.0.9.0/24)`,
    );
  const advertiseHost = advertiseSubnet
    ? null
    : (e.ADVERTISE_ADDRESS ?? (e.HOST === '0.0.0.0' || e.HOST === '::' ? null : e.HOST));
  if (e.DNS_CLUSTER_QUERY && advertiseHost?.includes(':'))
    // Peers are found by their A records and reached at host:port: the mesh speaks IPv4.
    throw invalid(
      e.ADVERTISE_ADDRESS ? 'ADVERTISE_ADDRESS' : 'HOST',
      `${advertiseHost} is an IPv6 address; the cluster's mesh runs over IPv4: advertise an IPv4 address or a host name (ADVERTISE_ADDRESS), or listen on 0.0.0.0`,
    );
  const trustProxy = parseTrustProxy(e.TRUST_PROXY);
  const cookieSecure = e.COOKIE_SECURE ?? e.NODE_ENV === 'production';
  if (e.NODE_ENV === 'production' && cookieSecure && trustProxy === false) {
    // The node speaks plain HTTP: it knows a request came over HTTPS only from the proxy that
    // terminated TLS (X-Forwarded-Proto). Trusting none, it would never set the session cookie.
    throw invalid(
      'TRUST_PROXY',
      'required in production with secure cookies: set it to the number of proxies in front of the node (1 behind HAProxy or an Ingress), or their addresses',
    );
  }
  const warnings = unknownSettings(rawEnv);
  if (e.ADMIN_USERS !== undefined) {
    warnings.push(
      'ADMIN_USERS is no longer read: grant operator rights with `npm run admin -- grant NAME` (a list of names could be claimed by whoever signed up first)',
    );
  }
  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    advertiseHost,
    advertiseSubnet,
    nodeId: e.NODE_ID ?? randomUUID().slice(0, 8),
    secretKeyBase: e.SECRET_KEY_BASE ?? localSecret(dataDir),
    databasePath: e.DATABASE_PATH,
    database: Object.freeze(
      e.DATABASE_URL
        ? { engine: 'postgres' as const, url: e.DATABASE_URL }
        : { engine: 'sqlite' as const, path: e.DATABASE_PATH },
    ),
    databasePoolMax: e.DATABASE_POOL_MAX,
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    dataDir,
    cluster: Object.freeze({
      query: e.DNS_CLUSTER_QUERY ?? null,
      resolver: e.DNS_CLUSTER_RESOLVER ?? null,
      pollMs: e.DNS_POLL_MS,
      secret: e.CLUSTER_SECRET ?? null,
      heartbeatMs: e.HEARTBEAT_MS,
      peerDownMs: e.PEER_DOWN_MS,
    }),
    roundMs: Math.round(e.ROUND_SECONDS * 1000),
    finishedRetentionMs: e.FINISHED_GAME_SECONDS * 1000,
    drainWindowMs: e.DRAIN_WINDOW_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    adminToken: e.ADMIN_TOKEN ?? null,
    allowedOrigins: parseOrigins(e.ALLOWED_ORIGINS),
    trustProxy: Array.isArray(trustProxy)
      ? (Object.freeze([...trustProxy]) as string[])
      : trustProxy,
    cookieSecure,
    logLevel: e.LOG_LEVEL,
    passwordCost: e.PASSWORD_COST,
    loginRateLimit: e.LOGIN_RATE_LIMIT,
    passwordChecksPerAddress: e.PASSWORD_CHECKS_PER_ADDRESS,
    limits: Object.freeze({
      openGamesPerAccount: e.OPEN_GAMES_PER_ACCOUNT,
      gamesPerHour: e.GAMES_PER_HOUR,
      socketsPerAccount: e.SOCKETS_PER_ACCOUNT,
    }),
    liveCompression: e.LIVE_COMPRESSION,
    sessionCheckMs: e.SESSION_CHECK_MS,
    finalStateDays: e.FINAL_STATE_DAYS,
    version: readVersion(),
    warnings,
  });
}

/**
 * For operator commands (`npm run admin`), which run beside the nodes without their secrets:
 * only where the database is (DATABASE_URL, or the SQLite file DATABASE_PATH).
 */
export function loadDatabaseConfig(
  rawEnv: Record<string, string | undefined> = process.env,
): Config['database'] {
  const env = readSecretFiles(rawEnv, ['DATABASE_URL']);
  const parsed = schema.pick({ DATABASE_PATH: true, DATABASE_URL: true }).safeParse(env);
  if (!parsed.success) {
    throw invalidAll(parsed.error);
  }
  const e = parsed.data;
  return e.DATABASE_URL
    ? { engine: 'postgres', url: e.DATABASE_URL }
    : { engine: 'sqlite', path: e.DATABASE_PATH };
}

/** Production never hashes below OWASP's cost. */
function checkPasswordCost(e: { NODE_ENV: string; PASSWORD_COST: number }): void {
  if (e.NODE_ENV === 'production' && e.PASSWORD_COST < 17) {
    throw new ConfigError(
      'invalid configuration:\n  PASSWORD_COST: may not be lowered below 17 (OWASP) in production',
    );
  }
}

/** The scrypt cost exponent alone, validated as the node does (for `npm run admin`). */
export function loadPasswordCost(
  rawEnv: Record<string, string | undefined> = process.env,
): Config['passwordCost'] {
  const parsed = schema.pick({ NODE_ENV: true, PASSWORD_COST: true }).safeParse(rawEnv);
  if (!parsed.success) {
    throw invalidAll(parsed.error);
  }
  checkPasswordCost(parsed.data);
  return parsed.data.PASSWORD_COST;
}

/** A ConfigError naming each variable that failed validation, one per line. */
function invalidAll(error: z.ZodError): ConfigError {
  const lines = error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  return new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
