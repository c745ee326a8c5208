// The shipped deployment files and the README agree with the code: every variable the node
// reads is documented, every variable the manifests set is one the node reads, and the
// production environment they give is one the node accepts as production.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { ROOT } from '../support/node-process.js';
import { stackEnvironment } from '../support/production.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const secrets = { SECRET_KEY_BASE: randomBytes(48).toString('base64'), CLUSTER_SECRET: randomBytes(32).toString('base64') };

/** The container's `env:` of the Deployment: name → value (secret and field references as null). */
function kubernetesEnv(): Record<string, string | null> {
  const text = read('deploy/kubernetes.yaml');
  const env: Record<string, string | null> = {};
  const re = /^ {12}- name: ([A-Z_]+)\n((?: {14}.*\n)+)/gm;
  for (const m of text.matchAll(re)) {
    const value = /^ {14}value: "?([^"\n]*)"?$/m.exec(m[2]!);
    env[m[1]!] = value ? value[1]! : null;
  }
  return env;
}

describe('README configuration table', () => {
  it('documents every variable the node reads, and no other', () => {
    const readme = read('README.md');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## ', readme.indexOf('## Configuration') + 5));
    const documented = [...table.matchAll(/^\| `([A-Z_]+)`(?: \/ `([A-Z_]+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter(Boolean) as string[]);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});

describe('deploy/docker-stack.yml', () => {
  const env = stackEnvironment();

  it('sets only variables the node reads, and they make a valid production node', () => {
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    const config = loadConfig({ ...env, ...secrets, DATABASE_PATH: ':memory:' });
    expect(config.env).toBe('production');
    expect(config.trustProxy).toBe(1);
    expect(config.cookieSecure).toBe(true);
  });

  it('encrypts the overlay network and terminates TLS at HAProxy', () => {
    const text = read('deploy/docker-stack.yml');
    expect(text).toMatch(/networks:\n {2}minotaur:\n {4}driver: overlay\n(?: {4}#.*\n)* {4}driver_opts:\n {6}encrypted: "true"/);
    expect(stackEnvironment('haproxy')).toMatchObject({ HAPROXY_TLS_BIND: ':8443', HAPROXY_CERT: '/run/secrets/minotaur_tls.pem' });
    expect(text).not.toMatch(/ADMIN_USERS/);
  });
});

describe('deploy/kubernetes.yaml', () => {
  it('sets only variables the node reads, and they make a valid production node', () => {
    const env = kubernetesEnv();
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    const plain = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== null)) as Record<string, string>;
    const config = loadConfig({ ...plain, ...secrets, DATABASE_PATH: ':memory:', DNS_CLUSTER_QUERY: 'x' });
    expect(config.trustProxy).toBe(1);
    expect(config.cookieSecure).toBe(true);
  });

  it('routes only the players’ paths (and the operator pages) through the Ingress, and fences the pods', () => {
    const text = read('deploy/kubernetes.yaml');
    const ingress = text.slice(text.indexOf('kind: Ingress'), text.indexOf('---', text.indexOf('kind: Ingress')));
    const paths = [...ingress.matchAll(/- path: (\S+)\n\s+pathType: (\S+)/g)].map((m) => `${m[2]} ${m[1]}`);
    expect(paths.sort()).toEqual(['Exact /', 'Exact /leaderboard', 'Exact /login', 'Exact /logout', 'Exact /signup', 'Prefix /admin', 'Prefix /games', 'Prefix /lobby', 'Prefix /static']);
    expect(text).toMatch(/kind: NetworkPolicy[\s\S]*policyTypes: \["Ingress"\]/);
  });
});
