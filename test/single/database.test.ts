// A node on PostgreSQL, as an operator sees it: started before its database answers, it says
// so once, answers 503 and shows the database as down in /metrics and /admin/cluster, then
// becomes ready by itself when the database comes up. Two nodes on one database share
// accounts and logins, and a database lost while running does not stop games being served.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player } from '../support/player.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { join } from 'node:path';

const nodes: NodeProcess[] = [];
const servers: PostgresServer[] = [];

function node(host: string, port: number, databaseUrl: string, nodeId: string): NodeProcess {
  const n = startNode({
    host,
    port,
    nodeId,
    databasePath: join(tempDir(), 'unused.db'),
    env: { DATABASE_URL: databaseUrl, ADMIN_TOKEN: TEST_ADMIN_TOKEN, DRAIN_WINDOW_MS: '0' },
  });
  nodes.push(n);
  return n;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.kill()));
});
afterAll(() => {
  for (const s of servers) s.stop();
});

async function admin(base: string): Promise<{
  state: string;
  database: { engine: string; state: string; outage: string | null; target: string };
}> {
  const res = await fetch(`${base}/admin/cluster.json`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  return (await res.json()) as never;
}

describe('a node on PostgreSQL', () => {
  it('waits for a database that is down at start: 503, one log line, gauge 0; then ready by itself', async () => {
    const pgPort = await freePort(['127.0.0.1']);
    const pg = await startPostgres({ port: pgPort });
    servers.push(pg);
    const url = await pg.createDatabase('node');
    pg.stop({ keep: true });

    const n = node('127.0.0.2', await freePort(), url, 'pg1');
    await waitFor(
      () => n.hasLog((l) => /unreachable: connection refused/.test(l.msg)),
      20_000,
      'the refused database to be logged',
    );
    const health = await fetch(`${n.url}/health_check`);
    expect(health.status).toBe(503);
    expect(await health.text()).toBe('starting');
    const page = await fetch(`${n.url}/login`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('still starting');
    expect(
      metricValue(await fetchMetrics(n.url), 'minotaur_database_up', {
        engine: 'postgres',
        node: 'pg1',
      }),
    ).toBe(0);
    const before = await admin(n.url);
    expect(before.database).toMatchObject({
      engine: 'postgres',
      state: 'connecting',
      outage: 'refused',
    });
    expect(before.database.target).not.toContain(pg.password);
    expect(n.raw.join('\n')).not.toContain(pg.password);

    pg.restart();
    await n.ready(30_000);
    expect(
      metricValue(await fetchMetrics(n.url), 'minotaur_database_up', { engine: 'postgres' }),
    ).toBe(1);
    expect((await admin(n.url)).database).toMatchObject({ state: 'up', outage: null });
    const refused = n.lines.filter((l) => /unreachable: connection refused/.test(l.msg));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.level).toBe('warn');
    await n.logged(
      (l) =>
        /^database postgres:\/\/minotaur:\*\*\*@127\.0\.0\.1:\d+\/\S+ reachable after \d+ attempts/.test(
          l.msg,
        ),
      'database reachable',
    );
    await n.logged((l) => l.msg === 'migration 001_init applied', 'migration applied');
    // The admin page shows the same.
    const html = await (
      await fetch(`${n.url}/admin/cluster/members`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      })
    ).text();
    expect(html).toMatch(/PostgreSQL[\s\S]*state-db-up/);
  });

  it('shares accounts and logins between nodes; a lost database gives a clear 503 and comes back', async () => {
    const pg = await startPostgres();
    servers.push(pg);
    const url = await pg.createDatabase('pair');
    const port = await freePort();
    const [a, b] = [node('127.0.0.2', port, url, 'pa'), node('127.0.0.3', port, url, 'pb')];
    await Promise.all([a.ready(30_000), b.ready(30_000)]);

    // The session cookie from node a is a login on node b (sessions live in PostgreSQL), at
    // once: the redirect after signing up is only answered once the session is saved.
    // Regression: express-session answered first and saved after, so a quick next request
    // (here on the other node) found no login.
    const players = Array.from({ length: 12 }, (_, i) => new Player(a.url, `hero${i}`));
    for (const p of players) {
      await p.signup();
      p.base = b.url;
      const lobby = await p.request('/lobby');
      expect(lobby.status, p.username).toBe(200);
      expect(await lobby.text()).toContain(p.username);
    }
    const ariadne = new Player(a.url, 'ariadne');
    await ariadne.signup();
    ariadne.base = b.url;
    // Same name in other letters, on the other node: taken.
    const rival = new Player(b.url, 'ARIADNE');
    await expect(rival.signup()).rejects.toThrow(/409/);

    pg.stop({ keep: true, crash: true });
    await waitFor(
      async () => metricValue(await fetchMetrics(b.url), 'minotaur_database_up') === 0,
      20_000,
      'node b to see the database down',
    );
    const down = await ariadne.request('/leaderboard');
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('We cannot reach our records right now');
    // Still ready: it can serve running games from memory.
    expect((await fetch(`${b.url}/health_check`)).status).toBe(200);
    await b.logged((l) => l.level === 'warn' && /^database \S+ down: /.test(l.msg), 'outage');

    pg.restart();
    await waitFor(
      async () => metricValue(await fetchMetrics(b.url), 'minotaur_database_up') === 1,
      30_000,
      'node b to see the database again',
    );
    expect((await ariadne.page('/leaderboard')).status).toBe(200);
    await b.logged((l) => /^database \S+ answers again after \d+\.\d s$/.test(l.msg), 'recovery');
  });

  it('gives a player one form token from the moment they log in, whatever pages load at once', async () => {
    // Regression: the token was made by the first page a session loaded. Pages loaded at once
    // right after logging in (several tabs, or the lobby's parallel requests) each made one and
    // saved it, the last save winning, so a form from the other pages failed "That form has
    // expired" (seen as 1 game in 8 refused when one account opened games in parallel).
    const pg = await startPostgres();
    servers.push(pg);
    const n = node('127.0.0.2', await freePort(), await pg.createDatabase('tokens'), 'pt');
    await n.ready(30_000);
    for (const how of ['signup', 'login'] as const) {
      const p = new Player(n.url, `theseus-${how}`);
      if (how === 'signup') await p.signup();
      else {
        await new Player(n.url, p.username).signup();
        const res = await p.login();
        expect(res.status).toBe(303);
      }
      const pages = await Promise.all(Array.from({ length: 12 }, () => p.page('/lobby')));
      expect(new Set(pages.map((x) => x.csrf)).size, how).toBe(1);
      const created = await Promise.all(
        pages.slice(0, 3).map((x) =>
          p.request('/lobby/games', {
            method: 'POST',
            body: new URLSearchParams({ _csrf: x.csrf }),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        ),
      );
      expect(
        created.map((r) => r.status),
        how,
      ).toEqual([303, 303, 303]);
    }
  });
});
