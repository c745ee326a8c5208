// A production node (the environment of deploy/docker-stack.yml: NODE_ENV=production,
// TRUST_PROXY=1, secure cookies) behind real HAProxy running deploy/haproxy.cfg, which
// terminates TLS with a certificate made for this test. Players on different addresses sign
// up, log in and play over https/wss; the login limit counts each player's own address, not
// the balancer's, whatever X-Forwarded-For a client sends.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { HaProxy } from '../support/haproxy.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, fetchVia, type Network } from '../support/player.js';
import { productionEnv } from '../support/production.js';

const QUERY = 'tasks.minotaur-tls';
// Undefined until beforeAll has made them (and in afterAll, when it failed half way).
let dns: TestDnsServer | undefined;
let node: NodeProcess | undefined;
let lb: HaProxy | undefined;
const tag = String(Date.now() % 100000);

/** A player on the internet: its own address, trusting the test's certificate. */
const from = (octet: number): Network => ({ ca: lb!.ca, localAddress: `127.0.1.${octet}` });

beforeAll(async () => {
  const dir = tempDir('minotaur-tls-');
  dns = await createDnsServer();
  const port = await freePort();
  node = startNode({
    host: '127.0.0.2',
    port,
    databasePath: join(dir, 'tls.db'),
    // A longer stop budget than the stack's 8 s (the last test stops the node with a sign-up in
    // progress): on a loaded machine the drain and the password's hashing ate the stack's margin.
    env: productionEnv({ LOGIN_RATE_LIMIT: '3', SHUTDOWN_TIMEOUT_MS: '12000' }),
  });
  dns.setRecords(QUERY, ['127.0.0.2']);
  await node.ready();
  lb = await HaProxy.start({ dir, dns: dns.address, query: QUERY, nodePort: port });
  await lb.waitUp([node.address]);
}, 60_000);

afterAll(async () => {
  await lb?.stop();
  await node?.kill();
  await dns?.close();
});

describe('a production node behind HAProxy terminating TLS', () => {
  it('sets its Secure session cookie over HTTPS: sign-up, lobby, a game and its live socket work', async () => {
    const ann = new Player(lb!.url, `ann${tag}`, 'correct horse battery', from(10));
    const { csrf } = await ann.page('/signup');
    const res = await ann.request('/signup', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrf, username: ann.username, password: ann.password }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(303);
    const sid = res.headers.getSetCookie().find((c) => c.startsWith('minotaur.sid='));
    expect(sid, 'session cookie set behind the TLS proxy').toBeDefined();
    expect(sid).toMatch(/;\s*Secure/i);
    expect(sid).toMatch(/;\s*HttpOnly/i);
    const lobby = await ann.page('/lobby');
    expect(lobby.status).toBe(200);
    expect(lobby.html).toContain('Lobby</h1>');
    const code = await ann.createGame();
    const conn = ann.connect(code);
    await conn.opened;
    await conn.nextJson((m) => m.type === 'time', 0, 5000, 'the clock over wss');
    await waitFor(() => conn.latestPartial('game-actions'), 5000, 'the game partials over wss');
    conn.close();
  });

  it('sends plain HTTP to HTTPS, whatever X-Forwarded-Proto the client claims', async () => {
    for (const headers of [{}, { 'x-forwarded-proto': 'https' }] as Record<string, string>[]) {
      const res = await fetch(`${lb!.plainUrl}/login`, { headers, redirect: 'manual' });
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe(
        `https://127.0.0.1:${new URL(lb!.plainUrl).port}/login`,
      );
    }
  });

  it('limits failed logins per client address: an attacker locks out only itself, spoofed X-Forwarded-For or not', async () => {
    const owner = new Player(lb!.url, `rita${tag}`, 'correct horse battery', from(20));
    await owner.signup();
    const attacker = new Player(lb!.url, owner.username, 'guess guess guess', from(21));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await attacker.login()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Claiming to be someone else changes nothing: only the address HAProxy saw counts.
    const { csrf } = await attacker.page('/login');
    const spoofed = await attacker.request('/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': '203.0.113.7',
      },
      body: new URLSearchParams({ _csrf: csrf, username: owner.username, password: 'x' }),
    });
    expect(spoofed.status).toBe(429);
    // The owner, on its own address, is not locked out.
    const back = new Player(lb!.url, owner.username, owner.password, from(20));
    const res = await back.login();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/lobby');
  });

  it('does not route the mesh path or the metrics to players, in any casing or with extra slashes', async () => {
    for (const path of [
      '/metrics',
      '/METRICS',
      '/Metrics',
      '/metrics/',
      '//metrics',
      '/_cluster/mesh',
      '/_CLUSTER/mesh',
      '//_cluster/mesh',
    ]) {
      const res = await fetchVia(from(30), `${lb!.url}${path}`);
      expect(res.status, path).toBe(404);
    }
  });

  // Last: it stops the node.
  it('answers a sign-up still in progress when its node stops: HAProxy does not cut it', async () => {
    // Regression (multi-host rehearsal, 502 with termination state DH): a stopping node closed
    // its port while a sign-up was in progress, its health checks failed, HAProxy marked it
    // down and cut the request (on-marked-down shutdown-sessions). Here the form's body arrives
    // slowly, long after HAProxy would have seen a closed port three times.
    const p = new Player(lb!.url, `slow${tag}`, 'correct horse battery', from(40));
    const { answer, finish } = await p.signupHeldBack();
    // SIGTERM once HAProxy has passed the request on to the node.
    const atNode = async () =>
      (await lb!.servers()).some((s) => s.addr === node!.address && s.sessions > 0);
    await waitFor(atNode, 5000, 'the request to reach the node', 20);
    node!.signal('SIGTERM');
    await waitFor(() => node!.hasLog((l) => /is stopped$/.test(l.msg)), 10_000, 'the stop');
    await new Promise((r) => setTimeout(r, 3000));
    finish();
    expect(await answer).toBe(303);
    await waitFor(() => !node!.alive, 10_000, 'the node to exit');
    expect(node!.exitCode).toBe(0);
    expect(node!.hasLog((l) => l.msg === 'account created')).toBe(true);
  });
});
