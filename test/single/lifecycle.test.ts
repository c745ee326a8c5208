// A single node's lifecycle as an operator sees it: health check, metrics, drain on SIGTERM,
// and refusing to start on a database from a newer release or an invalid configuration.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { TEST_ADMIN_TOKEN } from '../support/admin.js';
import { Player } from '../support/player.js';

const nodes: NodeProcess[] = [];
function node(opts: Parameters<typeof startNode>[0]): NodeProcess {
  const n = startNode({ ...opts, env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...opts.env } });
  nodes.push(n);
  return n;
}

/** A node on its own fresh database, ready. */
async function readyNode(env: Record<string, string>): Promise<NodeProcess> {
  const n = node({ port: await freePort(), databasePath: join(tempDir(), 'm.db'), env });
  await n.ready();
  return n;
}

/** Copies of the sources that a test ran `npm start` in. */
const copies: string[] = [];

afterAll(async () => {
  // A node that outlived its npm (what the `npm start` test guards against) runs on in its copy,
  // holding npm's output open: found by its working directory, killed first.
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (copies.includes(readlinkSync(`/proc/${pid}/cwd`))) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  await Promise.all(nodes.map((n) => n.kill()));
});

async function status(url: string): Promise<number | 'down'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'down';
  }
}

describe('node lifecycle', () => {
  it('answers /health_check 200 when ready, 503 right after SIGTERM, then exits 0', async () => {
    const n = await readyNode({ DRAIN_WINDOW_MS: '1500' });
    const ok = await fetch(`${n.url}/health_check`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toContain('no-store');
    expect(await ok.text()).toBe('ok');

    const t0 = Date.now();
    n.signal('SIGTERM');
    // Poll fast: the node keeps serving during its drain window but reports 503.
    const seen = await waitFor(
      async () => {
        const s = await status(`${n.url}/health_check`);
        if (s === 503) return 'draining';
        if (s === 'down' && !n.alive) throw new Error('node exited before it was seen draining');
        return false;
      },
      5000,
      '/health_check 503 after SIGTERM',
      10,
    );
    expect(seen).toBe('draining');
    const res = await fetch(`${n.url}/health_check`).catch(() => null);
    if (res) {
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/draining|stopped/);
    }
    await waitFor(() => !n.alive, 10_000, 'drained node to exit');
    expect(n.exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(n.hasLog((l) => /draining/.test(l.msg))).toBe(true);
    expect(n.hasLog((l) => /^stopped after/.test(l.msg))).toBe(true);
  });

  it('drains once on a signal repeated within a second (npm passing a Ctrl-C on), exits at once on a later one', async () => {
    const n = await readyNode({ DRAIN_WINDOW_MS: '2500' });
    const t0 = Date.now();
    n.signal('SIGINT');
    // Sent once the first is handled (two sent at once may reach the process as one).
    await n.logged((l) => l.msg === 'SIGINT received: draining', 'the first signal handled');
    n.signal('SIGINT');
    await waitFor(() => !n.alive, 10_000, 'the node to exit');
    expect(n.exitCode).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
    expect(n.hasLog((l) => /^SIGINT again within 1000 ms/.test(l.msg))).toBe(true);
    expect(n.hasLog((l) => /^stopped after/.test(l.msg))).toBe(true);

    // A second signal once the first is a second old: the operator wants it gone now.
    const m = await readyNode({ DRAIN_WINDOW_MS: '8000', SHUTDOWN_TIMEOUT_MS: '12000' });
    m.signal('SIGTERM');
    await m.logged((l) => /^drained/.test(l.msg), 'drained');
    await new Promise((r) => setTimeout(r, 1100)); // the first signal is now over a second old
    const t1 = Date.now();
    m.signal('SIGTERM');
    await waitFor(() => !m.alive, 5000, 'the node to exit on the second signal');
    expect(m.exitCode).toBe(1);
    expect(Date.now() - t1).toBeLessThan(5000);
    expect(m.hasLog((l) => l.msg === 'second signal: exiting now')).toBe(true);
    expect(m.hasLog((l) => /^stopped after/.test(l.msg))).toBe(false);
  });

  describe('run by npm (`npm start`, `npm run dev`)', () => {
    // The README runs the game with `npm start`, and so do process managers and platforms that
    // run a package's start script. The script has its shell exec the node once built, so that
    // the node is npm's child: npm passes SIGTERM and SIGINT on to it. Before, the shell got
    // them and died, and the node ran on as an orphan, never drained (a platform then kills it).
    // In a copy of the sources, so that its build does not rewrite the dist/ other tests run.
    let dir = '';
    beforeAll(() => {
      dir = realpathSync(tempDir('minotaur-npm-start-'));
      copies.push(dir);
      for (const f of ['package.json', 'tsconfig.json', 'src', 'views', 'public'])
        cpSync(join(ROOT, f), join(dir, f), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    });

    const cases: { name: string; script: string; signal: NodeJS.Signals; setsid: boolean }[] = [
      // A process manager or platform: SIGTERM to npm alone.
      { name: 'SIGTERM to npm', script: 'start', signal: 'SIGTERM', setsid: false },
      // Ctrl-C in a terminal: SIGINT to the whole foreground process group, npm and the node,
      // and npm passes its own on too.
      { name: 'Ctrl-C in its terminal', script: 'start', signal: 'SIGINT', setsid: true },
      // `npm run dev`: from the sources, tsx loaded into the node (tsx's own command, a parent
      // that passes signals on, SIGKILLs a node that has not reported one within 30 ms).
      { name: 'SIGTERM to npm', script: 'dev', signal: 'SIGTERM', setsid: false },
      { name: 'Ctrl-C in its terminal', script: 'dev', signal: 'SIGINT', setsid: true },
    ];
    it.each(cases)(
      'npm $script: drains and exits on $name',
      async ({ script, signal, setsid }) => {
        const n = node({
          port: await freePort(),
          databasePath: join(dir, `${script}-${signal}.db`),
          // npm itself offline and quiet: no update check.
          env: {
            DRAIN_WINDOW_MS: '200',
            HOME: dir,
            npm_config_offline: 'true',
            npm_config_update_notifier: 'false',
          },
          launcher: {
            // setsid: npm leads a process group of its own, as in a terminal (it is not a group
            // leader when spawned, so setsid execs it in place: the child's pid is the group's).
            argv: () => [...(setsid ? ['setsid'] : []), 'npm', '--prefix', dir, 'run', script],
            signal: (child, sig) => (setsid ? process.kill(-child.pid!, sig) : child.kill(sig)),
          },
        });
        // `start` builds first.
        await n.ready(120_000);
        if (script === 'start') expect(existsSync(join(dir, 'dist', 'main.js'))).toBe(true);

        n.signal(signal);
        await n.logged(
          (l) => /^stopped after/.test(l.msg),
          `the node stopped after ${signal}`,
          15_000,
        );
        expect(n.hasLog((l) => l.msg === `${signal} received: draining`)).toBe(true);
        expect(n.hasLog((l) => /^drained/.test(l.msg))).toBe(true);
        expect(n.hasLog((l) => /second signal/.test(l.msg))).toBe(false);
        // npm exits once the node has (its output closes when the last process holding it ends).
        await waitFor(() => !n.alive, 15_000, 'npm and the node to exit');
        expect(await status(`${n.url}/health_check`)).toBe('down');
      },
      180_000,
    );
  });

  it('lets a request in progress when it stops finish (a sign-up hashing its password), then exits 0', async () => {
    // Regression: stopping cut every connection at once, so a sign-up that reached a draining
    // node near the end of its drain window failed with a reset (HAProxy: 502).
    const n = await readyNode({ DRAIN_WINDOW_MS: '50', PASSWORD_COST: '17' });
    const p = new Player(n.url, `slow${Date.now() % 100000}`);
    const { csrf } = await p.page('/signup');
    const body = new URLSearchParams({ _csrf: csrf, username: p.username, password: p.password });
    const pid = n.child.pid!;
    const before = residentBytes(pid);
    let answered = false;
    const signup = p.request('/signup', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    void signup.then(
      () => (answered = true),
      () => (answered = true),
    );
    // The node has the request, and is hashing its password (~0.3 s at production cost), when it
    // gets SIGTERM: scrypt at this cost fills 128 MB as it goes. (A fixed pause here was too
    // short on a loaded machine: the request had not reached the node, which closed the idle
    // kept-alive connection it was on.)
    await waitFor(
      () => residentBytes(pid) > before + 64 * 2 ** 20,
      10_000,
      'the node to be hashing the password',
      5,
    );
    expect(answered).toBe(false);
    n.signal('SIGTERM');
    const res = await signup;
    expect(res.status).toBe(303);
    await waitFor(() => !n.alive, 10_000, 'the node to exit');
    expect(n.exitCode).toBe(0);
    expect(n.hasLog((l) => l.msg === 'account created')).toBe(true);
  });

  it('lets a request in progress finish for as long as the shutdown budget allows, not 2 s', async () => {
    // Regression: a stopping node cut requests still in progress 2 s after its drain window,
    // whatever was left of SHUTDOWN_TIMEOUT_MS: in the multi-host rehearsal under heavy load a
    // sign-up that reached a draining node took 3.7 s and got a reset (HAProxy: 502), with
    // 3.5 s of the budget unused. Here the request is a form whose body arrives slowly.
    const n = await readyNode({ DRAIN_WINDOW_MS: '50', SHUTDOWN_TIMEOUT_MS: '8000' });
    const p = new Player(n.url, `late${Date.now() % 100000}`);
    const { answer, finish } = await p.signupHeldBack();
    n.signal('SIGTERM');
    // The rest of the form arrives 3 s after the node began to stop: past the old 2 s bound,
    // well inside the 8 s budget. Meanwhile the node still answers its health check (503):
    // a port that refused connections would have a load balancer mark it down and cut the
    // request (HAProxy's on-marked-down shutdown-sessions: a 502 in the multi-host rehearsal).
    await waitFor(() => n.hasLog((l) => /is stopped$/.test(l.msg)), 5000, 'the node to stop');
    await new Promise((r) => setTimeout(r, 1500));
    const checked = await status(`${n.url}/health_check`);
    await new Promise((r) => setTimeout(r, 1500));
    finish();
    expect(await answer).toBe(303);
    expect(checked).toBe(503);
    await waitFor(() => !n.alive, 10_000, 'the node to exit');
    expect(n.exitCode).toBe(0);
    expect(n.hasLog((l) => l.msg === 'account created')).toBe(true);
  });

  it('exposes minotaur_ metrics in Prometheus format', async () => {
    const dir = tempDir();
    const n = node({ port: await freePort(), databasePath: join(dir, 'm.db'), nodeId: 'metrics1' });
    await n.ready();
    const res = await fetch(`${n.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await res.text();
    for (const name of [
      'minotaur_players_connected',
      'minotaur_games_owned',
      'minotaur_games_replicated',
      'minotaur_actions_total',
      'minotaur_rounds_resolved_total',
      'minotaur_process_',
    ]) {
      expect(body, name).toContain(name);
    }
    expect(body).toMatch(/^# TYPE minotaur_players_connected gauge$/m);
    expect(body).toMatch(/minotaur_players_connected\{node="metrics1"\} 0/);
    expect(body).toMatch(/^# TYPE minotaur_live_renders_deferred_total counter$/m);
    expect(body).toMatch(/minotaur_live_renders_deferred_total\{node="metrics1"\} 0/);
    n.signal('SIGTERM');
    await n.exited;
    expect(n.exitCode).toBe(0);
  });

  it('starts on a database a newer release migrated (a rollback), and refuses one with an unknown migration among its own', async () => {
    const dir = tempDir();
    const db = join(dir, 'm.db');
    const port = await freePort();
    const first = node({ port, databasePath: db, env: { DRAIN_WINDOW_MS: '0' } });
    await first.ready();
    first.signal('SIGTERM');
    await first.exited;
    expect(first.exitCode).toBe(0);

    // A newer release applied 999_from_the_future (additive, as every migration is): this one
    // runs without it and says so.
    const sqlite = new Database(db);
    const rows = sqlite.prepare('SELECT name FROM kysely_migration').all() as { name: string }[];
    expect(rows.map((r) => r.name)).toContain('001_init');
    sqlite
      .prepare(
        "INSERT INTO kysely_migration (name, timestamp) VALUES ('999_from_the_future', '2100-01-01T00:00:00.000Z')",
      )
      .run();
    sqlite.close();
    const second = node({ port, databasePath: db, env: { DRAIN_WINDOW_MS: '0' } });
    await second.ready();
    // Its log reaches us through a pipe that can trail its HTTP answers: wait for the line.
    await waitFor(
      () =>
        second.lines.some(
          (l) =>
            l.level === 'warn' &&
            /migrations from a newer release \(999_from_the_future\)/.test(l.msg),
        ),
      10_000,
      'the warning about migrations from a newer release',
    );
    second.signal('SIGTERM');
    await second.exited;

    // A migration this release should have but does not: a different history, refused.
    const again = new Database(db);
    again
      .prepare(
        "INSERT INTO kysely_migration (name, timestamp) VALUES ('001_from_a_fork', '2100-01-01T00:00:00.000Z')",
      )
      .run();
    again.close();
    const third = node({ port, databasePath: db });
    await waitFor(() => !third.alive, 15_000, 'node to refuse to start');
    expect(third.exitCode).not.toBe(0);
    const fatal = third.lines.find((l) =>
      /001_from_a_fork was applied to this database but this release does not have it/.test(l.msg),
    );
    expect(fatal?.level).toBe('fatal');
    expect(third.lines.some((l) => /node \S+ is ready/.test(l.msg))).toBe(false);
    expect(await status(`${third.url}/health_check`)).toBe('down');
  });

  it('exits with code 78 and a clear message on invalid configuration', async () => {
    const dir = tempDir();
    const n = node({ port: 4000, databasePath: join(dir, 'm.db'), env: { PORT: 'abc' } });
    await waitFor(() => !n.alive, 10_000, 'node to exit on bad config');
    expect(n.exitCode).toBe(78);
    const out = n.raw.join('\n');
    expect(out).toContain('invalid configuration');
    expect(out).toMatch(/PORT/);

    const m = node({
      port: 4000,
      databasePath: join(dir, 'm2.db'),
      env: { PORT: String(await freePort()), ROUND_SECONDS: '0' },
    });
    await waitFor(() => !m.alive, 10_000, 'node to exit on bad ROUND_SECONDS');
    expect(m.exitCode).toBe(78);
    expect(m.raw.join('\n')).toMatch(/ROUND_SECONDS/);
  });
});

/** The resident memory of process `pid`, in bytes (Linux's /proc). */
function residentBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}
