import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  loadDatabaseConfig,
  parseTrustProxy,
  weakSecret,
} from '../../src/config.js';

const base = { DATABASE_PATH: ':memory:', SECRET_KEY_BASE: 'x'.repeat(40) };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(4000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.roundMs).toBe(10_000);
    expect(c.finishedRetentionMs).toBe(300_000);
    expect(c.cluster.query).toBeNull();
    expect(c.cluster.peerDownMs).toBe(3000);
    expect(c.passwordCost).toBe(17);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ ...base, PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, DNS_CLUSTER_RESOLVER: 'nonsense' })).toThrow(
      /DNS_CLUSTER_RESOLVER/,
    );
    expect(() => loadConfig({ ...base, ROUND_SECONDS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, FINISHED_GAME_SECONDS: '1' })).toThrow(
      /FINISHED_GAME_SECONDS/,
    );
    expect(loadConfig({ ...base, FINISHED_GAME_SECONDS: '20' }).finishedRetentionMs).toBe(20_000);
  });

  it('reads numbers written in digits only: empty, hexadecimal or exponent values stop the node', () => {
    // An empty PORT used to be read as 0, and the node listened on a random port.
    for (const bad of ['', ' ', '0x10', '1e3', '-1', '4000.5'])
      expect(() => loadConfig({ ...base, PORT: bad }), JSON.stringify(bad)).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, DRAIN_WINDOW_MS: '' })).toThrow(/DRAIN_WINDOW_MS/);
    expect(loadConfig({ ...base, PORT: ' 4100 ' }).port).toBe(4100);
    expect(loadConfig({ ...base, ROUND_SECONDS: '2.5' }).roundMs).toBe(2500);
    expect(() => loadConfig({ ...base, DNS_CLUSTER_RESOLVER: '127.0.0.1:99999' })).toThrow(
      /DNS_CLUSTER_RESOLVER/,
    );
  });

  it('refuses cluster settings the mesh could not run with, naming the variable, before the node starts', () => {
    const clustered = {
      ...base,
      CLUSTER_SECRET: 'x'.repeat(44),
      DNS_CLUSTER_QUERY: 'tasks.minotaur_minotaur',
    };
    expect(() => loadConfig({ ...clustered, PEER_DOWN_MS: '1000', HEARTBEAT_MS: '500' })).toThrow(
      /PEER_DOWN_MS: 1000 must be more than two heartbeats \(HEARTBEAT_MS 500/,
    );
    expect(
      loadConfig({ ...clustered, PEER_DOWN_MS: '1001', HEARTBEAT_MS: '500' }).cluster,
    ).toMatchObject({ peerDownMs: 1001, heartbeatMs: 500 });
    // Alone, the node runs no mesh: the two are not compared.
    expect(loadConfig({ ...base, PEER_DOWN_MS: '1000', HEARTBEAT_MS: '500' }).port).toBe(4000);
    // But PEER_DOWN_MS is also how long a node's lease lasts: under a second, a node could not
    // renew it in time, and one alone would never resolve a round.
    expect(() => loadConfig({ ...base, PEER_DOWN_MS: '999' })).toThrow(
      /PEER_DOWN_MS.*must be at least 1000 ms/,
    );
    expect(() => loadConfig({ ...clustered, PORT: '0' })).toThrow(/PORT: 0 \(any free port\)/);
    expect(loadConfig({ ...base, PORT: '0' }).port).toBe(0);
    for (const resolver of ['127.0.0.1:0', '[::1]:0'])
      expect(() => loadConfig({ ...clustered, DNS_CLUSTER_RESOLVER: resolver })).toThrow(
        /DNS_CLUSTER_RESOLVER/,
      );
    expect(loadConfig({ ...clustered, DNS_CLUSTER_RESOLVER: '127.0.0.1:1' }).cluster.resolver).toBe(
      '127.0.0.1:1',
    );
  });

  it('reads ALLOWED_ORIGINS as the origins browsers send, and refuses what would never match', () => {
    expect(
      loadConfig({
        ...base,
        ALLOWED_ORIGINS:
          ' https://play.example.com , HTTPS://Play.Example.com:443/,http://127.0.0.1:8080',
      }).allowedOrigins,
    ).toEqual(['https://play.example.com', 'https://play.example.com', 'http://127.0.0.1:8080']);
    expect(loadConfig({ ...base, ALLOWED_ORIGINS: '' }).allowedOrigins).toEqual([]);
    for (const bad of [
      'play.example.com',
      '*',
      'https://play.example.com/game',
      'https://play.example.com?x=1',
      'ftp://play.example.com',
      'https://user@play.example.com',
    ])
      expect(() => loadConfig({ ...base, ALLOWED_ORIGINS: bad }), bad).toThrow(
        new RegExp(
          `ALLOWED_ORIGINS: "${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is not an origin`,
        ),
      );
  });

  it('takes DNS_CLUSTER_QUERY only as a DNS name that could resolve', () => {
    const clustered = { ...base, CLUSTER_SECRET: 'x'.repeat(44) };
    for (const name of [
      'tasks.minotaur_minotaur',
      'minotaur-peers.minotaur.svc.cluster.local',
      'localhost',
      'tasks.x.',
    ])
      expect(loadConfig({ ...clustered, DNS_CLUSTER_QUERY: name }).cluster.query).toBe(name);
    for (const bad of ['bad name!', '..', 'a..b', '-a.b', `${'a'.repeat(64)}.b`, 'a.'.repeat(130)])
      expect(() => loadConfig({ ...clustered, DNS_CLUSTER_QUERY: bad }), bad).toThrow(
        /DNS_CLUSTER_QUERY/,
      );
  });

  it('refuses an IPv6 address to advertise to the mesh, which runs over IPv4, naming the variable', () => {
    const clustered = {
      ...base,
      DNS_CLUSTER_QUERY: 'tasks.minotaur',
      CLUSTER_SECRET: 'x'.repeat(44),
    };
    expect(() => loadConfig({ ...clustered, HOST: '::1' })).toThrow(/HOST: ::1 is an IPv6 address/);
    expect(() => loadConfig({ ...clustered, ADVERTISE_ADDRESS: 'fd00::5' })).toThrow(
      /ADVERTISE_ADDRESS: fd00::5 is an IPv6 address/,
    );
    expect(loadConfig({ ...base, HOST: '::1' }).host).toBe('::1');
  });

  it('says DATABASE_PATH when the secret key cannot be kept beside the database', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'a-file');
    writeFileSync(file, '');
    expect(() => loadConfig({ DATABASE_PATH: join(file, 'sub', 'x.db') })).toThrow(
      /DATABASE_PATH: its directory .* must be writable, to keep the node's secret key .* or set SECRET_KEY_BASE: ENOTDIR/,
    );
  });

  it('keeps the drain window 3 s below the hard limit of the shutdown, which needs them for the stop and the handoff', () => {
    expect(() => loadConfig({ ...base, DRAIN_WINDOW_MS: '5001' })).toThrow(
      /DRAIN_WINDOW_MS: 5001 leaves no time for handing games over within SHUTDOWN_TIMEOUT_MS 8000/,
    );
    expect(loadConfig({ ...base, DRAIN_WINDOW_MS: '5000' }).drainWindowMs).toBe(5000);
    expect(
      loadConfig({ ...base, DRAIN_WINDOW_MS: '8000', SHUTDOWN_TIMEOUT_MS: '12000' })
        .shutdownTimeoutMs,
    ).toBe(12_000);
  });

  it('requires a secret key in production and a cluster secret with clustering', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_PATH: ':memory:' })).toThrow(
      /SECRET_KEY_BASE/,
    );
    expect(() => loadConfig({ ...base, DNS_CLUSTER_QUERY: 'tasks.x' })).toThrow(/CLUSTER_SECRET/);
    expect(() =>
      loadConfig({ ...base, NODE_ENV: 'production', TRUST_PROXY: '1', PASSWORD_COST: '12' }),
    ).toThrow(/PASSWORD_COST/);
  });

  it('uses SQLite at DATABASE_PATH unless DATABASE_URL names a PostgreSQL database', () => {
    expect(loadConfig({ ...base, DATABASE_PATH: './data/x.db' }).database).toEqual({
      engine: 'sqlite',
      path: './data/x.db',
    });
    expect(loadConfig({ ...base, DATABASE_URL: '' }).database).toEqual({
      engine: 'sqlite',
      path: ':memory:',
    });
    const url = 'postgres://minotaur:s3cret@db.internal:5432/minotaur?sslmode=require';
    const c = loadConfig({ ...base, DATABASE_URL: url, DATABASE_POOL_MAX: '25' });
    expect(c.database).toEqual({ engine: 'postgres', url });
    expect(c.databasePoolMax).toBe(25);
    expect(
      loadConfig({ ...base, DATABASE_URL: 'postgresql:///minotaur?host=/var/run/postgresql' })
        .database.engine,
    ).toBe('postgres');
    expect(loadConfig(base).databasePoolMax).toBe(10);
    expect(loadConfig(base).sqliteSynchronous).toBe('normal');
    expect(loadConfig({ ...base, SQLITE_SYNCHRONOUS: 'full' }).sqliteSynchronous).toBe('full');
    expect(() => loadConfig({ ...base, SQLITE_SYNCHRONOUS: 'extra' })).toThrow(
      /SQLITE_SYNCHRONOUS/,
    );
  });

  it('refuses a DATABASE_URL that is not a PostgreSQL URL, saying why', () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(message({ DATABASE_URL: 'mysql://db/minotaur' })).toMatch(
      /DATABASE_URL: must start with postgres:\/\/ or postgresql:\/\/ \(got mysql:\/\/\)/,
    );
    expect(message({ DATABASE_URL: 'db.internal:5432' })).toMatch(
      /DATABASE_URL: must start with postgres/,
    );
    expect(message({ DATABASE_URL: 'not a url' })).toMatch(
      /DATABASE_URL: must be a postgres:\/\/ URL/,
    );
    expect(message({ DATABASE_URL: 'postgres:///minotaur' })).toMatch(
      /DATABASE_URL: names no host/,
    );
    expect(message({ DATABASE_POOL_MAX: '0' })).toMatch(/DATABASE_POOL_MAX/);
  });

  it('reads secrets from NAME_FILE (Docker and Kubernetes secrets), and refuses both or an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minotaur-config-'));
    writeFileSync(join(dir, 'url'), 'postgres://m:pw@db:5432/m\n');
    writeFileSync(join(dir, 'empty'), '\n');
    const c = loadConfig({ ...base, DATABASE_URL_FILE: join(dir, 'url') });
    expect(c.database).toEqual({ engine: 'postgres', url: 'postgres://m:pw@db:5432/m' });
    expect(loadDatabaseConfig({ DATABASE_URL_FILE: join(dir, 'url') })).toEqual({
      engine: 'postgres',
      url: 'postgres://m:pw@db:5432/m',
    });
    expect(() =>
      loadConfig({
        ...base,
        DATABASE_URL: 'postgres://x@y/z',
        DATABASE_URL_FILE: join(dir, 'url'),
      }),
    ).toThrow(/DATABASE_URL_FILE: set DATABASE_URL or DATABASE_URL_FILE, not both/);
    expect(() => loadConfig({ ...base, CLUSTER_SECRET_FILE: join(dir, 'missing') })).toThrow(
      /CLUSTER_SECRET_FILE: cannot read .*missing: ENOENT/,
    );
    expect(() => loadConfig({ ...base, ADMIN_TOKEN_FILE: join(dir, 'empty') })).toThrow(
      /ADMIN_TOKEN_FILE: .*empty is empty/,
    );
    // The value is validated like the variable itself.
    writeFileSync(join(dir, 'short'), 'short\n');
    expect(() =>
      loadConfig({ ...base, SECRET_KEY_BASE: undefined, SECRET_KEY_BASE_FILE: join(dir, 'short') }),
    ).toThrow(/SECRET_KEY_BASE: must be at least 32 characters/);
  });

  it('takes ADVERTISE_ADDRESS as an address or as the subnet of the interface to advertise', () => {
    expect(loadConfig({ ...base, ADVERTISE_ADDRESS: '10.0.9.0/24' })).toMatchObject({
      advertiseHost: null,
      advertiseSubnet: '10.0.9.0/24',
    });
    expect(loadConfig({ ...base, ADVERTISE_ADDRESS: '10.0.9.7' })).toMatchObject({
      advertiseHost: '10.0.9.7',
      advertiseSubnet: null,
    });
    expect(() => loadConfig({ ...base, ADVERTISE_ADDRESS: '10.0.9.0/40' })).toThrow(
      /ADVERTISE_ADDRESS/,
    );
  });

  it('uses HOST as the advertised address when it is specific', () => {
    expect(loadConfig({ ...base, HOST: '127.0.0.3' }).advertiseHost).toBe('127.0.0.3');
    expect(loadConfig(base).advertiseHost).toBeNull();
  });
});

