// A network cut between two nodes that both still reach the database: real processes on
// loopback, cut by iptables rules that drop what either sends the other (root, as CI runs).
// A page on one node for a game the other runs is closed with 1012 once the other is seen
// alive beyond the cut (it keeps renewing its lease), so that the load balancer can take it to
// the game's side; new ones are refused with 503 meanwhile. Once the cut heals they open again.
// Twice: on SQLite (one host, one clock), and on PostgreSQL with n2's clock 20 s ahead of n1's
// (libfaketime), where a lease aged by each node's own clock would have looked 20 s old to n2
// and n2 would have taken a live owner's game over.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { TestCluster, metricsOf } from '../support/cluster.js';
import { metricValue } from '../support/metrics.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { Player, type LiveConnection } from '../support/player.js';
import { clockOffEnv, faketimeMissing } from '../support/faketime.js';
import { loopbackCut, loopbackCutUnavailable } from '../support/loopback-cut.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

const HOSTS = ['127.0.5.2', '127.0.5.3'];
const links = loopbackCut([[HOSTS[0]!, HOSTS[1]!]], 'minotaur-cut-test');

function unavailable(skewed: boolean): string | null {
  return loopbackCutUnavailable() ?? (skewed ? faketimeMissing() : null);
}

interface Case {
  name: string;
  /** n2's clock, this far ahead of n1's (ms); on PostgreSQL when set. */
  skewMs: number;
}

const CASES: Case[] = [
  { name: 'on SQLite, one clock', skewMs: 0 },
  { name: "on PostgreSQL, n2's clock 20 s ahead of n1's", skewMs: 20_000 },
];

describe.each(CASES)('a network cut between the nodes, $name', ({ skewMs }) => {
  let cluster: TestCluster | undefined;
  let server: PostgresServer | undefined;
  let n1: NodeProcess, n2: NodeProcess;
  const conns: LiveConnection[] = [];

  beforeAll(async () => {
    const why = unavailable(skewMs !== 0);
    if (why) throw new Error(why);
    links.heal(); // rules an interrupted run left
    const env: Record<string, string> = { ROUND_SECONDS: '2' };
    if (skewMs !== 0) {
      server = await startPostgres();
      env.DATABASE_URL = await server.createDatabase('cut');
    }
    cluster = await TestCluster.create({ env });
    cluster.setDns(HOSTS);
    n1 = cluster.add(HOSTS[0]!, { nodeId: 'n1' });
    n2 = cluster.add(HOSTS[1]!, {
      nodeId: 'n2',
      env: skewMs === 0 ? {} : clockOffEnv(skewMs),
    });
    await Promise.all([n1.ready(30_000), n2.ready(30_000)]);
  }, 60_000);

  afterAll(async () => {
    links.heal();
    for (const c of conns) c.ws.terminate();
    await cluster?.close();
    server?.stop();
  });

  function live(c: LiveConnection): LiveConnection {
    conns.push(c);
    return c;
  }

  it('moves pages away from the side of the cut that cannot reach their game, and lets them back once it heals', async () => {
    const owner = new Player(n1.url, `minos${cluster!.port}`);
    await owner.signup();
    const code = await owner.createGame(); // runs on n1, where it was created
    const there = new Player(n2.url, owner.username, owner.password);
    there.cookie = owner.cookie;
    const far = live(there.connect(code));
    await far.opened;

    links.cut();
    // n2 declares n1 down, then sees it renew its lease: a cut, not a loss.
    await waitFor(() => far.closeCode !== null, 15_000, 'the page on n2 to be closed');
    expect(far.closeCode).toBe(1012);
    const refused = live(there.connect(code));
    await expect(refused.opened).rejects.toThrow();
    expect(refused.unexpectedResponse).toBe(503);
    expect(n2.hasLog((l) => /renews its lease but the mesh cannot reach it/.test(l.msg))).toBe(
      true,
    );
    // The game goes on where it runs, and its page opens there.
    const near = live(owner.connect(code));
    await near.opened;
    expect(n2.hasLog((l) => new RegExp(`game ${code} adopted`).test(l.msg))).toBe(false);

    links.heal();
    await waitFor(
      async () => {
        const again = live(there.connect(code));
        return again.opened.then(
          () => true,
          () => false,
        );
      },
      20_000,
      'a page of the game to open on n2 again',
      500,
    );
    const metrics = await metricsOf(n2);
    expect(metricValue(metrics, 'minotaur_live_moved_total')).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(metrics, 'minotaur_ws_rejected_total', { reason: 'owner-beyond-cut' }),
    ).toBeGreaterThanOrEqual(1);
    // How far each node's clock is from the database's, and the warning for the one that is off.
    const offset = async (n: NodeProcess) =>
      metricValue(await metricsOf(n), 'minotaur_database_clock_offset_seconds');
    expect(Math.abs((await offset(n1))!)).toBeLessThan(0.5);
    expect(Math.abs((await offset(n2))! - skewMs / 1000)).toBeLessThan(0.5);
    expect(n2.hasLog((l) => /clock is [\d.]+ s ahead of the database's/.test(l.msg))).toBe(
      skewMs !== 0,
    );
    const card = await fetch(`${n2.url}/admin/cluster/members`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    }).then((r) => r.text());
    expect(card).toContain(
      skewMs === 0 ? "in step with the database's" : "20.0 s ahead of the database's",
    );
  }, 60_000);
});
