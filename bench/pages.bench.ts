// Benchmark (not a timed test): page throughput, on SQLite and on PostgreSQL side by side.
// Run: npx tsx bench/pages.bench.ts [--quick]
//
// autocannon (20 connections, 10 s each) against GET /leaderboard and GET /lobby (with a
// logged-in player's session cookie: a session read, an account read, the player's record and
// the session's expiry written back on every request) of two nodes: one on a SQLite file, one
// on a private PostgreSQL server (Debian's, on this machine, fsync off), both holding the same
// seeded history (120 accounts, 1,500 finished games). The baseline in the same run is a bare
// Express 5 app in its own process answering each path with a static string of the same size.
// autocannon, both nodes and PostgreSQL share this machine's cores.

import autocannon from 'autocannon';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStorage, type StorageTarget } from '../src/db/storage.js';
import { freePort, startNode, tempDir } from '../test/support/node-process.js';
import { startPostgres } from '../test/support/postgres.js';
import {
  NODE_ENV_BASE,
  QUICK,
  fmt,
  machine,
  onCleanup,
  runBench,
  signupMany,
  spawnModule,
  table,
  track,
} from './support.js';

const DURATION_S = QUICK ? 2 : 10;
const CONNECTIONS = 20;
const ACCOUNTS = 120;
const GAMES = 1500;

interface Row {
  target: string;
  bytes: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function hammer(
  target: string,
  url: string,
  headers: Record<string, string>,
  bytes: number,
): Promise<Row> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers,
    timeout: 10,
  });
  return {
    target,
    bytes,
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
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
setTimeout(() => process.exit(0), ${(DURATION_S * 8 + 60) * 1000}).unref();
`;

/** The same history in each database: accounts and finished games (deterministic). */
async function seed(target: StorageTarget): Promise<void> {
  const storage = openStorage(target, {
    logger: pino({ level: 'silent' }),
    sessions: { pruneIntervalMs: 0 },
  });
  try {
    await storage.migrate();
    const ids: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const created = await storage.accounts.create(`hero${i}`, 'scrypt$seed');
      if (created.ok) ids.push(created.account.id);
    }
    let x = 7;
    const next = (n: number) => (x = (x * 48271) % 2147483647) % n;
    for (let g = 0; g < GAMES; g++) {
      const players = [
        ...new Set([next(ids.length), next(ids.length), next(ids.length), next(ids.length)]),
      ].map((i) => ids[i]!);
      const winner = players[next(players.length)]!;
      await storage.results.record({
        gameId: `seed-${g}`,
        code: 'SEED',
        finishedAt: 1_700_000_000_000 + g * 60_000,
        rounds: 5 + next(20),
        winnerId: winner,
        players: players.map((id) => ({
          accountId: id,
          won: id === winner,
          eliminatedRound: id === winner ? null : 1 + next(5),
        })),
      });
    }
  } finally {
    await storage.close();
  }
}

async function main(): Promise<{ rows: Row[]; durationS: number; connections: number }> {
  console.log(
    `Page throughput — autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per target; SQLite and PostgreSQL side by side`,
  );
  console.log(
    `machine: ${machine()} (autocannon, both nodes and PostgreSQL run on the same machine)`,
  );
  const pg = await startPostgres();
  onCleanup(() => pg.stop());
  const engines: {
    name: string;
    target: StorageTarget;
    host: string;
    env: Record<string, string>;
  }[] = [];
  const sqlitePath = join(tempDir('minotaur-bench-pages-'), 'minotaur.db');
  engines.push({
    name: 'SQLite',
    target: { engine: 'sqlite', path: sqlitePath },
    host: '127.0.0.2',
    env: {},
  });
  const url = await pg.createDatabase('bench');
  engines.push({
    name: 'PostgreSQL',
    target: { engine: 'postgres', url },
    host: '127.0.0.4',
    env: { DATABASE_URL: url },
  });
  for (const e of engines) await seed(e.target);
  console.log(`seeded each database with ${ACCOUNTS} accounts and ${GAMES} finished games`);

  const port = await freePort(['127.0.0.2', '127.0.0.4']);
  const nodes = await Promise.all(
    engines.map(async (e) => {
      const node = track(
        startNode({
          host: e.host,
          port,
          nodeId: `pages-${e.name.toLowerCase()}`,
          databasePath: e.target.engine === 'sqlite' ? e.target.path : sqlitePath,
          env: { ...NODE_ENV_BASE, ...e.env },
        }),
      );
      await node.ready(30_000);
      const [player] = await signupMany(node.url, 1, 'pg', 1);
      return { ...e, node, headers: { cookie: player!.cookie } };
    }),
  );

  const size = async (base: string, path: string, headers: Record<string, string>) => {
    const res = await fetch(base + path, { headers });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return Buffer.byteLength(await res.text());
  };
  const first = nodes[0]!;
  const sizes = {
    '/leaderboard': await size(first.node.url, '/leaderboard', first.headers),
    '/lobby': await size(first.node.url, '/lobby', first.headers),
  };
  const { child, firstLine } = spawnModule(BARE_APP(sizes));
  onCleanup(() => void child.kill());
  const bare = `http://127.0.0.3:${Number(await firstLine)}`;

  const rows: Row[] = [];
  for (const path of Object.keys(sizes) as (keyof typeof sizes)[]) {
    for (const n of nodes) {
      const headers = path === '/lobby' ? n.headers : {};
      rows.push(
        await hammer(
          `minotaur on ${n.name}: GET ${path}`,
          n.node.url + path,
          headers,
          await size(n.node.url, path, n.headers),
        ),
      );
    }
    rows.push(
      await hammer(
        `baseline: bare Express 5, static ${path}-sized string`,
        bare + path,
        {},
        sizes[path],
      ),
    );
  }
  child.kill();
  await Promise.all(nodes.map((n) => n.node.kill()));
  console.log('');
  console.log(
    table(
      ['target', 'body bytes', 'req/s', 'latency p50 ms', 'latency p99 ms', 'non-2xx', 'errors'],
      rows.map((r) => [
        r.target,
        String(r.bytes),
        fmt(r.reqPerSec, 0),
        fmt(r.p50, 0),
        fmt(r.p99, 0),
        String(r.non2xx),
        String(r.errors),
      ]),
    ),
  );
  return { rows, durationS: DURATION_S, connections: CONNECTIONS };
}

await runBench('pages', QUICK ? 90_000 : 200_000, main);
