// The shipped deployment files and the README agree with the code: every variable the node
// reads is documented, every variable the manifests set is one the node reads, and the
// production environment they give is one the node accepts as production.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { ROOT } from '../support/node-process.js';
import { stackEnvironment } from '../support/production.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const secrets = {
  SECRET_KEY_BASE: randomBytes(48).toString('base64'),
  CLUSTER_SECRET: randomBytes(32).toString('base64'),
};

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
    const table = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('## ', readme.indexOf('## Configuration') + 5),
    );
    const documented = [...table.matchAll(/^\| `([A-Z_]+)`(?: \/ `([A-Z_]+)`)? *\|/gm)].flatMap(
      (m) => [m[1]!, m[2]].filter(Boolean) as string[],
    );
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});

/**
 * The stack's secret files, made here: each NAME_FILE path replaced by a file with a fresh value.
 */
function withSecretFiles(env: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'minotaur-secrets-'));
  const values: Record<string, string> = {
    ...secrets,
    DATABASE_URL: 'postgres://minotaur:pw@db.internal:5432/minotaur',
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
  };
  const out = { ...env };
  for (const [k, path] of Object.entries(env)) {
    if (!k.endsWith('_FILE')) continue;
    const name = k.slice(0, -'_FILE'.length);
    expect(path, k).toMatch(/^\/run\/secrets\//);
    const file = join(dir, name);
    writeFileSync(file, `${values[name]}\n`);
    out[k] = file;
  }
  return out;
}

