// Benchmark (not a timed test): page throughput. Run: npx tsx bench/pages.bench.ts [--quick]
//
// autocannon (20 connections, 10 s each) against one node's GET /leaderboard and GET /lobby
// (with a logged-in player's session cookie), and, as the baseline in the same run, against a
// bare Express 5 app in its own process that answers each path with a static string of the
// same size as the node's page. autocannon runs in this process, on the same machine.

import autocannon from 'autocannon';
import { join } from 'node:path';
import { freePort, startNode, tempDir } from '../test/support/node-process.js';
import { NODE_ENV_BASE, QUICK, fmt, machine, onCleanup, runBench, signupMany, spawnModule, table, track } from './support.js';

const DURATION_S = QUICK ? 2 : 10;
const CONNECTIONS = 20;

interface Row {
  target: string;
  bytes: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function hammer(target: string, url: string, headers: Record<string, string>, bytes: number): Promise<Row> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers, timeout: 10 });
  return { target, bytes, reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

const BARE_APP = (sizes: Record<string, number>) => `
import express from 'express';
const app = express();
const bodies = ${JSON.stringify(sizes)};
for (const [path, n] of Object.entries(bodies)) {
  const body = '<!doctype html>' + 'x'.repeat(Math.max(0, n - 15));
  app.get(path, (_req, res) => res.type('html').send(body));
}
const server = app.listen(0, '127.0.0.3', () => console.log(server.address().port));
setTimeout(() => process.exit(0), ${(DURATION_S * 4 + 30) * 1000}).unref();
`;

async function main(): Promise<{ rows: Row[]; durationS: number; connections: number }> {
  console.log(`Page throughput — autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per target`);
  console.log(`machine: ${machine()} (autocannon runs on the same machine)`);
  const port = await freePort();
  const node = track(startNode({ host: '127.0.0.2', port, nodeId: 'pages', databasePath: join(tempDir('minotaur-bench-pages-'), 'minotaur.db'), env: NODE_ENV_BASE }));
  await node.ready(30_000);
  const [player] = await signupMany(node.url, 1, 'pg', 1);
  const headers = { cookie: player!.cookie };
  const size = async (path: string) => {
    const res = await fetch(node.url + path, { headers });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return Buffer.byteLength(await res.text());
  };
  const sizes = { '/leaderboard': await size('/leaderboard'), '/lobby': await size('/lobby') };
  const { child, firstLine } = spawnModule(BARE_APP(sizes));
  onCleanup(() => void child.kill());
  const barePort = Number(await firstLine);
  const bare = `http://127.0.0.3:${barePort}`;

  const rows: Row[] = [];
  for (const path of Object.keys(sizes) as (keyof typeof sizes)[]) {
    rows.push(await hammer(`minotaur GET ${path}`, node.url + path, path === '/lobby' ? headers : {}, sizes[path]));
    rows.push(await hammer(`baseline: bare Express 5, static ${path}-sized string`, bare + path, {}, sizes[path]));
  }
  child.kill();
  await node.kill();
  console.log('');
  console.log(
    table(
      ['target', 'body bytes', 'req/s', 'latency p50 ms', 'latency p99 ms', 'non-2xx', 'errors'],
      rows.map((r) => [r.target, String(r.bytes), fmt(r.reqPerSec, 0), fmt(r.p50, 0), fmt(r.p99, 0), String(r.non2xx), String(r.errors)]),
    ),
  );
  return { rows, durationS: DURATION_S, connections: CONNECTIONS };
}

await runBench('pages', QUICK ? 60_000 : 120_000, main);
