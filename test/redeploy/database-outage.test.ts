// PostgreSQL away for about 30 s while three nodes run games: frozen first (connections open,
// nothing answers, as behind a link that drops packets), then stopped. Every node stays ready,
// the operators see the outage and the writes waiting for it, and a player's pages still answer
// from what the node last read (but not from a session logged out on another node before it).
// The games wait: an action is acknowledged only once a database holds it (a node that reached
// the database could take a game over from the saved row, so a copy in the nodes' memory
// vouches for nothing), so no action is acknowledged and no round resolves; the players'
// actions are kept and sent again. When the database is back, the
// waiting saves go in, the games go on from the round they were in, a game of two players who
// never act finishes (the Minotaur reaches one of them) and its result is recorded once, logins
// and sign-ups work, and nothing acknowledged was lost (test/support/bots.ts checkInvariants).

import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { checkInvariants } from '../support/invariants.js';
import { fetchMetrics, metricValue } from '../support/metrics.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { Player, openStartedGame } from '../support/player.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
let server: PostgresServer | undefined;

afterAll(async () => {
  await rig?.close();
  server?.stop();
});

interface DatabaseJson {
  state: string;
  outage: string | null;
  waiting: { snapshots: number; results: number };
}

async function database(node: NodeProcess): Promise<DatabaseJson> {
  const res = await fetch(`${node.url}/admin/cluster.json`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  return ((await res.json()) as { database: DatabaseJson }).database;
}

async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('PostgreSQL away for 30 s under play', () => {
  it('keeps every node ready, holds the games without losing an action, and goes on when it is back', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('outage');
    rig = await Rig.create({ roundSeconds: 2, env: { DATABASE_URL: url } });
    const nodes = await rig.startThree();
    await rig.setupGames(3, 3, nodes);
    rig.sampler.start();
    await rig.roundsPass(1);
    // Two players who never act: the game finishes once the Minotaur has reached one of them
    // (about ten rounds), after the outage.
    const pair = [
      new Player(nodes[0]!.url, `pairA${Date.now().toString(36)}`),
      new Player(nodes[0]!.url, `pairB${Date.now().toString(36)}`),
    ];
    const pairCode = await openStartedGame(pair);
    const pairGame = await waitFor(
      async () => {
        const r = await rig!.newest(pairCode);
        return r.state.status === 'playing' ? r : false;
      },
      5000,
      `${pairCode} playing`,
    );
    const pairOwner = rig.node(pairGame.owner);

    // A session that ended on one node is not answered from another's memory in the outage: a
    // browser logged in, seen on n2, then logged out on n1.
    const leaver = new Player(nodes[0]!.url, `leaver${Date.now().toString(36)}`);
    await leaver.signup();
    const sameCookie = new Player(nodes[1]!.url, leaver.username);
    sameCookie.cookie = leaver.sessionCookie;
    expect((await sameCookie.page('/lobby')).html).toContain(leaver.username);
    expect((await leaver.post('/logout', {}, '/lobby')).status).toBe(303);
    await nodes[1]!.logged(
      (l) => l.msg === "dropped this node's copies of 1 ended sessions" && l.toldBy !== undefined,
      "n2 to drop its copy of the ended session when n1's notice came",
    );
    // A profile the node showed before the outage it shows during it.
    const profile = `/players/${pair[1]!.username}`;
    expect((await pair[0]!.page(profile)).status).toBe(200);

    // ── frozen: connections stay open, nothing answers ──
    const outageAt = Date.now();
    server.pause();
    await waitFor(
      async () =>
        (
          await Promise.all(
            nodes.map(async (n) => metricValue(await fetchMetrics(n.url), 'minotaur_database_up')),
          )
        ).every((v) => v === 0),
      20_000,
      'every node to see the frozen database down',
    );
    const acksBefore = rig.bots.reduce((n, b) => n + b.acks.length, 0);
    const roundsBefore = new Map<string, number>();
    for (const c of rig.codes) roundsBefore.set(c, (await rig.newest(c)).state.round);
    // Five rounds' time: the bots go on sending actions, each refused as not saved yet.
    await new Promise((r) => setTimeout(r, 10_000));
    for (const n of nodes)
      expect((await fetch(`${n.url}/health_check`)).status, n.opts.nodeId).toBe(200);
    // Saves of the running games wait in memory.
    await waitFor(
      async () => (await Promise.all(nodes.map(database))).some((d) => d.waiting.snapshots > 0),
      10_000,
      'saves waiting on an owner',
    );
    const frozenFor = Date.now() - outageAt;

    // ── stopped: connections refused ──
    server.stop({ keep: true });
    // A player's pages answer from what the node last read (session, account, record).
    const page = await pair[1]!.page(`/games/${pairCode}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(pair[1]!.username);
    expect((await pair[0]!.page('/lobby')).status).toBe(200);
    const ended = await sameCookie.page('/lobby');
    expect(ended.status).toBe(503);
    expect(ended.html).not.toContain(leaver.username);
    const shown = await pair[0]!.page(profile);
    expect(shown.status).toBe(200);
    expect(shown.html).toContain(`${pair[1]!.username}</h1>`);
    // One it never read, it cannot.
    expect((await pair[0]!.page(`/players/${leaver.username}`)).status).toBe(503);
    expect((await database(pairOwner)).state).toBe('down');
    expect(metricValue(await fetchMetrics(pairOwner.url), 'minotaur_database_up')).toBe(0);
    const remaining = 30_000 - (Date.now() - outageAt);
    // The outage lasts 30 s; the games wait meanwhile.
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
    for (const n of nodes)
      expect((await fetch(`${n.url}/health_check`)).status, n.opts.nodeId).toBe(200);
    // Nothing was acknowledged while nothing could be saved, and no round moved on by more than
    // the one that may have resolved as the database went (in memory, never shown).
    const acksDuring = rig.bots.reduce((n, b) => n + b.acks.length, 0) - acksBefore;
    expect(acksDuring).toBe(0);
    const refusedDuring = rig.bots.reduce(
      (n, b) => n + b.refusals.filter((r) => r.at > outageAt && r.code === 'unavailable').length,
      0,
    );
    expect(refusedDuring).toBeGreaterThan(0);
    for (const c of rig.codes)
      expect((await rig.newest(c)).state.round, c).toBeLessThanOrEqual(roundsBefore.get(c)! + 1);

    // ── back ──
    server.restart();
    const outageMs = Date.now() - outageAt;
    await waitFor(
      async () =>
        (await Promise.all(nodes.map(database))).every(
          (d) => d.state === 'up' && d.waiting.snapshots === 0 && d.waiting.results === 0,
        ),
      30_000,
      'every node to write what waited',
    );
    // The games go on, and the pair's game finishes.
    await rig.roundsPass(2, 15_000);
    await waitFor(
      async () => (await rig!.newest(pairCode)).state.status === 'finished',
      90_000,
      `${pairCode} to finish`,
      250,
    );
    await waitFor(
      async () =>
        Number(
          (
            await query<{ n: string }>(
              url,
              'SELECT count(*) AS n FROM results WHERE game_id = $1',
              [pairGame.state.id],
            )
          )[0]!.n,
        ) > 0,
      10_000,
      `the result of ${pairCode}`,
    );
    const [row] = await query<{ n: string }>(
      url,
      'SELECT count(*) AS n FROM results WHERE game_id = $1',
      [pairGame.state.id],
    );
    expect(Number(row!.n)).toBe(1);
    // Sign-ups and logins work again.
    const fresh = new Player(nodes[2]!.url, `after${Date.now().toString(36)}`);
    await fresh.signup();
    const again = new Player(nodes[1]!.url, pair[0]!.username);
    expect((await again.login()).status).toBe(303);
    // Their record counts the game that finished during the outage.
    const lobby = await again.page('/lobby');
    expect(lobby.status).toBe(200);
    expect(lobby.html).toMatch(
      /<span class="big">[01]<\/span> won of <span class="big">1<\/span> played/,
    );

    // Every running game's saved version is the newest record (no acknowledged write only in
    // memory).
    await rig.quiesce();
    let saved = false;
    const finals = await rig.finals(async (newest) => {
      saved = true;
      for (const [code, rec] of newest) {
        if (rec.state.status !== 'playing') continue;
        const [row] = await query<{
          epoch: number | string;
          owner: string;
          seq: number | string;
        }>(url, 'SELECT epoch, owner, seq FROM snapshots WHERE code = $1', [code]);
        if (
          !row ||
          Number(row.epoch) !== rec.epoch ||
          row.owner !== rec.owner ||
          Number(row.seq) !== rec.seq
        )
          saved = false;
      }
      return saved;
    });
    expect(saved, 'the saved snapshots to match the newest records').toBe(true);
    const inv = checkInvariants({
      codes: rig.codes,
      bots: rig.bots,
      nodes: rig.all,
      samples: rig.sampler.samples,
      finals,
    });
    expect(inv.violations, rig.tail(20)).toEqual([]);
    expect(Object.values(inv.summary).reduce((n, s) => n + s.rounds, 0)).toBeGreaterThan(0);
    expect(frozenFor).toBeGreaterThan(5000);
    expect(outageMs).toBeGreaterThanOrEqual(30_000);
  }, 180_000);
});
