// Copies the SQLite write-ahead log into the database file from a thread of its own.
//
// SQLite checkpoints the log itself, in the connection that commits past 1,000 pages of it: on
// the node's event loop, in the middle of a player's write, with an fsync of the log and one of
// the database file (~1–6 ms each on this project's test machine, more on network disks). The
// node turns that off on its connection and a worker thread with its own connection to the same
// file runs a PASSIVE checkpoint once a second instead: it never blocks the writer, copies only
// what no reader still needs, and lets the writer start the log over once everything is copied.
// If the thread cannot run, the node's connection checkpoints for itself again.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './sqlite.js';
import type { DbLogger } from './logger.js';

/** SQLite's own default: the connection that commits past this many pages of log copies it. */
export const AUTO_CHECKPOINT_PAGES = 1000;

export const CHECKPOINT_INTERVAL_MS = 1000;

/** One checkpoint, as the thread reports it. */
export interface CheckpointRun {
  /** Pages in the log, and how many of them are in the database file now. */
  log: number;
  checkpointed: number;
  /** Another connection held what a checkpoint needs; the next run tries again. */
  busy: boolean;
  ms: number;
}

// Plain JavaScript run by the worker (as text, so the same code runs from dist/ and from the
// TypeScript sources under the tests). Its input is checked by the node that starts it.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
db.pragma('busy_timeout = 0');
let timer = null;
const run = () => {
  const started = performance.now();
  try {
    const row = db.pragma('wal_checkpoint(PASSIVE)')[0] || {};
    parentPort.postMessage({
      type: 'run',
      busy: row.busy === 1,
      log: Number(row.log),
      checkpointed: Number(row.checkpointed),
      ms: performance.now() - started,
    });
  } catch (err) {
    if (err && err.code === 'SQLITE_BUSY') return;
    throw err;
  }
};
parentPort.on('message', (msg) => {
  if (msg === 'now') return run();
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
timer = setInterval(run, workerData.intervalMs);
parentPort.postMessage({ type: 'ready' });
`;

export interface CheckpointerOptions {
  intervalMs?: number;
  /** Each run, for metrics and tests. */
  onRun?: (run: CheckpointRun) => void;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;
  private running = false;

  /** Takes over checkpoints of `db` (a file in WAL mode at `path`). */
  constructor(
    private readonly db: Db,
    path: string,
    private readonly logger: DbLogger,
    options: CheckpointerOptions = {},
  ) {
    const intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        intervalMs,
      },
      // The worker keeps nothing of the node's: its own small heap is enough.
      resourceLimits: { maxOldGenerationSizeMb: 32 },
    });
    this.worker.unref();
    this.worker.on('message', (msg: { type: string } & Partial<CheckpointRun>) => {
      if (msg.type === 'ready') {
        this.running = true;
        return;
      }
      const run: CheckpointRun = {
        log: Number(msg.log),
        checkpointed: Number(msg.checkpointed),
        busy: msg.busy === true,
        ms: Number(msg.ms),
      };
      options.onRun?.(run);
    });
    this.worker.on('error', (err) => this.fallBack(err));
    this.worker.on('exit', (code) => {
      if (!this.stopped) this.fallBack(new Error(`checkpoint thread exited with code ${code}`));
    });
  }

  /** True once the thread has opened the file and checkpoints it. */
  get active(): boolean {
    return this.running && !this.stopped;
  }

  /** Asks for a checkpoint now (the periodic ones go on). */
  checkpointNow(): void {
    if (!this.stopped) this.worker.postMessage('now');
  }

  /**
   * Stops the thread and waits for it to close its connection, so the node's connection, closed
   * next, is the last one and copies what is left.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }

  private fallBack(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    try {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // The connection is closing; nothing left to checkpoint from here.
    }
    this.logger.warn(
      { err },
      'database checkpoints: the checkpoint thread stopped; the node checkpoints on its own',
    );
    void this.worker.terminate();
  }
}
