// Round-resolved messages of one viewer in bench-like games: with and without template statics.
import { createGame, joinGame, resolveRound, startGame, submitAction } from '../src/game/rules.js';
import { livingPlayers } from '../src/game/queries.js';
import { createRng } from '../src/game/rng.js';
import type { GameState, RuleResult } from '../src/game/types.js';
import { GameFrames } from '../src/live/game-frame.js';
import { newPatchState, patch, renderMessage } from '../src/live/patch.js';
const DIRS = ['n', 'ne', 'se', 's', 'sw', 'nw'] as const;
function ok(r: RuleResult): GameState { if (!r.ok) throw new Error(r.code); return r.state; }
type M = { len: number; bare: number; statics: number; fell: boolean; over: boolean; parts: Record<string, number> };
const all: M[] = [];
for (let seed = 1; seed <= 200; seed++) {
  const rng = createRng(seed);
  let now = 1_000_000;
  const names = ['ariadne1234', 'theseus5678', 'minos9012', 'icarus3456', 'daedalus78'];
  let s = createGame({ id: `g${seed}`, code: 'KEPS', seed, creator: { id: '1', name: names[0]! }, now, roundMs: 2000, maxRounds: 60 });
  for (let i = 2; i <= 5; i++) s = ok(joinGame(s, { id: String(i), name: names[i - 1]! }, now));
  s = ok(startGame(s, '1', now));
  const frames = new GameFrames();
  const viewers = ['1', '2', '3', '4', '5'].map((id) => ({ id, st: newPatchState(), held: -1, first: true }));
  const show = (state: GameState): (string | null)[] => {
    const f = frames.frame(state, now);
    return viewers.map((v) => {
      const page = f.page(v.id, 'tok');
      const own = patch(v.st, v.first ? page.own : page.own.filter(([t]) => t !== 'game-board-tiles'));
      v.first = false;
      const stream = frames.stream(state);
      stream.advance(page.shared);
      const parts = stream.read(v.held);
      v.held = stream.version;
      if (!own && !parts) return null;
      return renderMessage(own?.body ?? null, parts?.at(-1)?.body ?? null);
    });
  };
  show(s);
  while (s.status === 'playing') {
    for (const p of livingPlayers(s)) {
      const r = rng.next();
      const kind = r < 0.2 ? 'move' : r < 0.3 ? 'attack' : 'defend';
      const choice = kind === 'defend' ? { kind } : { kind, dir: DIRS[Math.floor(rng.next() * 6)]! };
      const res = submitAction(s, p.id, { id: `r${s.round}-${p.id}`, round: s.round, ...choice } as never);
      if (res.ok) { s = res.state; show(s); }
    }
    now += 2000;
    const before = s;
    s = resolveRound(s, now);
    const ms = show(s);
    ms.forEach((m, i) => {
      if (!m) return;
      const o = JSON.parse(m) as { t?: Record<string, unknown>; g?: { t?: Record<string, unknown>; p?: Record<string, unknown> }; p?: Record<string, unknown> };
      const st = (o.t ? JSON.stringify(o.t).length - 2 : 0) + (o.g?.t ? JSON.stringify(o.g.t).length - 2 : 0);
      delete o.t; if (o.g) delete o.g.t;
      const parts: Record<string, number> = {};
      for (const [k, v] of Object.entries(o.p ?? {})) parts[`own ${k}`] = JSON.stringify(v).length;
      for (const [k, v] of Object.entries(o.g?.p ?? {})) parts[`shared ${k}`] = JSON.stringify(v).length;
      const me = s.players.find((p) => p.id === viewers[i]!.id)!;
      const was = before.players.find((p) => p.id === viewers[i]!.id)!;
      all.push({ len: Buffer.byteLength(m), bare: Buffer.byteLength(JSON.stringify(o)), statics: st, fell: was.alive && !me.alive, over: s.status === 'finished', parts });
    });
  }
}
const q = (xs: number[], p: number) => { const a = [...xs].sort((x, y) => x - y); return a[Math.min(a.length - 1, Math.floor(p * a.length))]!; };
const withSt = all.filter((m) => m.statics > 0);
console.log(`round messages ${all.length}; with statics ${withSt.length} (${(100 * withSt.length / all.length).toFixed(1)} %); of them the viewer fell ${withSt.filter((m) => m.fell).length}, game over ${withSt.filter((m) => m.over).length}`);
console.log(`as sent: median ${q(all.map((m) => m.len), 0.5)} p95 ${q(all.map((m) => m.len), 0.95)} p99 ${q(all.map((m) => m.len), 0.99)}`);
console.log(`statics removed: median ${q(all.map((m) => m.bare), 0.5)} p95 ${q(all.map((m) => m.bare), 0.95)} p99 ${q(all.map((m) => m.bare), 0.99)}; statics in a message that has them: median ${q(withSt.map((m) => m.statics), 0.5)}`);
const bq = q(all.map((x) => x.bare), 0.99);
const big = all.filter((m) => m.bare >= bq);
console.log(`top 1 % without statics (${big.length}): fell ${big.filter((m) => m.fell).length}, over ${big.filter((m) => m.over).length}`);
const agg: Record<string, number> = {};
for (const m of big) for (const [k, v] of Object.entries(m.parts)) agg[k] = (agg[k] ?? 0) + v / big.length;
for (const [k, v] of Object.entries(agg).sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${v.toFixed(0)} B on average`);
const mid = all.filter((m) => !m.fell && !m.over);
const mq = q(mid.map((x) => x.len), 0.99);
const bigmid = mid.filter((m) => m.len >= mq);
const agg2: Record<string, number> = {};
for (const m of bigmid) for (const [k, v] of Object.entries(m.parts)) agg2[k] = (agg2[k] ?? 0) + v / bigmid.length;
console.log(`top 1 % of neither (${bigmid.length}), statics ${(bigmid.reduce((a, m) => a + m.statics, 0) / bigmid.length).toFixed(0)} B on average:`);
for (const [k, v] of Object.entries(agg2).sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${v.toFixed(0)} B on average`);
console.log(`neither fell nor over: p99 ${q(mid.map((m) => m.len), 0.99)} (statics removed ${q(mid.map((m) => m.bare), 0.99)})`);
