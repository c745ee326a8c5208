// Runs real Minotaur nodes (node dist/main.js) for tests: each on its own loopback address,
// with its log captured, and helpers to wait for conditions with a deadline.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The build under test: this checkout's, or another's (MINOTAUR_TEST_MAIN, e.g. to check a test
 * fails on an older release).
 */
export const MAIN = process.env.MINOTAUR_TEST_MAIN ?? join(ROOT, 'dist', 'main.js');

/**
 * BENCH_NODE_ARGS: options for the node program itself, before main (V8 options that Node
 * refuses in NODE_OPTIONS, such as --single-threaded-gc or --trace-gc-nvp), for benchmarks.
 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

export interface NodeOptions {
  host?: string;
  port: number;
  nodeId?: string;
  databasePath: string;
  env?: Record<string, string>;
  /** Entry point to run instead of this checkout's dist/main.js (e.g. an older release's). */
  main?: string;
  /** Starts the node some other way (in a network namespace, under tini: see netns.ts). */
  launcher?: Launcher;
}

/** How a node process is started and signalled when not as a plain child process. */
export interface Launcher {
  /** The command line that runs `node main` (argv[0] is the program). */
  argv(node: string, main: string): string[];
  /** Delivers a signal the way an orchestrator would (to the container's init). */
  signal(child: ChildProcess, signal: NodeJS.Signals): void;
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export class NodeProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  constructor(readonly opts: Required<Pick<NodeOptions, 'host' | 'port'>> & NodeOptions) {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: opts.host,
      PORT: String(opts.port),
      DATABASE_PATH: opts.databasePath,
      SECRET_KEY_BASE: 'test-secret-key-base-0123456789abcdef0123456789abcdef',
      PASSWORD_COST: '12',
      LOGIN_RATE_LIMIT: '1000',
      LOG_LEVEL: 'info',
      ...(opts.nodeId ? { NODE_ID: opts.nodeId } : {}),
      ...opts.env,
    };
    const argv = opts.launcher
      ? opts.launcher.argv(process.execPath, opts.main ?? MAIN)
      : [process.execPath, ...NODE_ARGS, opts.main ?? MAIN];
    this.child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.raw.push(line);
        if (process.env.MINOTAUR_TEST_LOGS)
          process.stderr.write(`[${opts.nodeId ?? opts.host}] ${line}\n`);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          /* not JSON (e.g. a config error on stderr) */
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': it comes after the process's output was read to the end, so a
      // test that checks the log once the node has exited sees its last lines.
      this.child.on('close', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
    });
  }

  get url(): string {
    return `http://${this.opts.host}:${this.opts.port}`;
  }

  get address(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Resolves when /health_check answers 200. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const waited = waitFor(
      async () => {
        if (!this.alive)
          throw new Error(
            `node ${this.address} exited (${this.exitCode ?? this.exitSignal}):\n${this.raw.slice(-20).join('\n')}`,
          );
        try {
          const res = await fetch(`${this.url}/health_check`);
          return res.status === 200;
        } catch {
          return false;
        }
      },
      timeoutMs,
      `node ${this.address} ready`,
    );
    // A node that never got ready says why in its log: the failure carries its last lines.
    await waited.catch((err: unknown) => {
      if (!(err instanceof Error) || /exited/.test(err.message)) throw err;
      throw new Error(`${err.message}; its last log lines:\n${this.raw.slice(-20).join('\n')}`);
    });
  }

  hasLog(pred: (l: LogLine) => boolean): boolean {
    return this.lines.some(pred);
  }

  /**
   * Waits for a line the node wrote before something the test saw over HTTP. The node's log
   * is written asynchronously, so its pipe may deliver a line after the answer of a request
   * the node served later (seen under load: ready before its adoption line arrived).
   */
  async logged(pred: (l: LogLine) => boolean, what: string, timeoutMs = 5000): Promise<LogLine> {
    return waitFor(
      () => this.lines.find(pred) ?? false,
      timeoutMs,
      `node ${this.address}: ${what}`,
    );
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    if (this.opts.launcher) this.opts.launcher.signal(this.child, sig);
    else this.child.kill(sig);
  }

  async kill(): Promise<void> {
    if (this.alive) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}

export function startNode(opts: NodeOptions): NodeProcess {
  return new NodeProcess({ host: '127.0.0.1', ...opts });
}

/** Polls `check` until it returns true (or a truthy value), or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      lastError = e;
      if (e instanceof Error && /exited/.test(e.message)) throw e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${describe(lastError)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The loopback addresses tests put nodes on. */
export const TEST_HOSTS = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`);

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port free on every test address, so nodes can listen on 127.0.0.x:PORT like Swarm tasks.
 * Test files run in parallel workers: each worker draws from its own slice of 20000–31999
 * (below Linux's ephemeral range, so outgoing connections never hold it), so two files never
 * pick the same port even when one of them is between stopping a node and starting the next.
 */
export async function freePort(hosts: readonly string[] = TEST_HOSTS): Promise<number> {
  const pool = Math.max(1, Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1));
  const slice = 3000;
  const base = 20_000 + ((pool - 1) % 4) * slice;
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = base + Math.floor(Math.random() * slice);
    const free = await Promise.all(hosts.map((h) => isFree(h, candidate)));
    if (free.every(Boolean)) return candidate;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

export function tempDir(prefix = 'minotaur-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
/** Log lines of `nodes` whose message matches `re`, as "node: msg" (for assertions and reports). */
export function logLines(nodes: NodeProcess[], re: RegExp): { node: string; line: LogLine }[] {
  const out: { node: string; line: LogLine }[] = [];
  for (const n of nodes)
    for (const l of n.lines) if (re.test(l.msg)) out.push({ node: String(l.node), line: l });
  return out;
}

/** A thrown value as text for a failure message. */
function describe(err: unknown): string {
  return err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
}
