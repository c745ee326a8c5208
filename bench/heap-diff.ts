// What a node keeps of what it allocated over a second: two heap snapshots (V8's .heapsnapshot,
// as DevTools writes them) taken a second apart while players play; the objects of the second
// that the first did not have (by V8's object ids, which stay the same between snapshots of one
// process) were allocated in that second and are still held. Grouped by what holds them: the
// first object outside them on their path of retainers, named by the nearest object of a class
// of ours (a Map's table inside a `Memo` is counted as `Memo.current`). What is held is what
// outlives young-generation collections and makes them, and the full ones, slow.
//
// Run: npx tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot (or BENCH_HEAP_SITES=diff in the
// players benchmark, which takes both snapshots after its measured window).

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapDiff {
  /** Bytes (self sizes) and count of the objects the second snapshot has and the first had not. */
  newBytes: number;
  newCount: number;
  /** Bytes in the second snapshot. */
  totalBytes: number;
  /** The new objects by what holds them, most bytes first. */
  holders: { holder: string; bytes: number; count: number }[];
}

/** Internal and built-in kinds of object, skipped when naming what holds the new ones. */
const GENERIC =
  /^(array|hidden|object shape|closure|concatenated string|sliced string|string|synthetic|native|code|number|object:(Object|Array|Map|Set|WeakMap|Promise|system \/ Context)$)/;

export function heapDiff(aFile: string, bFile: string, top = 25): HeapDiff {
  const known = new Set<number>();
  {
    const a = JSON.parse(readFileSync(aFile, 'utf8')) as Snapshot;
    const fields = a.snapshot.meta.node_fields.length;
    const id = a.snapshot.meta.node_fields.indexOf('id');
    for (let i = 0; i < a.nodes.length; i += fields) known.add(a.nodes[i + id]!);
  }
  const b = JSON.parse(readFileSync(bFile, 'utf8')) as Snapshot;
  const { meta } = b.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [fType, fName, fId, fSize, fEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map(
    (f) => meta.node_fields.indexOf(f),
  ) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) =>
    meta.edge_fields.indexOf(f),
  ) as [number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const n = b.nodes.length / nf;
  const size = (x: number) => b.nodes[x * nf + fSize]!;
  const label = (x: number): string => {
    const type = nodeTypes[b.nodes[x * nf + fType]!]!;
    return type === 'object' || type === 'closure'
      ? `${type}:${b.strings[b.nodes[x * nf + fName]!]!.slice(0, 60)}`
      : type;
  };

  const fresh = new Uint8Array(n);
  let newBytes = 0;
  let newCount = 0;
  let totalBytes = 0;
  for (let x = 0; x < n; x++) {
    totalBytes += size(x);
    if (!known.has(b.nodes[x * nf + fId]!)) {
      fresh[x] = 1;
      newBytes += size(x);
      newCount++;
    }
  }

  // One retainer per object (strong edges only), an old one preferred for a new object.
  const retainer = new Int32Array(n).fill(-1);
  const via = new Int32Array(n).fill(-1);
  for (let x = 0, e = 0; x < n; x++) {
    const end = e + b.nodes[x * nf + fEdges]! * ef;
    for (; e < end; e += ef) {
      const type = edgeTypes[b.edges[e + eType]!];
      if (type === 'weak' || type === 'shortcut') continue;
      const to = b.edges[e + eTo]! / nf;
      const r = retainer[to]!;
      if (r === -1 || (fresh[to] && fresh[r] && !fresh[x])) {
        retainer[to] = x;
        via[to] = e;
      }
    }
  }
  const edgeName = (e: number): string => {
    const type = edgeTypes[b.edges[e + eType]!];
    return type === 'element' || type === 'hidden'
      ? `[${b.edges[e + eName]!}]`
      : b.strings[b.edges[e + eName]!]!;
  };

  const holders = new Map<string, { bytes: number; count: number }>();
  for (let x = 0; x < n; x++) {
    if (!fresh[x]) continue;
    let y = x;
    for (let hops = 0; y !== -1 && fresh[y] && hops < 16; hops++) y = retainer[y]!;
    let holder = '(held by new objects only)';
    if (y !== -1 && !fresh[y]) {
      holder = `(${label(y)})`;
      let member = '';
      for (let hops = 0, z = y; z !== -1 && hops < 10; hops++) {
        const name = label(z);
        if (!GENERIC.test(name)) {
          holder = `${name.replace(/^object:/, '')}${member}`;
          break;
        }
        const r = retainer[z]!;
        if (r !== -1 && !GENERIC.test(label(r))) member = `.${edgeName(via[z]!)}`;
        z = r;
      }
    }
    const h = holders.get(holder) ?? { bytes: 0, count: 0 };
    h.bytes += size(x);
    h.count++;
    holders.set(holder, h);
  }
  return {
    newBytes,
    newCount,
    totalBytes,
    holders: [...holders]
      .map(([holder, h]) => ({ holder, ...h }))
      .sort((p, q) => q.bytes - p.bytes)
      .slice(0, top),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [a, b] = process.argv.slice(2);
  if (!a || !b) {
    console.error('usage: npx tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot');
    process.exit(2);
  }
  const d = heapDiff(a, b, 40);
  console.log(
    `new in the second snapshot: ${d.newCount} objects, ${(d.newBytes / 1e6).toFixed(1)} MB of ${(d.totalBytes / 1e6).toFixed(1)} MB; by what holds them:`,
  );
  for (const h of d.holders)
    console.log(
      `${(h.bytes / 1e6).toFixed(2).padStart(7)} MB ${String(h.count).padStart(7)}  ${h.holder}`,
    );
}
