// A game handed over, at a rolling update, to a node whose host clock runs 20 s ahead
// (libfaketime), on PostgreSQL: real processes. The node keeps the database's time (it steers
// its clock at each lease renewal), so the round it adopts ends at its deadline, not the moment
// it arrives, the next round lasts a round, and its pages count down from the database's time.
// A node that kept its host's time would have found the deadline 20 s gone and resolved the
// round at once, and would have given the next one 20 s more.

import { afterAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';
import { clockOffEnv } from '../support/faketime.js';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { waitFor } from '../support/node-process.js';
import { Player, openStartedGame } from '../support/player.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { Rig } from '../support/redeploy-rig.js';

const ROUND_MS = 8000;
const AHEAD_MS = 20_000;

let rig: Rig | undefined;
let server: PostgresServer | undefined;

afterAll(async () => {
  await rig?.close();
  server?.stop();
});

describe('a handoff to a node whose host clock runs 20 s ahead', () => {
  it("keeps the round's deadline: the round ends when it was due, and the next lasts a round", async () => {
    server = await startPostgres();
    const url = await server.createDatabase('skewhandoff');
    rig = await Rig.create({ roundSeconds: ROUND_MS / 1000, env: { DATABASE_URL: url } });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    rig.lb.add(n1);
    const tag = Date.now().toString(36).slice(-5);
    const code = await openStartedGame([
      new Player(n1.url, `ka${tag}`),
      new Player(n1.url, `kb${tag}`),
    ]);
    expect((await adminGame(n1.url, code)).owner).toBe('n1');

    const n2 = rig.start('n2', '127.0.0.3', { env: clockOffEnv(AHEAD_MS) });
    await n2.ready();
    rig.lb.add(n2);
    await waitFor(
      async () => metricValue(await fetchMetrics(n1.url), 'minotaur_mesh_peers') === 1,
      15_000,
      'n1 to see n2',
    );
    // n2 knows how far its host is off, and keeps the database's time (this machine's).
    const offset = metricValue(
      await fetchMetrics(n2.url),
      'minotaur_database_clock_offset_seconds',
    );
    expect(Math.abs(offset! - AHEAD_MS / 1000)).toBeLessThan(0.5);

    // Start-first: n1 leaves and hands the game over with at least 4 s of its round left.
    const before = await rig.freshRound(code, 4000);
    rig.removeFromDns(n1);
    rig.lb.delete(n1);
    n1.signal('SIGTERM');
    const adopted = await waitFor(
      async () => {
        const r = await adminGame(n2.url, code).catch(() => null);
        return r?.owner === 'n2' ? r : null;
      },
      10_000,
      `n2 to adopt ${code}`,
    );
    expect(adopted.state.round).toBe(before.state.round);
    expect(adopted.state.deadline).toBe(before.state.deadline);

    // Nobody acts: the round ends on its deadline, by the database's clock, not at once.
    const next = await waitFor(
      async () => {
        const r = await adminGame(n2.url, code);
        return r.state.round > before.state.round ? { r, at: Date.now() } : null;
      },
      ROUND_MS + 10_000,
      `round ${before.state.round} of ${code} to end`,
      20,
    );
    const deadline = before.state.deadline!;
    expect(next.at).toBeGreaterThanOrEqual(deadline - 300);
    expect(next.at).toBeLessThan(deadline + 2000);
    expect(Math.abs(next.r.state.deadline! - (next.at + ROUND_MS))).toBeLessThan(1500);

    // A page on n2 is told the database's time, against which it counts down.
    const viewer = new Player(n2.url, `kc${tag}`);
    await viewer.signup();
    const live = viewer.connect(code);
    await live.opened;
    const time = await waitFor(
      () => live.messages.find((m) => m.json?.type === 'time')?.json,
      5000,
      'the time message',
    );
    expect(Math.abs(Number(time.now) - Date.now())).toBeLessThan(1000);
    live.close();
  }, 90_000);
});
