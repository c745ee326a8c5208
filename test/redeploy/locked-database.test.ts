// Three nodes on one host share one SQLite file, and another process takes its write lock and
// holds it for 7 s, as a node frozen (SIGSTOP, a paused VM) in the middle of a write does, or a
// backup, or an operator's open sqlite3 shell. No node's event loop stops meanwhile: each
// answers at once, none reports a stalled loop or declares a peer down. Their writes wait for
// the lock, then fail as a database outage (`locked`), so the games wait as in any outage and
// nothing is acknowledged that no database holds. Once the lock is released the games go on
// from the round they were in, and no acknowledged action was lost (checkAll in check-all.ts).
//
// Before the fix, the driver waited for the lock inside each call, with the event loop stopped:
// every node of the host froze for 5 s per statement, and the peers declared each other down.

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
let holder: Database.Database | undefined;

afterAll(async () => {
  if (holder?.open) holder.close();
  await rig?.close();
});

const HOLD_MS = 7000;

interface SavesFailing {
  since: number;
  outage: string | null;
}

/** Each node's `database.savesFailing` as /admin/cluster.json shows it. */
async function savesOf(nodes: NodeProcess[]): Promise<(SavesFailing | null)[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const res = await fetch(`${n.url}/admin/cluster.json`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      return ((await res.json()) as { database: { savesFailing: SavesFailing | null } }).database
        .savesFailing;
    }),
  );
}

describe('the SQLite file locked by another process for 7 s under play', () => {
  it('keeps every node answering and every acknowledged action; the games go on after', async () => {
    rig = await Rig.create({ roundSeconds: 2 });
    const nodes = await rig.startThree();
    await rig.setupGames(3, 3, nodes);
    rig.sampler.start();
    await rig.roundsPass(1);
    const from = nodes.map((n) => n.lines.length);

    holder = new Database(rig.dbPath);
    holder.exec('begin immediate');
    const lockedAt = Date.now();
    const slowest = new Map<string, number>(nodes.map((n) => [n.url, 0]));
    while (Date.now() - lockedAt < HOLD_MS) {
      await Promise.all(
        nodes.map(async (n) => {
          const started = performance.now();
          const res = await fetch(`${n.url}/health_check`);
          await res.arrayBuffer();
          const ms = Math.round(performance.now() - started);
          slowest.set(n.url, Math.max(slowest.get(n.url)!, ms));
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    // Operators see why: the database is up (reads go on) while saves fail for the lock.
    await waitFor(
      async () => (await savesOf(nodes)).some((v) => v?.outage === 'locked'),
      10_000,
      "a node's saves failing for the lock",
    );
    const failingNode = nodes[(await savesOf(nodes)).findIndex((v) => v !== null)]!;
    const during = await fetchMetrics(failingNode.url);
    expect(metricValue(during, 'minotaur_database_up')).toBe(1);
    expect(metricValue(during, 'minotaur_game_saves_failing_seconds')).toBeGreaterThan(0);
    holder.exec('commit');
    holder.close();
    const page = await (
      await fetch(`${nodes[0]!.url}/admin/cluster`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      })
    ).text();
    expect(page).toContain('game saves');
    await waitFor(
      async () => (await savesOf(nodes)).every((v) => v === null),
      15_000,
      'every node to save again',
    );
    for (const n of nodes)
      expect(metricValue(await fetchMetrics(n.url), 'minotaur_game_saves_failing_seconds')).toBe(0);

    const logged = nodes.flatMap((n, i) => n.lines.slice(from[i]));
    // The lock was felt: writes waited their budget and failed as an outage.
    expect(
      logged.some((l) =>
        /^database unavailable \(another process holds the write lock/.test(l.msg),
      ),
      rig.tail(20),
    ).toBe(true);
    // ... and no event loop stopped for it: a node logs a stall of its own from 1.25 s
    // (HEARTBEAT_MS 250, PEER_DOWN_MS 1500), and its peers would have declared it down. Its
    // health check, measured from this process on a loaded machine, is only held well under the
    // 5 s per statement each node stood still for before the fix.
    for (const [node, ms] of slowest) expect(ms, `${node}'s slowest answer`).toBeLessThan(3000);
    expect(
      logged.filter((l) => /event loop stalled|^peer \S+ .*down/.test(l.msg)).map((l) => l.msg),
    ).toEqual([]);

    await rig.roundsPass(2, 30_000);
    await checkAll(rig, 'locked-database', {
      holdMs: HOLD_MS,
      slowest: Object.fromEntries(slowest),
    });
  });
});
