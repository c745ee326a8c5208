// Everything a careless or hostile client can send, over the live socket and over HTTP. After
// each bad input the socket still answers, the node is healthy, and the games are untouched.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { LiveConnection, Player, roundIn } from '../support/player.js';
import { adminGame, essence, TEST_ADMIN_TOKEN, type AdminRecord } from '../support/admin.js';

const nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];
let node: NodeProcess;
const tag = String(Date.now() % 100000);
let a: Player; // X's creator
let b: Player; // plays X
let c: Player; // Y's creator
let d: Player; // plays Y
let s: Player; // a spectator of X
let x: string;
let y: string;

function track(conn: LiveConnection): LiveConnection {
  conns.push(conn);
  return conn;
}

async function shownRound(conn: LiveConnection, atLeast = 1): Promise<number> {
  return waitFor(
    () => {
      const r = roundIn(conn.latestPartial('game-status'));
      return r >= atLeast ? r : false;
    },
    10_000,
    `round ≥ ${atLeast} shown`,
  );
}

/** The socket still answers, the node is healthy, and the given games did not change at all. */
async function intact(
  conn: LiveConnection | null,
  baseline: Record<string, AdminRecord>,
): Promise<void> {
  if (conn) {
    expect(conn.closeCode).toBeNull();
    const since = conn.messages.length;
    conn.send({ type: 'ping' });
    await conn.nextJson((m) => m.type === 'time', since, 5000, 'time reply to a ping');
  }
  const health = await fetch(`${node.url}/health_check`);
  expect(health.status).toBe(200);
  for (const [code, before] of Object.entries(baseline)) {
    const now = await adminGame(node.url, code);
    expect(now.seq, `${code} written`).toBe(before.seq);
    expect(now.epoch).toBe(before.epoch);
    expect(essence(now.state)).toEqual(essence(before.state));
  }
}

async function snapshot(...codes: string[]): Promise<Record<string, AdminRecord>> {
  const out: Record<string, AdminRecord> = {};
  for (const code of codes) out[code] = await adminGame(node.url, code);
  return out;
}

/** Sends raw data and returns the next error the socket answers with. */
async function refusal(
  conn: LiveConnection,
  data: string | Buffer | object,
  opts: { binary?: boolean } = {},
): Promise<Record<string, unknown>> {
  const since = conn.messages.length;
  if (Buffer.isBuffer(data)) conn.ws.send(data, { binary: opts.binary ?? true });
  else conn.send(data);
  return conn.nextJson((m) => m.type === 'error', since, 5000, 'an error reply');
}

beforeAll(async () => {
  node = startNode({
    port: await freePort(),
    databasePath: join(tempDir(), 'bad.db'),
    env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '120' },
  });
  nodes.push(node);
  await node.ready();
  a = new Player(node.url, `ann${tag}`);
  b = new Player(node.url, `bob${tag}`);
  c = new Player(node.url, `cat${tag}`);
  d = new Player(node.url, `dan${tag}`);
  s = new Player(node.url, `sam${tag}`);
  for (const p of [a, b, c, d, s]) await p.signup();
  x = await a.createGame();
  await b.join(x);
  expect((await a.start(x)).status).toBe(303);
  y = await c.createGame();
  await d.join(y);
});

afterAll(async () => {
  for (const conn of conns) conn.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
});

