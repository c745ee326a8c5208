// The mesh with real processes: mesh-node processes on 127.0.0.x (same port each, like Swarm
// tasks), found through a DNS server the test controls.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { freePort } from '../support/node-process.js';

const QUERY = 'tasks.minotaur-mesh-test';
const SECRET = 'mesh-test-secret';
const HEARTBEAT_MS = 200;
const DOWN_AFTER_MS = 1500;
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];
const NODE_SCRIPT = fileURLToPath(new URL('../support/mesh-node.ts', import.meta.url));

interface MeshNodeView {
  self: string;
  members: { id: string; address: string; state: string }[];
  peers: string[];
  suspect: boolean;
  lastStallAt: number | null;
  stats: { refused: number; stalls: number };
}

interface RunningNode {
  id: string;
  host: string;
  child: ChildProcess;
  output: string[];
  exited: boolean;
}

let dns: TestDnsServer | undefined;
let port: number;
const nodes: RunningNode[] = [];

function startNode(id: string, host: string, env: Record<string, string> = {}): RunningNode {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT], {
    env: {
      ...process.env,
      HOST: host,
      PORT: String(port),
      NODE_ID: id,
      CLUSTER_SECRET: SECRET,
      DNS_CLUSTER_QUERY: QUERY,
      DNS_CLUSTER_RESOLVER: dns!.address,
      DNS_INTERVAL_MS: '250',
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      DOWN_AFTER_MS: String(DOWN_AFTER_MS),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const node: RunningNode = { id, host, child, output: [], exited: false };
  child.stdout
    .setEncoding('utf8')
    .on('data', (chunk: string) => node.output.push(...chunk.split('\n').filter(Boolean)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => node.output.push(chunk));
  child.on('exit', () => {
    node.exited = true;
  });
  nodes.push(node);
  return node;
}

async function view(node: RunningNode): Promise<MeshNodeView | undefined> {
  try {
    const res = await fetch(`http://${node.host}:${port}/members`, {
      signal: AbortSignal.timeout(1000),
    });
    return res.ok ? ((await res.json()) as MeshNodeView) : undefined;
  } catch {
    return undefined;
  }
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until `node` lists exactly `peers` as live peers. */
async function peersOf(
  node: RunningNode,
  peers: string[],
  timeoutMs = 15_000,
): Promise<MeshNodeView> {
  const want = [...peers].sort().join(',');
  return until(`${node.id} to see [${want}]`, timeoutMs, async () => {
    const v = await view(node);
    return v && [...v.peers].sort().join(',') === want ? v : undefined;
  });
}

/** Waits until `node`'s membership (peers not declared down, self excluded) is exactly `ids`. */
async function membersOf(
  node: RunningNode,
  ids: string[],
  timeoutMs: number,
): Promise<MeshNodeView> {
  const want = [...ids].sort().join(',');
  return until(`${node.id} to have members [${want}]`, timeoutMs, async () => {
    const v = await view(node);
    const have = v?.members
      .map((m) => m.id)
      .filter((id) => id !== node.id)
      .sort()
      .join(',');
    return v && have === want ? v : undefined;
  });
}

const logged = (node: RunningNode, text: string): boolean =>
  node.output.some((l) => l.includes(text));

describe('mesh with real processes', () => {
  let a: RunningNode;
  let b: RunningNode;
  let c: RunningNode;
  let d: RunningNode;
  let e: RunningNode;

  beforeAll(async () => {
    dns = await createDnsServer();
    port = await freePort(HOSTS);
  });

  afterAll(async () => {
    // MESH_TEST_LOGS=1 prints every node's log, for reading what an operator would see.
    if (process.env.MESH_TEST_LOGS)
      for (const node of nodes) console.log(`--- ${node.id}\n${node.output.join('\n')}`);
    for (const node of nodes) {
      if (!node.exited) node.child.kill('SIGKILL');
    }
    await Promise.all(
      nodes
        .filter((n) => !n.exited)
        .map((n) => new Promise((resolve) => n.child.once('exit', resolve))),
    );
    await dns?.close();
  });

  it('three nodes find each other through DNS', async () => {
    dns!.setRecords(QUERY, HOSTS.slice(0, 3));
    a = startNode('a', HOSTS[0]!);
    b = startNode('b', HOSTS[1]!);
    c = startNode('c', HOSTS[2]!);
    await Promise.all([peersOf(a, ['b', 'c']), peersOf(b, ['a', 'c']), peersOf(c, ['a', 'b'])]);
    const v = await view(a);
    expect(v?.members.map((m) => m.address).sort()).toEqual(
      HOSTS.slice(0, 3).map((h) => `${h}:${port}`),
    );
  });

  it('a fourth node added to DNS is joined by the others', async () => {
    // d does no discovery of its own: only the others, polling DNS, can find it.
    d = startNode('d', HOSTS[3]!, { DNS_CLUSTER_QUERY: '' });
    await until('d to listen', 15_000, () => view(d));
    expect((await view(d))?.peers).toEqual([]);
    dns!.setRecords(QUERY, HOSTS.slice(0, 4));
    await Promise.all([
      peersOf(a, ['b', 'c', 'd']),
      peersOf(b, ['a', 'c', 'd']),
      peersOf(c, ['a', 'b', 'd']),
      peersOf(d, ['a', 'b', 'c']),
    ]);
  });

  it('a node that only connects inbound (not in DNS) is learned by the others', async () => {
    e = startNode('e', HOSTS[4]!);
    await Promise.all([
      peersOf(e, ['a', 'b', 'c', 'd']),
      peersOf(a, ['b', 'c', 'd', 'e']),
      peersOf(b, ['a', 'c', 'd', 'e']),
      peersOf(c, ['a', 'b', 'd', 'e']),
      peersOf(d, ['a', 'b', 'c', 'e']),
    ]);
  });

  it('refuses a node with the wrong secret, and logs it', async () => {
    const intruder = startNode('intruder', HOSTS[5]!, { CLUSTER_SECRET: 'not-the-secret' });
    await until(
      'a refusal logged by a',
      15_000,
      () => logged(a, 'bad secret') && logged(a, 'intruder'),
    );
    const line = a.output.find((l) => l.includes('bad secret'))!;
    expect(line).toContain(`refused mesh link from intruder (${HOSTS[5]}:${port}`);
    expect((await view(intruder))?.peers).toEqual([]);
    for (const node of [a, b, c, d, e]) expect((await view(node))?.peers).not.toContain('intruder');
    intruder.child.kill('SIGKILL');
  });

  it('draining replicates as state', async () => {
    const res = await fetch(`http://${d.host}:${port}/state/draining`, { method: 'POST' });
    expect(res.status).toBe(200);
    for (const node of [a, b, c, e]) {
      await until(
        `${node.id} to see d draining`,
        5000,
        async () => (await view(node))?.members.find((m) => m.id === 'd')?.state === 'draining',
      );
    }
  });

  it('a node killed with SIGKILL is declared down within downAfterMs plus slack', async () => {
    const killedAt = Date.now();
    b.child.kill('SIGKILL');
    await Promise.all([
      membersOf(a, ['c', 'd', 'e'], DOWN_AFTER_MS + 3000),
      membersOf(c, ['a', 'd', 'e'], DOWN_AFTER_MS + 3000),
      membersOf(d, ['a', 'c', 'e'], DOWN_AFTER_MS + 3000),
      membersOf(e, ['a', 'c', 'd'], DOWN_AFTER_MS + 3000),
    ]);
    expect(Date.now() - killedAt).toBeLessThan(DOWN_AFTER_MS + 3000);
    expect(logged(a, 'peer b (')).toBe(true);
  });

  it('a stalled node (SIGSTOP/SIGCONT) does not declare its peers down and fences itself', async () => {
    c.child.kill('SIGSTOP');
    // The others stop hearing from c and declare it down.
    await Promise.all([
      membersOf(a, ['d', 'e'], DOWN_AFTER_MS + 5000),
      membersOf(d, ['a', 'e'], DOWN_AFTER_MS + 5000),
    ]);
    c.child.kill('SIGCONT');
    const after = await until('c to report its stall', 10_000, async () => {
      const v = await view(c);
      return v && v.stats.stalls > 0 ? v : undefined;
    });
    expect(after.lastStallAt).not.toBeNull();
    // The log line travels through a pipe, so it may arrive after the /members answer.
    await until('c to log its stall', 5000, () =>
      logged(c, 'event loop stalled') ? true : undefined,
    );
    // c rejoins everyone, stops being suspect, and never declared a live peer down.
    await Promise.all([peersOf(c, ['a', 'd', 'e']), peersOf(a, ['c', 'd', 'e'])]);
    await until(
      'c to stop suspecting itself',
      5000,
      async () => (await view(c))?.suspect === false,
    );
    const downLines = c.output.filter((l) => /peer [ade] \(.*down/.test(l));
    expect(downLines).toEqual([]);
  });
});
