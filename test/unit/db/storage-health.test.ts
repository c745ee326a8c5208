// A PostgreSQL that is not there yet, goes away, or refuses us: Storage waits at start and
// says why once per kind of failure, notices an outage while running and its end, and never
// logs the password.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { outageClass } from '../../../src/db/errors.js';
import {
  openStorage,
  type DatabaseHealth,
  type Storage,
  type StorageOptions,
} from '../../../src/db/storage.js';
import { freePort, waitFor } from '../../support/node-process.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { recordingLogger } from '../cluster/recording-logger.js';

import { MIGRATIONS_DIR, readMigrations } from '../../../src/db/migrate.js';

/** Every migration this release ships, in order. */
const RELEASED = readMigrations(MIGRATIONS_DIR).map((m) => m.name);

const opened: Storage[] = [];
const servers: PostgresServer[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const s of servers.splice(0)) s.stop();
});

function storage(url: string, options: Partial<StorageOptions> = {}) {
  const logger = recordingLogger();
  const s = openStorage(
    { engine: 'postgres', url },
    {
      logger,
      sessions: { pruneIntervalMs: 0 },
      connectTimeoutMs: 2000,
      ...options,
    },
  );
  opened.push(s);
  const changes: DatabaseHealth[] = [];
  s.onHealthChange((h) => changes.push(h));
  return { s, logger, changes };
}

async function server(port?: number): Promise<PostgresServer> {
  const pg = await startPostgres(port ? { port } : {});
  servers.push(pg);
  return pg;
}

describe('storage health on PostgreSQL', () => {
  it('waits for a database that is not up yet, with one log line per kind of failure', async () => {
    const port = await freePort(['127.0.0.1']);
    const password = randomBytes(8).toString('hex');
    // The server will be started with its own password: first refused, then the password is wrong.
    const { s, logger } = storage(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
    const opening = s.open();
    const outcome = opening.then(
      () => 'opened',
      (e: unknown) => e,
    );
    await waitFor(() => s.health().outage === 'refused', 10_000, 'a refused connection');
    expect(s.health()).toMatchObject({ state: 'connecting', engine: 'postgres' });
    const pg = await server(port);
    await waitFor(() => s.health().outage === 'authentication', 20_000, 'authentication to fail');
    const warned = logger.lines.filter((l) => l.level === 'warn');
    const byKind = new Map<string, number>();
    for (const l of warned)
      byKind.set(
        (l.fields as { outage: string }).outage,
        (byKind.get((l.fields as { outage: string }).outage) ?? 0) + 1,
      );
    expect(byKind.get('refused')).toBe(1);
    expect(byKind.get('authentication')).toBe(1);
    for (const [kind, n] of byKind) expect(n, kind).toBe(1);
    expect(warned[0]!.msg).toBe(
      `database postgres://postgres:***@127.0.0.1:${port}/postgres unreachable: connection refused (is the server running and listening on that address?); retrying until it answers (health check answers 503 meanwhile)`,
    );
    expect(warned.at(-1)!.msg).toContain(
      'authentication failed (check the user and password in DATABASE_URL)',
    );
    expect(JSON.stringify(logger.lines)).not.toContain(password);
    expect(JSON.stringify(logger.lines)).not.toContain(pg.password);
    expect(await Promise.race([outcome, Promise.resolve('pending')])).toBe('pending');
  });

  it('opens once the server answers, and reports how long it waited', async () => {
    const port = await freePort(['127.0.0.1']);
    const pending = await server(port);
    const url = pending.url();
    pending.stop({ keep: true });
    const { s, logger, changes } = storage(url);
    const opening = s.open();
    await waitFor(() => s.health().outage === 'refused', 10_000, 'a refused connection');
    pending.restart();
    expect(await opening).toEqual(RELEASED);
    expect(s.health()).toMatchObject({ state: 'up', outage: null, lastError: null });
    expect(changes.map((c) => c.state).at(-1)).toBe('up');
    const info = logger.at('info').find((m) => /reachable after/.test(m));
    expect(info).toMatch(
      /^database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres reachable after \d+ attempts \(\d+\.\d s\)$/,
    );
    expect(Number(/after (\d+) attempts/.exec(info!)![1])).toBeGreaterThanOrEqual(2);
  });

  it('notices the database going away while running and coming back', async () => {
    const pg = await server();
    const { s, logger } = storage(await pg.createDatabase(), { checkMs: 200 });
    await s.open();
    expect(s.health().state).toBe('up');
    pg.stop({ keep: true, crash: true });
    await waitFor(() => s.health().state === 'down', 10_000, 'the database to be seen down');
    expect(s.health().outage).not.toBeNull();
    // A query while it is down fails with an error the web layer recognises as an outage.
    const failed = await s.accounts.findByUsername('x').catch((e: unknown) => e);
    expect(outageClass(failed)).not.toBeNull();
    pg.restart();
    await waitFor(() => s.health().state === 'up', 20_000, 'the database to be seen up again');
    expect(await s.accounts.findByUsername('x')).toBeNull();
    expect(logger.at('warn').filter((m) => / down: /.test(m))).toHaveLength(1);
    expect(logger.at('info').filter((m) => /answers again after \d+\.\d s$/.test(m))).toHaveLength(
      1,
    );
  });

  it('counts a database that stops answering as down, and does not let it hold close() past its limit', async () => {
    const pg = await server();
    const { s, logger } = storage(await pg.createDatabase(), {
      checkMs: 200,
      closeTimeoutMs: 1500,
    });
    await s.open();
    pg.pause();
    try {
      await waitFor(
        () => s.health().state === 'down',
        10_000,
        'the silent database to be seen down',
      );
      expect(s.health().outage).toBe('timeout');
      // A write sent now never gets an answer; closing waits for it only so long.
      void s.snapshots.remove('KEPS', 'g').catch(() => {});
      const t0 = Date.now();
      await s.close();
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(logger.at('warn').some((m) => /gave up waiting for/.test(m))).toBe(true);
    } finally {
      pg.resume();
    }
  });

  it('names a database that does not exist, and stops waiting when told to', async () => {
    const pg = await server();
    const { s, logger } = storage(pg.url('no_such_db'));
    const controller = new AbortController();
    const opening = s.open({ signal: controller.signal });
    await waitFor(
      () => s.health().outage === 'no-database',
      10_000,
      'the missing database to be named',
    );
    expect(logger.at('warn')[0]).toContain(
      'the database does not exist (create it, or fix the name in DATABASE_URL)',
    );
    controller.abort(new Error('draining'));
    await expect(opening).rejects.toThrow('draining');
  });
});