/** Express's compiled trust function for a configuration: does it trust hop `i` at `addr`? */
function trusts(trustProxy: unknown, addr: string, hop: number): boolean {
  const app = express();
  app.set('trust proxy', trustProxy);
  return (app.get('trust proxy fn') as (a: string, i: number) => boolean)(addr, hop);
}

const production = { ...base, NODE_ENV: 'production', TRUST_PROXY: '1' };
const strongSecret = randomBytes(32).toString('base64');

describe('TRUST_PROXY', () => {
  it('reads a number as a hop count, as Express documents (not as the address 0.0.0.1)', () => {
    const c = loadConfig({ ...base, TRUST_PROXY: '1' });
    expect(c.trustProxy).toBe(1);
    // One proxy in front: its address (hop 0) is trusted, the client's (hop 1) is not.
    expect(trusts(c.trustProxy, '10.0.0.5', 0)).toBe(true);
    expect(trusts(c.trustProxy, '10.0.0.5', 1)).toBe(false);
    expect(loadConfig({ ...base, TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('reads true/false, 0 and unset', () => {
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('0')).toBe(false);
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(loadConfig(base).trustProxy).toBe(false);
  });

  it('reads addresses, subnets and named ranges, and refuses anything else naming the variable', () => {
    const c = loadConfig({ ...base, TRUST_PROXY: 'loopback, 10.0.0.0/8 ,192.168.1.7' });
    expect(c.trustProxy).toEqual(['loopback', '10.0.0.0/8', '192.168.1.7']);
    expect(trusts(c.trustProxy, '10.1.2.3', 0)).toBe(true);
    expect(trusts(c.trustProxy, '127.0.0.1', 0)).toBe(true);
    expect(trusts(c.trustProxy, '8.8.8.8', 0)).toBe(false);
    expect(() => loadConfig({ ...base, TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/99' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ ...base, TRUST_PROXY: '100000' })).toThrow(/TRUST_PROXY/);
  });

  it('is required in production with secure cookies (the node would never set its session cookie)', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(
      /TRUST_PROXY: required in production/,
    );
    expect(loadConfig(production).cookieSecure).toBe(true);
    // A plain-HTTP trial without a proxy says so explicitly.
    expect(loadConfig({ ...base, NODE_ENV: 'production', COOKIE_SECURE: '0' }).trustProxy).toBe(
      false,
    );
  });
});

describe('CLUSTER_SECRET in production', () => {
  it('refuses fewer than 256 bits, non-base64 and patterned secrets, naming the variable', () => {
    const clustered = { ...production, DNS_CLUSTER_QUERY: 'tasks.x' };
    expect(() =>
      loadConfig({ ...clustered, CLUSTER_SECRET: 'test-cluster-secret-0123456789abcdef' }),
    ).toThrow(/CLUSTER_SECRET: too short/);
    expect(() =>
      loadConfig({ ...clustered, CLUSTER_SECRET: randomBytes(24).toString('base64') }),
    ).toThrow(/CLUSTER_SECRET/);
    expect(() =>
      loadConfig({ ...clustered, CLUSTER_SECRET: 'correct horse battery staple correct horse' }),
    ).toThrow(/CLUSTER_SECRET: must be base64/);
    expect(() => loadConfig({ ...clustered, CLUSTER_SECRET: 'ab'.repeat(40) })).toThrow(
      /CLUSTER_SECRET: does not look random/,
    );
    expect(loadConfig({ ...clustered, CLUSTER_SECRET: strongSecret }).cluster.secret).toBe(
      strongSecret,
    );
    expect(weakSecret(randomBytes(32).toString('hex'))).toBeNull();
    expect(weakSecret(randomBytes(32).toString('base64url'))).toBeNull();
    expect(weakSecret(randomBytes(31).toString('hex'))).toMatch(/too short/);
  });

  it('refuses a guessable ADMIN_TOKEN in production (fewer than 128 bits, or a pattern), naming it', () => {
    const production = { ...base, NODE_ENV: 'production', TRUST_PROXY: '1' };
    expect(() => loadConfig({ ...production, ADMIN_TOKEN: 'adminadminadmin1' })).toThrow(
      /ADMIN_TOKEN: too short: 16 characters carry at most 96 bits, 128 needed/,
    );
    expect(() => loadConfig({ ...production, ADMIN_TOKEN: 'ab'.repeat(20) })).toThrow(
      /ADMIN_TOKEN: does not look random/,
    );
    const token = randomBytes(16).toString('base64');
    expect(loadConfig({ ...production, ADMIN_TOKEN: token }).adminToken).toBe(token);
    expect(loadConfig({ ...base, ADMIN_TOKEN: 'adminadminadmin1' }).adminToken).toBe(
      'adminadminadmin1',
    );
  });

  it('reads base64 wrapped over lines (`openssl rand -base64 64`) without its line breaks, the same on every node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minotaur-wrapped-'));
    const clustered = { ...production, DNS_CLUSTER_QUERY: 'tasks.x' };
    // What `openssl rand -base64 64 > file` writes: 64 characters, a line break, 24, a line break.
    const secret = randomBytes(64).toString('base64');
    const wrapped = `${secret.slice(0, 64)}\n${secret.slice(64)}\n`;
    writeFileSync(join(dir, 'cluster'), wrapped);
    writeFileSync(join(dir, 'cluster-crlf'), wrapped.replaceAll('\n', '\r\n'));
    for (const file of ['cluster', 'cluster-crlf']) {
      const c = loadConfig({ ...clustered, CLUSTER_SECRET_FILE: join(dir, file) });
      expect(c.cluster.secret, file).toBe(secret);
    }
    // The same value given as the variable (a Kubernetes secret read into the environment).
    expect(loadConfig({ ...clustered, CLUSTER_SECRET: wrapped }).cluster.secret).toBe(secret);
    const token = randomBytes(64).toString('base64');
    writeFileSync(join(dir, 'token'), `${token.slice(0, 64)}\n${token.slice(64)}\n`);
    expect(loadConfig({ ...production, ADMIN_TOKEN_FILE: join(dir, 'token') }).adminToken).toBe(
      token,
    );
    // Lines that are not base64 stay as written, and are refused as before.
    writeFileSync(
      join(dir, 'words'),
      'correct horse battery staple\ncorrect horse battery staple\n',
    );
    expect(() => loadConfig({ ...clustered, CLUSTER_SECRET_FILE: join(dir, 'words') })).toThrow(
      /CLUSTER_SECRET: must be base64 or hex/,
    );
    // A short secret is not made long enough by its lines: the bits are counted without them.
    const short = randomBytes(24).toString('base64');
    writeFileSync(join(dir, 'short'), `${short.slice(0, 16)}\n${short.slice(16)}\n`);
    expect(() => loadConfig({ ...clustered, CLUSTER_SECRET_FILE: join(dir, 'short') })).toThrow(
      /CLUSTER_SECRET: too short: 32 characters/,
    );
    // SECRET_KEY_BASE signs the session cookies: it is used as written, one trailing newline
    // dropped, as it always was (another key would end every player's session).
    writeFileSync(join(dir, 'key'), wrapped);
    expect(
      loadConfig({ ...base, SECRET_KEY_BASE: undefined, SECRET_KEY_BASE_FILE: join(dir, 'key') })
        .secretKeyBase,
    ).toBe(wrapped.slice(0, -1));
  });

  it('keeps accepting short secrets outside production (tests, local clusters)', () => {
    expect(
      loadConfig({
        ...base,
        DNS_CLUSTER_QUERY: 'tasks.x',
        CLUSTER_SECRET: 'test-cluster-secret-0123',
      }).cluster.secret,
    ).toBe('test-cluster-secret-0123');
  });
});

describe('operator settings', () => {
  it('no longer reads ADMIN_USERS, and warns when it is set', () => {
    expect(loadConfig(base).warnings).toEqual([]);
    const c = loadConfig({ ...base, ADMIN_USERS: 'alice' });
    expect(c.warnings.join('\n')).toMatch(/ADMIN_USERS is no longer read.*npm run admin -- grant/);
    expect(c).not.toHaveProperty('adminUsers');
  });

  it('warns of a variable it does not read that looks meant for it, and of no other', () => {
    const c = loadConfig({
      ...base,
      DATA_DIR: '/data',
      DNS_CLUSTER_QUERRY: 'tasks.minotaur',
      round_seconds: '3',
      DATABASE_PATH_FILE: '/run/secrets/path',
      // Set on every host or by the platform, and near none of ours (HOME is 2 from HOST).
      HOME: '/root',
      HOSTNAME: 'a1b2',
      NODE_VERSION: '20.20.2',
      MINOTAUR_PORT: 'tcp://10.0.0.1:4000',
      npm_package_name: 'minotaur',
    });
    expect(c.warnings).toEqual([
      'DATABASE_PATH_FILE is not read: only SECRET_KEY_BASE, CLUSTER_SECRET, DATABASE_URL, ADMIN_TOKEN can be given as files; set DATABASE_PATH itself',
      'DATA_DIR is not read by the node: did you mean DATABASE_PATH?',
      'DNS_CLUSTER_QUERRY is not read by the node: did you mean DNS_CLUSTER_QUERY?',
      'round_seconds is not read by the node: did you mean ROUND_SECONDS?',
    ]);
  });

  it('gives the admin command only where the database is, without the node secrets', () => {
    expect(loadDatabaseConfig({ NODE_ENV: 'production', DATABASE_PATH: '/data/m.db' })).toEqual({
      engine: 'sqlite',
      path: '/data/m.db',
    });
    expect(loadDatabaseConfig({})).toEqual({ engine: 'sqlite', path: './data/minotaur.db' });
    expect(
      loadDatabaseConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://u:p@db:5432/minotaur',
      }),
    ).toEqual({ engine: 'postgres', url: 'postgres://u:p@db:5432/minotaur' });
    expect(() => loadDatabaseConfig({ DATABASE_URL: 'mysql://db/x' })).toThrow(/DATABASE_URL/);
  });

  it('has limits on games and sockets per account', () => {
    expect(loadConfig(base).limits).toEqual({
      openGamesPerAccount: 3,
      gamesPerHour: 20,
      socketsPerAccount: 8,
    });
    expect(
      loadConfig({
        ...base,
        OPEN_GAMES_PER_ACCOUNT: '5',
        GAMES_PER_HOUR: '50',
        SOCKETS_PER_ACCOUNT: '2',
      }).limits,
    ).toEqual({ openGamesPerAccount: 5, gamesPerHour: 50, socketsPerAccount: 2 });
    expect(() => loadConfig({ ...base, OPEN_GAMES_PER_ACCOUNT: '0' })).toThrow(
      /OPEN_GAMES_PER_ACCOUNT/,
    );
  });

  it('compresses large live messages by default, all with LIVE_COMPRESSION=on, and refuses other values', () => {
    expect(loadConfig(base).liveCompression).toBe('large');
    expect(loadConfig({ ...base, LIVE_COMPRESSION: 'on' }).liveCompression).toBe('on');
    expect(loadConfig({ ...base, LIVE_COMPRESSION: 'off' }).liveCompression).toBe('off');
    expect(loadConfig({ ...base, LIVE_COMPRESSION: 'large' }).liveCompression).toBe('large');
    expect(() => loadConfig({ ...base, LIVE_COMPRESSION: 'yes' })).toThrow(/LIVE_COMPRESSION/);
  });

  it('keeps final boards 90 days by default, as many as FINAL_STATE_DAYS says (0: forever)', () => {
    expect(loadConfig(base).finalStateDays).toBe(90);
    expect(loadConfig({ ...base, FINAL_STATE_DAYS: '7' }).finalStateDays).toBe(7);
    expect(loadConfig({ ...base, FINAL_STATE_DAYS: '0' }).finalStateDays).toBe(0);
    for (const bad of ['-1', '1.5', 'week', '40000'])
      expect(() => loadConfig({ ...base, FINAL_STATE_DAYS: bad }), bad).toThrow(/FINAL_STATE_DAYS/);
  });
});
