// The whole cluster stopped (SIGTERM) while PostgreSQL is away, and the database back a few
// seconds later, inside the shutdown budget. An action sent during the outage is applied in
// the owner's memory (and its peers') but not acknowledged: nothing could save it, and the page
// keeps it to send again. No node is ready to take the games, so each is left for the database,
// which does not answer. The nodes wait for it within their budget, write what they hold, and
// exit 0; the next node resumes the game with that action in it, and the page's resend is then
// acknowledged as the one it is.

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { logLines, waitFor } from '../support/node-process.js';
import { Player, openStartedGame } from '../support/player.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
let server: PostgresServer | undefined;

afterAll(async () => {
  await rig?.close();
  server?.stop();
});

describe('the whole cluster stopped during a database outage', () => {
  it('waits for the database within its budget, so an action sent meanwhile is kept, and acknowledged once saved', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('stopout');
    rig = await Rig.create({
      roundSeconds: 60,
      env: { DATABASE_URL: url, SHUTDOWN_TIMEOUT_MS: '15000', DRAIN_WINDOW_MS: '1000' },
    });
    const nodes = await rig.startThree();
    const n1 = nodes[0]!;
    await waitFor(
      async () => metricValue(await fetchMetrics(n1.url), 'minotaur_mesh_peers') === 2,
      15_000,
      'n1 to see both peers',
    );
    const tag = Date.now().toString(36).slice(-5);
    const a = new Player(n1.url, `oa${tag}`);
    const b = new Player(n1.url, `ob${tag}`);
    const code = await openStartedGame([a, b]);
    const live = a.connect(code);
    await live.opened;

    server.stop({ keep: true });
    // Not acknowledged: neither the owner nor a peer can save it (a peer holding it would not
    // keep it from a node that reaches the database first). The page is told to send it again.
    const actionId = randomUUID();
    const reply = await live.act(1, 'defend', undefined, actionId, 15_000);
    expect(reply, JSON.stringify(reply)).toMatchObject({
      type: 'error',
      code: 'unavailable',
      retry: true,
    });
    live.close();

    for (const n of nodes) rig.removeFromDns(n);
    for (const n of nodes) n.signal('SIGTERM');
    await waitFor(
      () => logLines(nodes, /waiting for the database before stopping/).length > 0,
      10_000,
      'a node to wait for the database',
    );
    // Back only after the drain window (1 s) has ended: the node's own lease renewals, which
    // also write what it kept, stop with the node; only the wait keeps the writes alive.
    await new Promise((r) => setTimeout(r, 3000));
    expect(nodes.filter((n) => n.alive).length).toBeGreaterThan(0);
    server.restart();
    await waitFor(() => nodes.every((n) => !n.alive), 20_000, 'every node to exit');
    for (const n of nodes) expect(n.exitCode, rig.tail(40)).toBe(0);
    expect(logLines(nodes, /the database answered: everything saved before stopping/).length).toBe(
      logLines(nodes, /waiting for the database before stopping/).length,
    );
    expect(logLines(nodes, /unsaved: the database did not answer in time/)).toHaveLength(0);

    // The next node resumes the game from the database, with the action in it: the same action
    // sent again is a duplicate, and another one for the round is refused as already chosen.
    const n4 = rig.start('n4', '127.0.0.5');
    await n4.ready();
    a.base = n4.url;
    const again = a.connect(code);
    await again.opened;
    // Sent at once, as a reconnecting page resends what was not acknowledged: the node reads
    // the session from the database meanwhile, and keeps the frame for the socket.
    const resent = await again.act(1, 'defend', undefined, actionId, 15_000);
    expect(resent.type, JSON.stringify(resent)).toBe('ack');
    expect(resent.duplicate).toBe(true);
    const other = await again.act(1, 'defend', undefined, randomUUID(), 15_000);
    expect(other.code, JSON.stringify(other)).toBe('already-submitted');
    again.close();
  }, 120_000);
});
