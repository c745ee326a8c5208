import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = { DATABASE_PATH: ':memory:', SECRET_KEY_BASE: 'x'.repeat(40) };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(4000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.roundMs).toBe(10_000);
    expect(c.cluster.query).toBeNull();
    expect(c.cluster.peerDownMs).toBe(3000);
    expect(c.passwordCost).toBe(17);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ ...base, PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, DNS_CLUSTER_RESOLVER: 'nonsense' })).toThrow(/DNS_CLUSTER_RESOLVER/);
    expect(() => loadConfig({ ...base, ROUND_SECONDS: '0' })).toThrow(ConfigError);
  });

  it('requires a secret key in production and a cluster secret with clustering', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_PATH: ':memory:' })).toThrow(/SECRET_KEY_BASE/);
    expect(() => loadConfig({ ...base, DNS_CLUSTER_QUERY: 'tasks.x' })).toThrow(/CLUSTER_SECRET/);
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', PASSWORD_COST: '12' })).toThrow(/PASSWORD_COST/);
  });

  it('uses SQLite at DATABASE_PATH unless DATABASE_URL names a PostgreSQL database', () => {
    expect(loadConfig({ ...base, DATABASE_PATH: './data/x.db' }).database).toEqual({ engine: 'sqlite', path: './data/x.db' });
    expect(loadConfig({ ...base, DATABASE_URL: '' }).database).toEqual({ engine: 'sqlite', path: ':memory:' });
    const url = 'postgres://minotaur:s3cret@db.internal:5432/minotaur?sslmode=require';
    const c = loadConfig({ ...base, DATABASE_URL: url, DATABASE_POOL_MAX: '25' });
    expect(c.database).toEqual({ engine: 'postgres', url });
    expect(c.databasePoolMax).toBe(25);
    expect(loadConfig({ ...base, DATABASE_URL: 'postgresql:///minotaur?host=/var/run/postgresql' }).database.engine).toBe('postgres');
    expect(loadConfig(base).databasePoolMax).toBe(10);
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
    expect(message({ DATABASE_URL: 'mysql://db/minotaur' })).toMatch(/DATABASE_URL: must start with postgres:\/\/ or postgresql:\/\/ \(got mysql:\/\/\)/);
    expect(message({ DATABASE_URL: 'db.internal:5432' })).toMatch(/DATABASE_URL: must start with postgres/);
    expect(message({ DATABASE_URL: 'not a url' })).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(message({ DATABASE_URL: 'postgres:///minotaur' })).toMatch(/DATABASE_URL: names no host/);
    expect(message({ DATABASE_POOL_MAX: '0' })).toMatch(/DATABASE_POOL_MAX/);
  });

  it('uses HOST as the advertised address when it is specific', () => {
    expect(loadConfig({ ...base, HOST: '127.0.0.3' }).advertiseHost).toBe('127.0.0.3');
    expect(loadConfig(base).advertiseHost).toBeNull();
  });
});
