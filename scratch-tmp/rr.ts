// Round-resolved message sizes for one viewer in bench-like games; prints the biggest's parts.
import { createGame, joinGame, resolveRound, startGame, submitAction } from '../src/game/rules.js';
import { livingPlayers } from '../src/game/queries.js';
import { createRng } from '../src/game/rng.js';
import type { GameState, RuleResult } from '../src/game/types.js';
import { GameFrames } from '../src/live/game-frame.js';
import { newPatchState, patch, renderMessage } from '../src/live/patch.js';

const DIRS = ['n', 'ne', 'se', 's', 'sw', 'nw'] as const;
function ok(r: RuleResult): GameState { if (!r.ok) throw new Error(r.code); return r.state; }
const sizes: { len: number; msg: string; round: number; seed: number }[] = [];
for (let seed = 1; seed <= Number(process.argv[2] ?? 40); seed++) {
  const rng = createRng(seed);
  let now = 1_000_000;
  const names = ['ariadne1234', 'theseus5678', 'minos9012', 'icarus3456', 'daedalus78'];
  let s = createGame({ id: `g${seed}`, code: 'KEPS', seed, creator: { id: '1', name: names[0]! }, now, roundMs: 2000, maxRounds: 60 });
  for (let i = 2; i <= 5; i++) s = ok(joinGame(s, { id: String(i), name: names[i - 1]! }, now));
  s = ok(startGame(s, '1', now));
  const frames = new GameFrames();
  const st = newPatchState();
  let held = -1;
  let first = true;
  const show = (state: GameState): string | null => {
    const page = frames.frame(state, now).page('1', 'tok');
    const own = patch(st, first ? page.own : page.own.filter(([t]) => t !== 'game-board-tiles'));
    first = false;
    const stream = frames.stream(state);
    stream.advance(page.shared);
    const parts = stream.read(held);
    held = stream.version;
    if (!own && !parts) return null;
    return renderMessage(own?.body ?? null, parts?.at(-1)?.body ?? null);
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
    s = resolveRound(s, now);
    const m = show(s);
    if (m && process.env.NOSTATICS) { const o = JSON.parse(m) as {t?: unknown; g?: {t?: unknown}}; delete o.t; if (o.g) delete o.g.t; const mm = JSON.stringify(o); sizes.push({ len: Buffer.byteLength(mm), msg: mm, round: s.round - 1, seed }); } else if (m && (process.env.FINAL ? true : s.status === 'playing')) sizes.push({ len: Buffer.byteLength(m), msg: m, round: s.round - 1, seed });
  }
}
sizes.sort((a, b) => a.len - b.len);
const q = (p: number) => sizes[Math.min(sizes.length - 1, Math.floor(p * sizes.length))]!.len;
console.log(`rounds ${sizes.length} median ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${sizes.at(-1)!.len}`);
const big = sizes[Math.floor(0.99 * sizes.length)]!;
console.log(`seed ${big.seed} round ${big.round}`);
const obj = JSON.parse(big.msg) as Record<string, unknown>;
const parts: [string, number][] = [];
const walk = (o: Record<string, unknown>, pre: string) => { for (const [k, v] of Object.entries(o)) { const n = JSON.stringify(v).length; if ((k === 'p' || k === 'g' || k === 't') && typeof v === 'object' && v) walk(v as Record<string, unknown>, `${pre}${k}.`); else parts.push([pre + k, n]); } };
walk(obj, '');
for (const [k, n] of parts.sort((a, b) => b[1] - a[1])) console.log(String(n).padStart(6), k);
if (process.argv[3]) console.log(big.msg);
