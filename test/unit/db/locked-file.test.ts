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

/** The longest the event loop went without running a 5-ms timer, while `work` ran. */
async function longestStall<T>(
  work: Promise<T>,
): Promise<{ out: PromiseSettledResult<T>; ms: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  const [out] = await Promise.allSettled([work]);
  clearInterval(timer);
  longest = Math.max(longest, performance.now() - last);
  return { out, ms: longest };
}

describe('SQLite file locked by another process', () => {
  it('waits for the lock between turns of the event loop, then writes', async () => {
    const { storage, path } = await storageOn();
    const release = holdWriteLock(path);
    const releasedAfter = 600;
    setTimeout(release, releasedAfter);
    const started = performance.now();
    const { out, ms } = await longestStall(storage.accounts.create('lockwait', 'x'.repeat(60)));
    const took = performance.now() - started;
    expect(out.status, String((out as PromiseRejectedResult).reason)).toBe('fulfilled');
    // It waited for the lock (not failed at once) ...
    expect(took).toBeGreaterThanOrEqual(releasedAfter - 20);
    // ... without holding the event loop: a driver-side wait held it the whole 600 ms.
    expect(ms).toBeLessThan(releasedAfter / 2);
    expect(await storage.accounts.findByUsername('lockwait')).toMatchObject({
      username: 'lockwait',
    });
  });

  it("answers this node's reads while one of its writes waits for the lock", async () => {
    const { storage, path } = await storageOn();
    await storage.accounts.create('reader', 'x'.repeat(60));
    const release = holdWriteLock(path);
    let written = false;
    const write = storage.accounts.create('waiting', 'x'.repeat(60)).then((out) => {
      written = true;
      return out;
    });
    // WAL serves reads while another process holds the write lock; the waiting write must not
    // keep the node's connection from them (a page's session or account lookup).
    const started = performance.now();
    expect(await storage.accounts.findByUsername('reader')).toMatchObject({ username: 'reader' });
    const readMs = performance.now() - started;
    expect(written).toBe(false);
    expect(readMs).toBeLessThan(250);
    release();
    expect(await write).toMatchObject({ ok: true });
  });

  it('lets reads through while a transaction waits to begin, then runs it whole', async () => {
    const { storage, path } = await storageOn();
    const made = await storage.accounts.create('player', 'x'.repeat(60));
    if (!made.ok) throw new Error(made.message);
    const release = holdWriteLock(path);
    setTimeout(release, 300);
    const started = performance.now();
    const recording = storage.results
      .record({
        gameId: 'g-locked',
        code: 'LOCK',
        finishedAt: Date.now(),
        rounds: 3,
        winnerId: null,
        players: [{ accountId: made.account.id, won: false, eliminatedRound: 2 }],
      })
      .then((out) => ({ out, ms: performance.now() - started }));
    expect(await storage.accounts.findByUsername('player')).toMatchObject({ username: 'player' });
    expect(performance.now() - started).toBeLessThan(250);
    const { out, ms } = await recording;
    expect(out).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(await storage.results.recordFor(made.account.id)).toMatchObject({ played: 1 });
  });

  it('gives up after its budget with an outage the node knows (`locked`), and writes again once free', async () => {
    const { storage, path } = await storageOn(400);
    const release = holdWriteLock(path);
    const started = performance.now();
    const { out, ms } = await longestStall(storage.accounts.create('lockfail', 'x'.repeat(60)));
    const took = performance.now() - started;
    expect(out.status).toBe('rejected');
    const err = (out as PromiseRejectedResult).reason as unknown;
    expect(outageClass(err)).toBe('locked');
    expect(took).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(200);
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
