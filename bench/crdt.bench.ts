// Benchmark (not a timed test): the replicated store (Replica) against the `crdts` package's
// operation-based sets and Yjs' Y.Map, at 20,000 games. Run: npx tsx bench/crdt.bench.ts
//
// crdts has no map type, so a map is emulated the closest way it allows: an LWW-Set (and an
// OR-Set) of game codes whose add tags are versions, with the record kept beside it.

import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';
import { LWWSet, ORSet } from 'crdts';
import * as Y from 'yjs';
import { Replica } from '../src/replication/replica.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  parseMessage,
  serialisedBytes,
} from '../src/replication/protocol.js';
import type { StoreRecord as GameRecord } from '../src/replication/record.js';
import type { GameState } from '../src/game/types.js';

const N = Number(process.env.BENCH_ENTRIES ?? 20_000);
const OVERWRITE_ROUNDS = 5;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const codes: string[] = [];
for (let i = 0; i < N; i++) {
  let n = i * 7919; // spread codes over the 26^4 space, deterministically
  let code = '';
  for (let j = 0; j < 4; j++) {
    code += String.fromCharCode(65 + (n % 26));
    n = Math.floor(n / 26);
  }
  codes.push(code);
}
if (new Set(codes).size !== N) throw new Error('codes are not unique');

/** A game-sized payload (a real GameState with 4 players is about 1–2 KB). */
function state(code: string, round: number): GameState {
  return {
    code,
    round,
    players: [1, 2, 3, 4].map((p) => ({ id: `p${p}`, hp: 5 - (round % 5), pos: { q: p, r: -p } })),
  } as unknown as GameState;
}

function rec(code: string, seq: number): GameRecord {
  return { key: code, owner: 'node-a', epoch: 1, seq, schema: 1, state: state(code, seq), at: seq };
}

function opsPerSec(count: number, fn: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return count / ((performance.now() - t0) / 1000);
}

function microsPer(count: number, fn: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return ((performance.now() - t0) * 1000) / count;
}

interface Row {
  name: string;
  insertOps: number;
  updateOps: number;
  lookupUs: number;
  heapMB: number;
  /** Heap growth per overwrite of an existing key, after OVERWRITE_ROUNDS × N overwrites. */
  heapPerOverwrite: number;
  /** Serialised size growth per overwrite (the doc / snapshot a peer would be sent). */
  wirePerOverwrite: number | null;
  note: string;
}

let sink = 0; // keeps lookups from being optimised away

function benchReplica(): Row {
  const h0 = heap();
  const r = new Replica();
  const insertOps = opsPerSec(N, (i) => r.apply(rec(codes[i] as string, 0)));
  const heapMB = (heap() - h0) / 2 ** 20;
  const updateOps = opsPerSec(N, (i) => r.apply(rec(codes[i] as string, 1)));
  const size0 = JSON.stringify(r.all()).length;
  const h1 = heap();
  for (let seq = 2; seq <= OVERWRITE_ROUNDS + 1; seq++) for (const c of codes) r.apply(rec(c, seq));
  const heapPerOverwrite = (heap() - h1) / (OVERWRITE_ROUNDS * N);
  const wirePerOverwrite = (JSON.stringify(r.all()).length - size0) / (OVERWRITE_ROUNDS * N);
  const lookups = 200_000;
  const lookupUs = microsPer(lookups, (i) => {
    sink += r.get(codes[(i * 31) % N] as string)?.seq ?? 0;
  });
  return {
    name: 'minotaur Replica',
    insertOps,
    updateOps,
    lookupUs,
    heapMB,
    heapPerOverwrite,
    wirePerOverwrite,
    note: 'one record per key',
  };
}

