// Storage handles in separate processes (fixtures/storage-child.ts): for concurrency tests, where
// several nodes must really run at the same time (SQLite's lock waits block the whole process).

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StorageTarget } from '../../../src/db/storage.js';

const CHILD = fileURLToPath(new URL('./fixtures/storage-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface RemoteError {
  message: string;
  code: string | null;
  name: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: RemoteError };

export class StorageNode {
  private nextId = 1;
  private readonly pending = new Map<number, (o: Outcome<unknown>) => void>();
  readonly ready: Promise<void>;
  stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let started!: () => void;
    this.ready = new Promise((r) => (started = r));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('message', (m: { id: number } & Outcome<unknown>) => {
      if (m.id === 0) return started();
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
    child.on('exit', (code) => {
      for (const settle of this.pending.values())
        settle({
          ok: false,
          error: {
            message: `storage child exited (${code}): ${this.stderr}`,
            code: null,
            name: 'Error',
          },
        });
      this.pending.clear();
    });
  }

  static async start(): Promise<StorageNode> {
    const child = fork(CHILD, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const node = new StorageNode(child);
    await node.ready;
    return node;
  }

  /** Runs `op` in the child; `at` makes several children start it at the same instant. */
  call<T = unknown>(op: string, args: unknown[] = [], at?: number): Promise<Outcome<T>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (o: Outcome<unknown>) => void);
      this.child.send({ id, op, args, ...(at ? { at } : {}) });
    });
  }

  async value<T = unknown>(op: string, args: unknown[] = [], at?: number): Promise<T> {
    const out = await this.call<T>(op, args, at);
    if (!out.ok) throw Object.assign(new Error(out.error.message), { code: out.error.code });
    return out.value;
  }

  /** Opens Storage on `target` in the child (closing what it had open). */
  open(target: StorageTarget): Promise<void> {
    return this.value('open', [target]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.call('close').catch(() => {});
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill();
    await exited;
  }
}

/** Starts `n` node processes, in parallel. */
export function startNodes(n: number): Promise<StorageNode[]> {
  return Promise.all(Array.from({ length: n }, () => StorageNode.start()));
}
