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

  it('uses HOST as the advertised address when it is specific', () => {
    expect(loadConfig({ ...base, HOST: '127.0.0.3' }).advertiseHost).toBe('127.0.0.3');
    expect(loadConfig(base).advertiseHost).toBeNull();
  });
});