describe('bad input on the game socket', () => {
  let ca: LiveConnection;

  it('plays round 1 normally, so stale rounds exist', async () => {
    ca = track(a.connect(x));
    const cb = track(b.connect(x));
    await Promise.all([ca.opened, cb.opened]);
    expect(await shownRound(ca)).toBe(1);
    expect(await ca.act(1, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
    expect(await cb.act(1, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
    expect(await shownRound(ca, 2)).toBe(2);
    cb.close();
  });

  const cases: [string, () => string | Buffer | object, string, { binary?: boolean }?][] = [
    ['malformed JSON', () => '{"type":"act",', 'malformed'],
    ['JSON that is not an object', () => '[1,2,3]', 'malformed'],
    ['JSON null', () => 'null', 'malformed'],
    [
      'a binary frame',
      () =>
        Buffer.from(
          JSON.stringify({ type: 'act', actionId: randomUUID(), round: 2, kind: 'defend' }),
        ),
      'binary',
      { binary: true },
    ],
    [
      'an oversized message (> 2 KiB)',
      () =>
        JSON.stringify({
          type: 'act',
          actionId: randomUUID(),
          round: 2,
          kind: 'defend',
          pad: 'x'.repeat(3000),
        }),
      'too-large',
    ],
    ['an unknown type', () => ({ type: 'hack', round: 2 }), 'unknown-type'],
    ['no type at all', () => ({ actionId: randomUUID(), round: 2, kind: 'defend' }), 'malformed'],
    ['an act without fields', () => ({ type: 'act' }), 'invalid'],
    ['an act without actionId', () => ({ type: 'act', round: 2, kind: 'defend' }), 'invalid'],
    [
      'an act without round',
      () => ({ type: 'act', actionId: randomUUID(), kind: 'defend' }),
      'invalid',
    ],
    [
      'a move without direction',
      () => ({ type: 'act', actionId: randomUUID(), round: 2, kind: 'move' }),
      'invalid',
    ],
    [
      'an invalid direction',
      () => ({ type: 'act', actionId: randomUUID(), round: 2, kind: 'move', dir: 'n' }),
      'invalid',
    ],
    [
      'an unknown kind',
      () => ({ type: 'act', actionId: randomUUID(), round: 2, kind: 'teleport' }),
      'invalid',
    ],
    [
      'a round that is not an integer',
      () => ({ type: 'act', actionId: randomUUID(), round: '2', kind: 'defend' }),
      'invalid',
    ],
    [
      'a markup actionId',
      () => ({ type: 'act', actionId: '<script>alert(1)</script>', round: 2, kind: 'defend' }),
      'invalid',
    ],
    [
      'an extra field naming another game',
      () => ({ type: 'act', actionId: randomUUID(), round: 2, kind: 'defend', game: 'ZZZZ' }),
      'invalid',
    ],
    [
      'a prototype-polluting key',
      () =>
        '{"type":"act","actionId":"aaaaaaaa-1","round":2,"kind":"defend","__proto__":{"admin":true}}',
      'invalid',
    ],
    [
      'an action for a past round',
      () => ({ type: 'act', actionId: randomUUID(), round: 1, kind: 'defend' }),
      'stale-round',
    ],
    [
      'an action for a future round',
      () => ({ type: 'act', actionId: randomUUID(), round: 3, kind: 'defend' }),
      'future-round',
    ],
  ];

  for (const [name, make, code, opts] of cases) {
    it(`refuses ${name} (${code}) and stays fine`, async () => {
      const baseline = await snapshot(x, y);
      const err = await refusal(ca, make(), opts);
      expect(err).toMatchObject({ type: 'error', code });
      expect(typeof err.message).toBe('string');
      expect(String(err.message).length).toBeGreaterThan(5);
      await intact(ca, baseline);
    });
  }

  it('refuses an action from a spectator (not in the game)', async () => {
    const baseline = await snapshot(x, y);
    const cs = track(s.connect(x));
    await cs.opened;
    await shownRound(cs, 2);
    expect(cs.latestPartial('game-actions')).toContain('Spectating');
    expect(await cs.act(2, 'defend')).toMatchObject({ type: 'error', code: 'not-in-game' });
    expect(await cs.act(2, 'move', 'e')).toMatchObject({ type: 'error', code: 'not-in-game' });
    await intact(cs, baseline);
    await intact(ca, baseline);
  });

  it('a valid action is still acknowledged after all of that, exactly once', async () => {
    const before = await adminGame(node.url, x);
    const id = randomUUID();
    expect(await ca.act(2, 'defend', undefined, id)).toMatchObject({
      type: 'ack',
      actionId: id,
      duplicate: false,
    });
    const after = await adminGame(node.url, x);
    const me = after.state.players.find((p) => p.name === a.username)!.id;
    expect(after.state.submitted[me]).toMatchObject({ id, round: 2, kind: 'defend' });
    expect(after.seq).toBe(before.seq + 1);
    expect(await ca.act(2, 'defend', undefined, id)).toMatchObject({
      type: 'ack',
      duplicate: true,
    });
    expect((await adminGame(node.url, x)).seq).toBe(after.seq);
  });
});

describe('one game cannot touch another', () => {
  it('refuses POST /games/Y/start by a non-creator (outsider or player)', async () => {
    const baseline = await snapshot(x, y);
    for (const who of [a, d]) {
      const res = await who.start(y);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/games/${y}`);
      const page = await who.page(`/games/${y}`);
      expect(page.html).toContain('Only the player who created this game can start it.');
      expect(page.html).not.toContain('Start the game');
    }
    await intact(null, baseline);
    expect((await adminGame(node.url, y)).state.status).toBe('open');
    // The creator can.
    expect((await c.start(y)).status).toBe(303);
    await waitFor(
      async () => (await adminGame(node.url, y)).state.status === 'playing',
      5000,
      'Y playing',
    );
  });

  it("actions on game X's socket never reach game Y, and X's players cannot act in Y", async () => {
    const cc = track(c.connect(y));
    await cc.opened;
    await shownRound(cc);
    const baselineY = await snapshot(y);
    // A's socket is game X's: whatever it says, Y does not change (the protocol has no game field).
    const ca = track(a.connect(x));
    await ca.opened;
    await shownRound(ca, 2);
    for (const round of [1, 2, 3]) {
      const r = await ca.act(round, 'move', 'e');
      expect(r.type).toBe('error');
    }
    expect(
      await refusal(ca, { type: 'act', actionId: randomUUID(), round: 1, kind: 'defend', code: y }),
    ).toMatchObject({ code: 'invalid' });
    // A opens Y's socket (anyone logged in may watch) but is not a player there.
    const cay = track(a.connect(y));
    await cay.opened;
    await shownRound(cay);
    expect(await cay.act(1, 'defend')).toMatchObject({ type: 'error', code: 'not-in-game' });
    await intact(cay, baselineY);
    await intact(cc, baselineY);
    // Y's own players still play normally.
    expect(await cc.act(1, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
  });

  it('a socket for a game that does not exist is closed with 4404', async () => {
    const conn = track(a.connect('QQQQ'));
    await conn.closed;
    expect(conn.closeCode).toBe(4404);
    const bad = track(a.connect('12ab'));
    await bad.closed;
    expect(bad.closeCode).toBe(4404);
  });
});

describe('bad input on the WebSocket upgrade', () => {
  it('refuses a cross-origin upgrade with 403', async () => {
    const baseline = await snapshot(x);
    const conn = track(a.connect(x, { origin: 'http://evil.example' }));
    await expect(conn.opened).rejects.toThrow(/403/);
    expect(conn.unexpectedResponse).toBe(403);
    // An origin that only looks like ours.
    const sneaky = track(a.connect(x, { origin: `${node.url}.evil.example` }));
    await expect(sneaky.opened).rejects.toThrow(/403/);
    await intact(null, baseline);
  });

  it('refuses an upgrade without Origin with 403', async () => {
    const conn = track(a.connect(x, { origin: null }));
    await expect(conn.opened).rejects.toThrow(/403/);
    expect(conn.unexpectedResponse).toBe(403);
  });

  it('closes an unauthenticated socket with 4401 (and a forged cookie too)', async () => {
    const anon = new Player(node.url, 'nobody');
    const conn = track(anon.connect(x));
    await conn.closed;
    expect(conn.closeCode).toBe(4401);
    const forged = new Player(node.url, 'forger');
    forged.cookie = 'minotaur.sid=s%3Aforged.session';
    const conn2 = track(forged.connect(x));
    await conn2.closed;
    expect(conn2.closeCode).toBe(4401);
    expect(conn2.messages.filter((m) => m.raw.includes('hx-partial'))).toHaveLength(0);
    await intact(null, await snapshot(x));
  });

  it('a raw ws client with our origin but no cookie gets no game data', async () => {
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/games/${x}/live`, {
      headers: { origin: node.url },
    });
    const conn = track(new LiveConnection(ws));
    await conn.closed;
    expect(conn.closeCode).toBe(4401);
    expect(conn.messages).toHaveLength(0);
  });
});

describe('bad input over HTTP', () => {
  it('refuses form posts without a CSRF token with 403 and a clear message', async () => {
    const baseline = await snapshot(x, y);
    for (const [path, body] of [
      ['/lobby/games', ''],
      [`/games/${x}/start`, ''],
      [`/games/${y}/join`, ''],
      ['/logout', ''],
    ] as const) {
      const res = await a.request(path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status, path).toBe(403);
      const html = await res.text();
      expect(html).toContain('That form has expired');
      expect(html).toContain('security token');
    }
    // A wrong token is as bad as none.
    const res = await a.request('/lobby/games', {
      method: 'POST',
      body: '_csrf=not-the-token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(403);
    // Still logged in, and nothing was created or changed.
    expect((await a.page('/lobby')).status).toBe(200);
    await intact(null, baseline);
    expect((await adminGame(node.url, y)).state.players.map((p) => p.name)).not.toContain(
      a.username,
    );
  });

  it('answers a wrong password and an unknown username alike: 401, "Wrong username or password."', async () => {
    const wrong = new Player(node.url, a.username, 'not the password');
    const r1 = await wrong.login();
    expect(r1.status).toBe(401);
    expect(await r1.text()).toContain('Wrong username or password.');
    expect(wrong.cookie === '' || !(await wrong.page('/lobby')).html.includes('Lobby</h1>')).toBe(
      true,
    );
    const ghost = new Player(node.url, `ghost${tag}`);
    const r2 = await ghost.login();
    expect(r2.status).toBe(401);
    expect(await r2.text()).toContain('Wrong username or password.');
    // The right password still works.
    const right = new Player(node.url, a.username);
    expect((await right.login()).status).toBe(303);
    expect((await fetch(`${node.url}/health_check`)).status).toBe(200);
  });

  it('refuses usernames with markup at sign-up and escapes what it echoes', async () => {
    for (const name of [
      '<script>alert(1)</script>',
      '<b>x</b>',
      'a"onmouseover="x',
      "o'neil",
      'émile',
    ]) {
      const p = new Player(node.url, name);
      const res = await p.post(
        '/signup',
        { username: name, password: 'correct horse battery' },
        '/signup',
      );
      expect(res.status, name).toBe(422);
      const html = await res.text();
      expect(html).toMatch(
        /Usernames (may use letters, digits, - and _ only|can have at most 20 characters)\./,
      );
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<b>x</b>');
      expect(html).not.toContain('"onmouseover="');
    }
    const short = new Player(node.url, 'ab');
    const res = await short.post(
      '/signup',
      { username: 'ab', password: 'correct horse battery' },
      '/signup',
    );
    expect(res.status).toBe(422);
    // A taken name (case-insensitively) is refused too.
    const dup = new Player(node.url, a.username.toUpperCase());
    const r2 = await dup.post(
      '/signup',
      { username: a.username.toUpperCase(), password: 'correct horse battery' },
      '/signup',
    );
    expect(r2.status).toBe(409);
    expect((await fetch(`${node.url}/health_check`)).status).toBe(200);
  });

  it('keeps a code that found no game in the join box, to be corrected there', async () => {
    const res = await a.post('/lobby/join', { code: 'qxqx' }, '/lobby');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/lobby?code=QXQX');
    const { html } = await a.page('/lobby?code=QXQX');
    expect(html).toContain('There is no game QXQX');
    expect(html).toMatch(/name="code"[^>]*value="QXQX" autofocus>/);
    // Only a code goes back in the box.
    const odd = await a.page(`/lobby?code=${encodeURIComponent('"><b>')}`);
    expect(odd.status).toBe(200);
    expect(odd.html).not.toContain('<b>');
    expect(odd.html).not.toMatch(/name="code"[^>]*value=/);
  });

  it('refuses an oversized form body without falling over', async () => {
    const res = await a.post('/lobby/join', { code: 'x'.repeat(20_000) }, '/lobby');
    expect(res.status).toBe(413);
    expect((await fetch(`${node.url}/health_check`)).status).toBe(200);
  });
});

describe('login rate limit', () => {
  it('answers the 4th failed attempt with 429 when LOGIN_RATE_LIMIT=3', async () => {
    const n = startNode({
      port: await freePort(),
      host: '127.0.0.2',
      databasePath: join(tempDir(), 'rl.db'),
      env: { LOGIN_RATE_LIMIT: '3' },
    });
    nodes.push(n);
    await n.ready();
    const owner = new Player(n.url, `rita${tag}`);
    await owner.signup();
    const attacker = new Player(n.url, owner.username, 'guess guess guess');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await attacker.login()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await attacker.login();
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('Too many failed attempts');
    // Even the right password waits now; the node is fine.
    expect((await new Player(n.url, owner.username).login()).status).toBe(429);
    expect((await fetch(`${n.url}/health_check`)).status).toBe(200);
  });
});
