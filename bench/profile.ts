// CPU profiles of a benchmarked node, taken over the measured window only: the node runs with
// --inspect on a loopback port, and the benchmark starts and stops V8's sampling profiler
// through the DevTools protocol (the same .cpuprofile that --cpu-prof writes, without the
// set-up phase in it). summarise() lists where the busy time went.

import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/**
 * 'held', 'alloc', 'survived': sampled by allocation site (startHeapSampling); 'diff': two heap
 * snapshots a second apart, and what the second holds that the first did not (heap-diff.ts).
 */
export type HeapMode = 'held' | 'alloc' | 'survived' | 'diff';

export class Profiler {
  private ws: WebSocket | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, (result: unknown) => void>();
  /** The pieces of the heap snapshot being taken, if one is. */
  private chunks: string[] | null = null;

  /**
   * Connects to the inspector that the node announced on its log ("Debugger listening on ws://…").
   */
  async attach(url: string): Promise<void> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as {
        id?: number;
        result?: unknown;
        method?: string;
        params?: { chunk?: string };
      };
      if (m.id !== undefined) this.waiting.get(m.id)?.(m.result);
      else if (m.method === 'HeapProfiler.addHeapSnapshotChunk' && this.chunks)
        this.chunks.push(m.params?.chunk ?? '');
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await this.call('Profiler.enable');
  }

  private call(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 60_000);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.ws!.send(JSON.stringify({ id, method, params }));
    });
  }

  start(): Promise<unknown> {
    return this.call('Profiler.start');
  }

  /** The heap in use right after a full garbage collection, in bytes. */
  async heapAfterGc(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage');
    const r = (await this.call('Runtime.getHeapUsage')) as { usedSize: number };
    return r.usedSize;
  }

  /**
   * Starts V8's sampling heap profiler (one sample per 32 KiB allocated, on average). 'held':
   * samples of objects still alive when read; 'alloc': of everything allocated since, freed or
   * not; 'survived': of what outlived its first young-generation collection (promoted, or freed
   * only by a full collection), the medium-lived objects that make those collections slow.
   */
  startHeapSampling(mode: HeapMode = 'held'): Promise<unknown> {
    return this.call('HeapProfiler.startSampling', {
      samplingInterval: 32_768,
      includeObjectsCollectedByMajorGC: mode !== 'held',
      includeObjectsCollectedByMinorGC: mode === 'alloc',
    });
  }

  /**
   * Bytes per function of the samples, largest first, for the mode sampling was started in: for
   * 'held', after a full collection (only what is still alive); otherwise everything sampled. The
   * whole profile is written to `file`.
   */
  async heapBySite(
    mode: HeapMode,
    file: string,
    top = 15,
  ): Promise<{ total: number; rows: { name: string; bytes: number }[] }> {
    if (mode === 'held') await this.call('HeapProfiler.collectGarbage');
    const r = (await this.call('HeapProfiler.getSamplingProfile')) as {
      profile: { head: HeapNode };
    };
    await this.call('HeapProfiler.stopSampling');
    // The whole profile, call stacks included (DevTools opens a .heapprofile).
    writeFileSync(file, JSON.stringify(r.profile));
    const bytes = new Map<string, number>();
    let total = 0;
    const walk = (n: HeapNode): void => {
      if (n.selfSize > 0) {
        const name = frameName(n.callFrame);
        bytes.set(name, (bytes.get(name) ?? 0) + n.selfSize);
        total += n.selfSize;
      }
      for (const c of n.children) walk(c);
    };
    walk(r.profile.head);
    const rows = [...bytes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, b]) => ({ name, bytes: b }));
    return { total, rows };
  }

  /** Writes a heap snapshot of the node (what DevTools' Memory tab takes) to `file`. */
  async heapSnapshot(file: string): Promise<void> {
    this.chunks = [];
    try {
      await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      writeFileSync(file, this.chunks.join(''));
    } finally {
      this.chunks = null;
    }
  }

  close(): void {
    this.ws?.close();
  }

  async stop(file: string): Promise<CpuProfile> {
    const r = (await this.call('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(r.profile));
    return r.profile;
  }
}

export interface ProfileRow {
  name: string;
  /** Share of all samples (idle included). */
  share: number;
  /** Share of the busy samples (idle excluded). */
  busyShare: number;
}

/**
 * Self time per function (name and file:line), largest first; `busy` is the share of samples not
 * idle.
 */
export function summarise(profile: CpuProfile, top = 15): { busy: number; rows: ProfileRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const dt = profile.timeDeltas[i] ?? 0;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const key = frameName(f);
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const busy = total - idle;
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => ({ name, share: t / total, busyShare: t / busy }));
  return { busy: busy / total, rows };
}

export interface BusyStretches {
  /** Stretches of consecutive busy samples (the event loop never idle in between), ms. */
  p50: number;
  p99: number;
  max: number;
  /** Share of the busy time spent in stretches longer than 20 ms. */
  over20: number;
}

/**
 * How the busy time comes: stretches of samples with no idle one between them. Long stretches
 * made of many short tasks back to back are a queue (the loop had work waiting), not one slow
 * task: what a tail latency at high utilisation looks like.
 */
export function busyStretches(profile: CpuProfile): BusyStretches {
  const idleIds = new Set(
    profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  const stretches: number[] = [];
  let current = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the delta to the next one.
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (idleIds.has(profile.samples[i]!)) {
      if (current > 0) stretches.push(current);
      current = 0;
    } else current += dt;
  }
  if (current > 0) stretches.push(current);
  stretches.sort((a, b) => a - b);
  const at = (q: number) =>
    stretches[Math.min(stretches.length - 1, Math.floor(stretches.length * q))] ?? 0;
  const total = stretches.reduce((a, b) => a + b, 0);
  const long = stretches.filter((s) => s > 20).reduce((a, b) => a + b, 0);
  return {
    p50: at(0.5),
    p99: at(0.99),
    max: stretches.at(-1) ?? 0,
    over20: total ? long / total : 0,
  };
}

/** A function as a profile names it: its name, and its file and line when it has one. */
function frameName(f: CallFrame): string {
  return f.url
    ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
    : f.functionName || '(anonymous)';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url;
}
