// Several nodes on one host share one SQLite file. When another process holds its write lock
// for long (a node frozen by SIGSTOP in the middle of a write, a backup, an open sqlite3 shell),
// a node's writes wait without stopping its event loop: sockets, timers and heartbeats go on,
// the write goes through once the lock is free, or fails as a database outage (`locked`) once
// it has waited its budget.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { outageClass } from '../../../src/db/errors.js';
import { openStorage, type Storage } from '../../../src/db/storage.js';
import { waitFor } from '../../support/node-process.js';
import { recordingLogger } from '../cluster/recording-logger.js';
import { silentLogger } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'minotaur-locked-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const opened: Storage[] = [];
const holders: Database.Database[] = [];
afterEach(async () => {
  for (const h of holders.splice(0)) h.close();
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function storageOn(busyTimeoutMs?: number): Promise<{ storage: Storage; path: string }> {
  const path = join(dir, `db${++files}.db`);
  const storage = openStorage(
    { engine: 'sqlite', path },
    {
      logger: silentLogger,
      sessions: { pruneIntervalMs: 0 },
      ...(busyTimeoutMs !== undefined ? { busyTimeoutMs } : {}),
    },
  );
  opened.push(storage);
  await storage.open();
  return { storage, path };
}

/** Another process's connection holding the file's write lock until released. */
function holdWriteLock(path: string): () => void {
  const other = new Database(path);
  holders.push(other);
  other.exec('begin immediate');
  return () => other.exec('commit');
}

/**
 * Settles like `work`, counting the ticks of a 5-ms interval that ran while `work` was still
 * pending (`onTick` gets the count at each of them). An event loop held by the driver while a
 * statement waits for the lock runs none.
 */
async function ticksWhilePending<T>(
  work: Promise<T>,
  onTick: (ticksWhilePending: number) => void = () => {},
): Promise<{ out: PromiseSettledResult<T>; ticks: number }> {
  let settled = false;
  let ticks = 0;
  const timer = setInterval(() => {
    if (!settled) onTick(++ticks);
  }, 5);
  try {
    const [out] = await Promise.allSettled([
      work.finally(() => {
        settled = true;
      }),
    ]);
    return { out, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('SQLite file locked by another process', () => {
  it('waits for the lock between turns of the event loop, then writes', async () => {
    const { storage, path } = await storageOn();
    const release = holdWriteLock(path);
    // Timers run while the write waits: the fifth tick that finds it still waiting frees the
    // lock. A driver-side wait holds the event loop, so no tick runs, the lock stays held and
    // the write fails once it has waited its whole budget.
    let released = false;
    let releasedBeforeSettled = false;
    const write = storage.accounts.create('lockwait', 'x'.repeat(60)).finally(() => {
      releasedBeforeSettled = released;
    });
    const { out, ticks } = await ticksWhilePending(write, (n) => {
      if (n !== 5) return;
      release();
      released = true;
    });
    expect(out.status, String((out as PromiseRejectedResult).reason)).toBe('fulfilled');
    expect(ticks).toBeGreaterThanOrEqual(5);
    // It waited for the lock (went through only once the lock was free, not at once).
    expect(releasedBeforeSettled).toBe(true);
    expect(await storage.accounts.findByUsername('lockwait')).toMatchObject({
      username: 'lockwait',
    });
  });

  it("answers this node's reads while one of its writes waits for the lock", async () => {
    const { storage, path } = await storageOn();
    await storage.accounts.create('reader', 'x'.repeat(60));
    const release = holdWriteLock(path);
    let settled = false;
    const write = storage.accounts.create('waiting', 'x'.repeat(60)).finally(() => {
      settled = true;
    });
    // WAL serves reads while another process holds the write lock; the waiting write must not
    // keep the node's connection from them (a page's session or account lookup). The lock is
    // freed only after the read: a write that kept the connection would end (failing after its
    // budget) before the read could run.
    expect(await storage.accounts.findByUsername('reader')).toMatchObject({ username: 'reader' });
    expect(settled).toBe(false);
    release();
    expect(await write).toMatchObject({ ok: true });
  });

  it('lets reads through while a transaction waits to begin, then runs it whole', async () => {
    const { storage, path } = await storageOn();
    const made = await storage.accounts.create('player', 'x'.repeat(60));
    if (!made.ok) throw new Error(made.message);
    const release = holdWriteLock(path);
    let released = false;
    let settled = false;
    const recording = storage.results
      .record({
        gameId: 'g-locked',
        code: 'LOCK',
        finishedAt: Date.now(),
        rounds: 3,
        winnerId: null,
        players: [{ accountId: made.account.id, won: false, eliminatedRound: 2 }],
      })
      .finally(() => {
        settled = true;
      })
      .then((out) => ({ out, releasedBeforeSettled: released }));
    // The read is answered while the transaction waits at BEGIN; the lock is freed only after.
    expect(await storage.accounts.findByUsername('player')).toMatchObject({ username: 'player' });
    expect(settled).toBe(false);
    release();
    released = true;
    const { out, releasedBeforeSettled } = await recording;
    expect(out).toBe(true);
    // The transaction waited for the lock, and ran whole once it was free.
    expect(releasedBeforeSettled).toBe(true);
    expect(await storage.results.recordFor(made.account.id)).toMatchObject({ played: 1 });
  });

  it('gives up after its budget with an outage the node knows (`locked`), and writes again once free', async () => {
    const { storage, path } = await storageOn(400);
    const release = holdWriteLock(path);
    const started = performance.now();
    const { out, ticks } = await ticksWhilePending(
      storage.accounts.create('lockfail', 'x'.repeat(60)),
    );
    const took = performance.now() - started;
    expect(out.status).toBe('rejected');
    const err = (out as PromiseRejectedResult).reason as unknown;
    expect(outageClass(err)).toBe('locked');
    expect(took).toBeGreaterThanOrEqual(380);
    // Timers ran while it waited: a driver-side wait held the event loop for the whole budget.
    expect(ticks).toBeGreaterThan(0);
    // Reads go on meanwhile (WAL): the health check's query answers.
    expect(storage.health().state).toBe('up');
    release();
    await storage.accounts.create('lockfail', 'x'.repeat(60));
    expect(await storage.accounts.findByUsername('lockfail')).toMatchObject({
      username: 'lockfail',
    });
  });

  it('a node that starts while the file is locked waits for it, saying why, and opens once free', async () => {
    const { path } = await storageOn();
    const release = holdWriteLock(path);
    const logger = recordingLogger();
    const starting = openStorage(
      { engine: 'sqlite', path },
      { logger, sessions: { pruneIntervalMs: 0 }, busyTimeoutMs: 200 },
    );
    opened.push(starting);
    const opening = starting.open();
    await waitFor(
      () => logger.at('warn').some((m) => /another process holds the write lock/.test(m)),
      5000,
      'the starting node to say why it waits',
    );
    expect(starting.health()).toMatchObject({ state: 'connecting', outage: 'locked' });
    release();
    await opening;
    expect(starting.health().state).toBe('up');
  });
});