function benchCrdtsSet(name: string, make: () => LWWSet<string> | ORSet<string>): Row {
  const h0 = heap();
  const set = make();
  const values = new Map<string, GameRecord>();
  const insertOps = opsPerSec(N, (i) => {
    const r = rec(codes[i] as string, 0);
    set.add(r.key, 0);
    values.set(r.key, r);
  });
  const heapMB = (heap() - h0) / 2 ** 20;
  // Every add of a known value scans the operation list (Array.find): O(n) per update, so
  // fewer keys are overwritten, spread over the whole list for an honest average scan.
  const updates = Math.min(N, 4000);
  const spread = (i: number) => codes[Math.floor((i * N) / updates)] as string;
  const updateOps = opsPerSec(updates, (i) => {
    const r = rec(spread(i), 1);
    set.add(r.key, 1);
    values.set(r.key, r);
  });
  for (let seq = 2; seq <= OVERWRITE_ROUNDS + 1; seq++) {
    for (let i = 0; i < updates; i++) set.add(spread(i), seq);
  }
  const { heapPerOverwrite, wirePerOverwrite } = tagGrowth(make, updates, spread);
  // has() rebuilds the whole value set from the operation list on every call.
  const lookups = 50;
  const lookupUs = microsPer(lookups, (i) => {
    const key = codes[(i * 31) % N] as string;
    if (set.has(key)) sink += values.get(key)?.seq ?? 0;
  });
  return {
    name,
    insertOps,
    updateOps,
    lookupUs,
    heapMB,
    heapPerOverwrite,
    wirePerOverwrite,
    note: `${updates} keys overwritten`,
  };
}

/**
 * Growth of a crdts set alone (no records beside it) when known keys are added again: every
 * add tag is kept forever. Measured on a fresh set so no replaced record blurs the heap.
 */
function tagGrowth(
  make: () => LWWSet<string> | ORSet<string>,
  updates: number,
  spread: (i: number) => string,
): { heapPerOverwrite: number; wirePerOverwrite: number } {
  const set = make();
  for (const code of codes) set.add(code, 0);
  const overwrite = (seq: number) => {
    for (let i = 0; i < updates; i++) set.add(spread(i), seq);
  };
  overwrite(1); // warm up, so the heap delta is not code or inline caches
  const h0 = heap();
  for (let seq = 2; seq <= OVERWRITE_ROUNDS + 1; seq++) overwrite(seq);
  const overwrites = updates * OVERWRITE_ROUNDS;
  const heapPerOverwrite = (heap() - h0) / overwrites;
  const before = make();
  for (const code of codes) before.add(code, 0);
  const wirePerOverwrite =
    (JSON.stringify(set.toJSON()).length - JSON.stringify(before.toJSON()).length) /
    (overwrites + updates);
  sink += set.size;
  return { heapPerOverwrite, wirePerOverwrite };
}

function benchYjs(): Row {
  const h0 = heap();
  const doc = new Y.Doc();
  const map = doc.getMap<unknown>('games');
  const insertOps = opsPerSec(N, (i) => {
    const r = rec(codes[i] as string, 0);
    map.set(r.key, r); // each set is its own transaction = its own update, like a round write
  });
  const heapMB = (heap() - h0) / 2 ** 20;
  const updateOps = opsPerSec(N, (i) => {
    const r = rec(codes[i] as string, 1);
    map.set(r.key, r);
  });
  const size0 = Y.encodeStateAsUpdate(doc).byteLength;
  const h1 = heap();
  for (let seq = 2; seq <= OVERWRITE_ROUNDS + 1; seq++)
    for (const c of codes) map.set(c, rec(c, seq));
  const heapPerOverwrite = (heap() - h1) / (OVERWRITE_ROUNDS * N);
  const wirePerOverwrite = (Y.encodeStateAsUpdate(doc).byteLength - size0) / (OVERWRITE_ROUNDS * N);
  const lookups = 200_000;
  const lookupUs = microsPer(lookups, (i) => {
    sink += (map.get(codes[(i * 31) % N] as string) as GameRecord | undefined)?.seq ?? 0;
  });
  return {
    name: 'yjs Y.Map',
    insertOps,
    updateOps,
    lookupUs,
    heapMB,
    heapPerOverwrite,
    wirePerOverwrite,
    note: 'gc on (default)',
  };
}

