// One node cut off from PostgreSQL (its connections dropped, new ones refused) while it owns a
// game and its peer still reaches the database; then every node SIGKILLed the moment an action
// is acknowledged. The owner, unable to save the write, sent it for its peers to save, and
// acknowledged it once its peer had: the next node resumes the game with the action in it.

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { waitFor } from '../support/node-process.js';
import { Player, openStartedGame } from '../support/player.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { Rig } from '../support/redeploy-rig.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

let rig: Rig | undefined;
let server: PostgresServer | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await rig?.close();
  await proxy?.close();
  server?.stop();
});

describe('an owner cut off from the database, then the whole cluster killed', () => {
  it('keeps the action the owner acknowledged through its peer: the peer saved it before its ack', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('ownercut');
    proxy = await startTcpProxy({ host: server.host, port: server.port });
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    rig = await Rig.create({ roundSeconds: 60, env: { DATABASE_URL: url } });
    const n1 = rig.start('n1', '127.0.0.2', { env: { DATABASE_URL: viaProxy.toString() } });
    const n2 = rig.start('n2', '127.0.0.3');
    await Promise.all([n1.ready(), n2.ready()]);
    for (const n of [n1, n2]) rig.lb.add(n);
    await waitFor(
      async () => metricValue(await fetchMetrics(n1.url), 'minotaur_mesh_peers') === 1,
      15_000,
      'n1 to see n2',
    );
    const tag = Date.now().toString(36).slice(-5);
    const a = new Player(n1.url, `ca${tag}`);
    const b = new Player(n1.url, `cb${tag}`);
    const code = await openStartedGame([a, b]);
    expect((await adminGame(n1.url, code)).owner).toBe('n1');
    const live = a.connect(code);
    await live.opened;

    proxy.cut();
    // The owner cannot save it; its peer saves it, then acknowledges it, and only then does the
    // owner acknowledge it. Both nodes are killed at once: nothing waits for a later save.
    const actionId = randomUUID();
    const reply = await live.act(1, 'defend', undefined, actionId, 15_000);
    expect(reply.type, JSON.stringify(reply)).toBe('ack');
    expect(reply.duplicate).toBe(false);
    live.close();

    for (const n of [n1, n2]) {
      rig.removeFromDns(n);
      n.signal('SIGKILL');
    }
    await waitFor(() => !n1.alive && !n2.alive, 10_000, 'both nodes to die');

    // A new node resumes the game from the database: the action is in it (sent again, it is a
    // duplicate; another one for the round is refused as already chosen).
    const n3 = rig.start('n3', '127.0.0.4');
    await n3.ready();
    a.base = n3.url;
    const again = a.connect(code);
    await again.opened;
    const resent = await again.act(1, 'defend', undefined, actionId, 15_000);
    expect(resent.type, JSON.stringify(resent)).toBe('ack');
    expect(resent.duplicate, rig.tail(40)).toBe(true);
    const other = await again.act(1, 'defend', undefined, randomUUID(), 15_000);
    expect(other.code, JSON.stringify(other)).toBe('already-submitted');
    again.close();
  }, 120_000);
});
