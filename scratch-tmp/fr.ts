import { createGame, joinGame, startGame } from '../src/game/rules.js';
import type { GameState, RuleResult } from '../src/game/types.js';
import { GameFrames } from '../src/live/game-frame.js';
import { newPatchState, patch, renderMessage } from '../src/live/patch.js';
function ok(r: RuleResult): GameState { if (!r.ok) throw new Error(r.code); return r.state; }
const names = ['ariadne1234', 'theseus5678', 'minos9012', 'icarus3456', 'daedalus78'];
let s = createGame({ id: 'g1', code: 'KEPS', seed: 3, creator: { id: '1', name: names[0]! }, now: 1e6, roundMs: 2000, maxRounds: 60 });
for (let i = 2; i <= 5; i++) s = ok(joinGame(s, { id: String(i), name: names[i - 1]! }, 1e6));
s = ok(startGame(s, '1', 1e6));
const frames = new GameFrames();
const page = frames.frame(s, 1e6).page('1', 'tok');
const own = patch(newPatchState(), page.own.filter(([t]) => t !== 'game-board-tiles'));
const stream = frames.stream(s); stream.advance(page.shared);
const m = renderMessage(own?.body ?? null, stream.read(-1)?.at(-1)?.body ?? null);
const o = JSON.parse(m) as { t?: Record<string, unknown>; g?: { t?: Record<string, unknown> } };
const st = JSON.stringify(o.t ?? {}).length + JSON.stringify(o.g?.t ?? {}).length;
console.log('first render', Buffer.byteLength(m), 'statics', st, 'templates', Object.keys(o.t ?? {}).length + Object.keys(o.g?.t ?? {}).length);