describe('deploy/docker-stack.yml', () => {
  const env = stackEnvironment();
  const text = read('deploy/docker-stack.yml');

  it('sets only variables the node reads, and they make a valid production node on PostgreSQL, secrets from files', () => {
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    // Swarm fills in the task's name: the stack's name, the service's, the slot and the task's id.
    expect(env.NODE_ID).toBe('{{.Task.Name}}');
    const task = 'minotaur_minotaur.2.abc123def456ghi789jkl0mno';
    const config = loadConfig(withSecretFiles({ ...env, NODE_ID: task }));
    expect(config.nodeId).toBe(task);
    // The longest stack name whose task names still fit NODE_ID, with a two-digit slot.
    const longest = `${'s'.repeat(26)}_minotaur.12.abc123def456ghi789jkl0mno`;
    expect(loadConfig({ DATABASE_PATH: ':memory:', NODE_ID: longest }).nodeId).toBe(longest);
    expect(() => loadConfig({ DATABASE_PATH: ':memory:', NODE_ID: `s${longest}` })).toThrow(
      /NODE_ID/,
    );
    expect(config.env).toBe('production');
    expect(config.trustProxy).toBe(1);
    expect(config.cookieSecure).toBe(true);
    expect(config.database).toEqual({
      engine: 'postgres',
      url: 'postgres://minotaur:pw@db.internal:5432/minotaur',
    });
    expect(config.secretKeyBase).toBe(secrets.SECRET_KEY_BASE);
    expect(config.cluster.secret).toBe(secrets.CLUSTER_SECRET);
    // Every secret file the node reads is a secret the service mounts, and an external one.
    const service = text.slice(text.indexOf('\n  minotaur:\n'), text.indexOf('\n  haproxy:\n'));
    for (const [k, path] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
      const secret = path.replace('/run/secrets/', '');
      expect(service, k).toContain(`      - ${secret}\n`);
      expect(text, k).toMatch(new RegExp(`\\n  ${secret}:\\n    external: true`));
    }
  });

  it('spreads the replicas over hosts: no pin, at most two per node, no volume of its own', () => {
    const service = text.slice(text.indexOf('\n  minotaur:\n'), text.indexOf('\n  haproxy:\n'));
    expect(service).not.toMatch(/constraints:|node\.(hostname|id|labels\.[\w.]+)\s*==/);
    const replicas = Number(/\n {6}replicas: (\d+)/.exec(service)?.[1]);
    const perNode = Number(/max_replicas_per_node: (\d+)/.exec(service)?.[1]);
    expect(perNode).toBeGreaterThanOrEqual(1);
    // Below the replica count (never all on one host), above one (a start-first update runs one
    // more task).
    expect(perNode).toBeLessThan(replicas);
    expect(perNode).toBeGreaterThan(1);
    expect(service).toMatch(/preferences:\n\s+- spread: node\.labels\.\S+/);
    expect(service).not.toMatch(/\n {4}volumes:/);
    expect(env.DATABASE_PATH).toBeUndefined();
    // The advertised subnet is the overlay's.
    const subnet = /\n {4}ipam:\n {6}config:\n {8}- subnet: (\S+)/.exec(text)?.[1];
    expect(subnet).toBeTruthy();
    expect(env.ADVERTISE_ADDRESS).toBe(subnet);
  });

  const docker = spawnSync('docker', ['--version']).status === 0;
  it.runIf(docker)('is a valid stack file (docker stack config)', () => {
    const r = spawnSync(
      'docker',
      ['stack', 'config', '-c', join(ROOT, 'deploy/docker-stack.yml')],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('max_replicas_per_node: 2');
  });

  it('encrypts the overlay network and terminates TLS at HAProxy', () => {
    const text = read('deploy/docker-stack.yml');
    expect(text).toMatch(
      /networks:\n {2}minotaur:\n {4}driver: overlay\n(?: {4}#.*\n)* {4}driver_opts:\n {6}encrypted: "true"/,
    );
    expect(stackEnvironment('haproxy')).toMatchObject({
      HAPROXY_TLS_BIND: ':8443',
      HAPROXY_CERT: '/run/secrets/minotaur_tls.pem',
    });
    expect(text).not.toMatch(/ADMIN_USERS/);
  });
});

describe('deploy/kubernetes.yaml', () => {
  it('sets only variables the node reads, and they make a valid production node, secrets from files', () => {
    const env = kubernetesEnv();
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    const plain = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== null)) as Record<
      string,
      string
    >;
    const config = loadConfig({ ...withSecretFiles(plain), DNS_CLUSTER_QUERY: 'x' });
    expect(config.trustProxy).toBe(1);
    expect(config.cookieSecure).toBe(true);
    expect(config.database.engine).toBe('postgres');
    expect(config.secretKeyBase).toBe(secrets.SECRET_KEY_BASE);
    expect(config.cluster.secret).toBe(secrets.CLUSTER_SECRET);
    // The database URL (it holds a password) comes from the Secret, like the other secrets: files
    // of its volume, never the environment.
    const text = read('deploy/kubernetes.yaml');
    for (const name of ['DATABASE_URL', 'SECRET_KEY_BASE', 'CLUSTER_SECRET']) {
      expect(env[name], name).toBeUndefined();
      expect(env[`${name}_FILE`], name).toMatch(/^\/run\/secrets\/minotaur\/[a-z-]+$/);
    }
    expect(text).not.toMatch(/secretKeyRef:/);
    expect(text).toMatch(
      /volumeMounts:\n {12}- name: secrets\n {14}mountPath: \/run\/secrets\/minotaur\n {14}readOnly: true/,
    );
    expect(text).toMatch(
      /volumes:\n(?: {8}#.*\n)* {8}- name: secrets\n {10}secret:\n {12}secretName: minotaur-secrets/,
    );
  });

  it('runs the container unprivileged: no privilege escalation, no capabilities, the runtime seccomp profile', () => {
    const docs = parseAllDocuments(read('deploy/kubernetes.yaml')).map((d) => d.toJS());
    const pod = docs.find((d) => d?.kind === 'Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('spreads the pods over nodes: anti-affinity and a topology spread, no node pin, no volume but the Secret', () => {
    const text = read('deploy/kubernetes.yaml');
    expect(text).toMatch(
      /podAntiAffinity:\n\s+# [^\n]*\n(?:\s+#[^\n]*\n)*\s+preferredDuringSchedulingIgnoredDuringExecution:[\s\S]*?topologyKey: kubernetes\.io\/hostname/,
    );
    expect(text).toMatch(
      /topologySpreadConstraints:\n(?:\s+#[^\n]*\n)*\s+- maxSkew: 1\n\s+topologyKey: kubernetes\.io\/hostname/,
    );
    expect(text).not.toMatch(
      /\bpodAffinity:|nodeSelector:|nodeName:|PersistentVolumeClaim|persistentVolumeClaim|hostPath:|emptyDir:/,
    );
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    const pod = docs.find((d) => d?.kind === 'Deployment').spec.template.spec;
    expect(pod.volumes.map((v: object) => Object.keys(v).sort())).toEqual([['name', 'secret']]);
  });

  it('gives a busy pod as long as the other health checks to answer before taking it out', () => {
    const docs = parseAllDocuments(read('deploy/kubernetes.yaml')).map((d) => d.toJS());
    const deployment = docs.find((d) => d?.kind === 'Deployment');
    const probe = deployment.spec.template.spec.containers[0].readinessProbe;
    const stack = parse(read('deploy/docker-stack.yml'));
    const check = Object.values(stack.services as Record<string, { healthcheck?: object }>).find(
      (s) => s.healthcheck,
    )!.healthcheck as { timeout: string; retries: number };
    expect(probe.httpGet.path).toBe('/health_check');
    // A node far over its capacity answered in up to 2.6 s (docs/benchmarks.md).
    expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(parseInt(check.timeout, 10));
    expect(parseInt(check.timeout, 10)).toBeGreaterThanOrEqual(5);
    expect(probe.failureThreshold).toBeGreaterThanOrEqual(check.retries);
  });

  it('routes only the players’ paths (and the operator pages) through the Ingress, and fences the pods', () => {
    const text = read('deploy/kubernetes.yaml');
    const ingress = text.slice(
      text.indexOf('kind: Ingress'),
      text.indexOf('---', text.indexOf('kind: Ingress')),
    );
    const paths = [...ingress.matchAll(/- path: (\S+)\n\s+pathType: (\S+)/g)].map(
      (m) => `${m[2]} ${m[1]}`,
    );
    const routed = (path: string) =>
      paths.some((rule) => {
        const [type, p = ''] = rule.split(' ');
        return type === 'Exact' ? path === p : path === p || path.startsWith(`${p}/`);
      });
    // Every route the web layer mounts for players (read from its sources, parameters filled
    // in): a route added there and not here would be a page the Ingress does not serve. The
    // profiles, the password pages and the sign-up form's name check once were.
    const sources = readdirSync(join(ROOT, 'src/web'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(`src/web/${f}`))
      .join('\n');
    const routes = [
      ...new Set(
        [...sources.matchAll(/\bapp\.(?:get|post|ws)\(\s*'([^']+)'/g)].map((m) =>
          m[1]!.replace(/:[a-z]+/gi, 'X'),
        ),
      ),
    ];
    const operatorsOnly = ['/health_check', '/metrics'];
    expect(routes).toEqual(expect.arrayContaining(['/players/X', '/account/password', '/lobby']));
    for (const route of routes.filter((r) => !operatorsOnly.includes(r)))
      expect(routed(route), route).toBe(true);
    for (const path of [...operatorsOnly, '/_cluster/mesh']) expect(routed(path), path).toBe(false);
    expect(text).toMatch(/kind: NetworkPolicy[\s\S]*policyTypes: \["Ingress"\]/);
  });
});

describe('deploy/prometheus.yml', () => {
  it("passes promtool's check with the alerting rules, and scrapes the stack's nodes where they listen", () => {
    const check = spawnSync('promtool', ['check', 'config', join(ROOT, 'deploy/prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const config = parse(read('deploy/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: {
        dns_sd_configs: { names: string[]; type: string; port: number }[];
      }[];
    };
    expect(config.rule_files).toEqual(['prometheus-alerts.yml']);
    const [sd] = config.scrape_configs.flatMap((s) => s.dns_sd_configs);
    const env = stackEnvironment();
    // The same name the nodes mesh through, on the port they listen on.
    expect(sd!.names).toEqual([env.DNS_CLUSTER_QUERY]);
    expect(sd!.port).toBe(Number(env.PORT));
    expect(sd!.type).toBe('A');
    // The Kubernetes alternative it names is the manifest's headless Service, whose NetworkPolicy
    // admits Prometheus's namespace.
    const kubernetes = read('deploy/kubernetes.yaml');
    expect(kubernetesEnv().DNS_CLUSTER_QUERY).toBe('minotaur-peers.minotaur.svc.cluster.local');
    expect(read('deploy/prometheus.yml')).toContain('minotaur-peers.minotaur.svc.cluster.local');
    expect(kubernetes).toMatch(/kubernetes\.io\/metadata\.name: monitoring/);
  });
});
