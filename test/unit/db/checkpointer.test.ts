import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  AUTO_CHECKPOINT_PAGES,
  WalCheckpointer,
  type CheckpointRun,
} from '../../../src/db/checkpointer.js';
import type { DbLogger } from '../../../src/db/logger.js';
import { openDatabase } from '../../../src/db/sqlite.js';
import { openStorage } from '../../../src/db/storage.js';
import { silentLogger } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'minotaur-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `db${++files}.db`);

function fakeLogger(): DbLogger & { warn: ReturnType<typeof vi.fn> } {
  const quiet = () => undefined;
  return { debug: quiet, info: quiet, error: quiet, warn: vi.fn() } as never;
}

describe('WalCheckpointer', () => {
  it('copies the log into the file from its own thread; the node’s connection never checkpoints', async () => {
    const path = freshPath();
    const db = openDatabase(path, silentLogger);
    db.exec('create table t (id integer primary key, body text)');
    const runs: CheckpointRun[] = [];
    const checkpointer = new WalCheckpointer(db, path, silentLogger, {
      intervalMs: 50,
      onRun: (run) => runs.push(run),
    });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await vi.waitFor(() => expect(checkpointer.active).toBe(true), { timeout: 5000 });
    const before = statSync(path).size;
    const insert = db.prepare('insert into t (body) values (?)');
    // Far more than SQLite's 1,000 pages, each row its own commit (as the node saves).
    for (let i = 0; i < 3000; i++) insert.run('x'.repeat(2000));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    await vi.waitFor(
      () => {
        const last = runs.at(-1);
        expect(last && last.log > 0 && last.checkpointed === last.log).toBe(true);
        expect(statSync(path).size).toBeGreaterThan(before + 3000 * 2000);
      },
      { timeout: 10_000, interval: 50 },
    );
    await checkpointer.stop();
    db.close();
    // The node's connection, the last one, copied what was left and removed the log.
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('gives checkpoints back to the node’s connection when its thread cannot run', async () => {
    const path = freshPath();
    const db = openDatabase(path, silentLogger);
    const logger = fakeLogger();
    // The thread opens only a file that exists.
    const checkpointer = new WalCheckpointer(db, join(dir, 'missing', 'x.db'), logger);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await vi.waitFor(
      () => expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(AUTO_CHECKPOINT_PAGES),
      { timeout: 5000 },
    );
    expect(checkpointer.active).toBe(false);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.anything(),
      expect.stringContaining('checkpoint thread stopped'),
    );
    await checkpointer.stop();
    db.close();
  });
});

describe('Storage on SQLite', () => {
  it('checkpoints its file from the thread, and closes it clean', async () => {
    const path = freshPath();
    const runs: CheckpointRun[] = [];
    const storage = openStorage(
      { engine: 'sqlite', path },
      {
        logger: silentLogger,
        sessions: { pruneIntervalMs: 0 },
        checkpointMs: 50,
        onCheckpoint: (run) => runs.push(run),
      },
    );
    await storage.migrate();
    await vi.waitFor(() => expect(runs.some((r) => r.checkpointed > 0)).toBe(true), {
      timeout: 5000,
    });
    await storage.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});