function fmt(n: number | null, digits = 0): string {
  if (n === null) return '—';
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

const rows = [
  benchReplica(),
  benchCrdtsSet('crdts LWWSet (+Map)', () => new LWWSet<string>()),
  benchCrdtsSet('crdts ORSet (+Map)', () => new ORSet<string>()),
  benchYjs(),
];

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `CRDT store benchmark — ${N.toLocaleString('en-US')} entries, ${OVERWRITE_ROUNDS} overwrite rounds`,
);
console.log(
  `machine: ${cpu}, ${os.cpus().length} cores, node ${process.version}, ${os.platform()} ${os.arch()}`,
);
console.log('');
const header = [
  'store',
  'insert ops/s',
  'update ops/s',
  'lookup µs',
  'heap MB',
  'heap B/overwrite',
  'wire B/overwrite',
  'note',
];
const table = rows.map((r) => [
  r.name,
  fmt(r.insertOps),
  fmt(r.updateOps),
  fmt(r.lookupUs, r.lookupUs < 10 ? 3 : 0),
  fmt(r.heapMB, 1),
  fmt(r.heapPerOverwrite, 1),
  fmt(r.wirePerOverwrite, 1),
  r.note,
]);
const widths = header.map((h, i) =>
  Math.max(h.length, ...table.map((row) => (row[i] as string).length)),
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
console.log(line(header));
console.log(
  `|${widths.map((w, i) => (i === 0 || i === widths.length - 1 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
);
for (const row of table) console.log(line(row));

// ── the protocol around the store: what each write and each anti-entropy round costs ─────

/** A full-size game: 8 players, a labyrinth of walls, a round of events and submissions. */
function fullGame(code: string): GameState {
  const players = Array.from({ length: 8 }, (_, p) => ({
    id: `player-${p}-${'x'.repeat(24)}`,
    name: `Player ${p}`,
    color: p,
    hp: 5,
    pos: { q: p - 4, r: 4 - p },
    alive: true,
    eliminatedRound: null,
  }));
  return {
    schema: 1,
    id: `game-${code}-0000-0000-000000000000`,
    code,
    seed: 123456789,
    createdBy: players[0]?.id,
    createdAt: 1_700_000_000_000,
    status: 'playing',
    radius: 6,
    walls: Array.from({ length: 30 }, (_, i) => ({ q: (i % 11) - 5, r: Math.floor(i / 11) - 1 })),
    players,
    minotaur: { pos: { q: 0, r: 0 } },
    round: 7,
    roundMs: 10_000,
    deadline: 1_700_000_070_000,
    submitted: Object.fromEntries(
      players.map((pl, i) => [pl.id, { id: `a-${i}`, round: 7, kind: 'move', dir: 'e' }]),
    ),
    previous: Object.fromEntries(players.map((pl, i) => [pl.id, `a-${i}-prev`])),
    events: players.map((pl) => ({ kind: 'move', actor: pl.id, from: pl.pos, to: pl.pos })),
    maxRounds: 100,
    winner: null,
    finishedAt: null,
  } as unknown as GameState;
}

const op = {
  type: 'op',
  id: 'node-a:lx2k:1f',
  record: { ...rec('KEPS', 9), state: fullGame('KEPS') },
};
const opBytes = serialisedBytes(op);
const wire = JSON.parse(JSON.stringify(op)) as unknown;
const validateUs = microsPer(20_000, () => {
  if (!parseMessage(wire).ok) throw new Error('bench op invalid');
});
const store = new Replica();
for (const c of codes) store.apply(rec(c, 1));
const digest = store.digest();
const digestBytes = serialisedBytes(digest);
const digestUs = microsPer(20, () => (sink += store.digest().length));
const compareUs = microsPer(20, () => (sink += store.compare(digest).newerHere.length));
console.log('');
console.log(
  `protocol (${N.toLocaleString('en-US')} games, message limit ${DEFAULT_MAX_MESSAGE_BYTES / 1024} KiB):`,
);
console.log(
  `- op of a full 8-player game: ${opBytes.toLocaleString('en-US')} bytes, validated in ${fmt(validateUs, 1)} µs (size check + zod)`,
);
// ReplicaSync splits a digest by key range, budgeting 128 bytes per entry (64-char owners).
const perMessage = Math.floor((DEFAULT_MAX_MESSAGE_BYTES - 1024) / 128);
console.log(
  `- digest of every game: ${digestBytes.toLocaleString('en-US')} bytes, sent as ${Math.ceil(N / perMessage)} messages of ≤${perMessage.toLocaleString('en-US')} entries; built in ${fmt(digestUs / 1000, 1)} ms, compared in ${fmt(compareUs / 1000, 1)} ms`,
);
if (sink === -1) console.log(sink);
