import { GameFrames } from '../src/live/game-frame.js';
import { templateById } from '../src/live/html.js';
import { newPatchState, patch } from '../src/live/patch.js';
import { corpus } from '../test/unit/live/corpus.js';
const frames = new GameFrames();
for (const { state } of corpus()) {
  const f = frames.frame(state, 1e6);
  for (const v of [...state.players.map((p) => p.id), null]) { const pg = f.page(v, 'tok'); patch(newPatchState(), [...pg.own, ...pg.shared]); }
}
let n = 0, bytes = 0;
for (let i = 0; templateById(i); i++) { n++; bytes += JSON.stringify(templateById(i)!.s).length + String(i).length + 4; }
console.log(`game templates after the corpus: ${n}, their fixed text as a message's "t" member: ${bytes} B`);
