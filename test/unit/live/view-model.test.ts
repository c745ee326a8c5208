import { describe, expect, it } from 'vitest';
import { createGame, joinGame, resolveRound, startGame, submitAction, type GameState } from '../../../src/game/index.js';
import { gameView } from '../../../src/live/view-model.js';

function playing(): GameState {
  let s = createGame({ id: 'g1', code: 'KEPS', seed: 99, creator: { id: '1', name: 'ariadne' }, now: 0, roundMs: 10_000 });
  const j = joinGame(s, { id: '2', name: 'theseus' });
  if (!j.ok) throw new Error(j.message);
  const st = startGame(j.state, '1', 1000);
  if (!st.ok) throw new Error(st.message);
  s = st.state;
  return s;
}

describe('gameView', () => {
  it('shows every tile of the board once, walls included', () => {
    const v = gameView(playing(), '1');
    expect(v.tiles).toHaveLength(91);
    expect(v.tiles.filter((t) => t.kind === 'wall').length).toBe(playing().walls.length);
    expect(v.tiles.filter((t) => t.kind === 'lair')).toHaveLength(1);
  });

  it('highlights the viewer and offers only open directions', () => {
    const g = playing();
    const v = gameView(g, '1');
    expect(v.tokens.find((t) => t.me)?.id).toBe('1');
    expect(v.me?.id).toBe('1');
    expect(v.canAct).toBe(true);
    expect(v.reach.length).toBeGreaterThan(0);
    expect(v.reach.map((t) => t.dir).sort()).toEqual(v.moveDirs.filter((m) => m.open).map((m) => m.dir).sort());
    const walls = new Set(g.walls.map((w) => `${w.q},${w.r}`));
    for (const t of v.reach) expect(v.tiles.some((b) => b.x === t.x && b.y === t.y && !walls.has(`${b.q},${b.r}`))).toBe(true);
    // Another viewer (a spectator) gets no clickable tiles.
    expect(gameView(g, '9').reach).toEqual([]);
  });

  it('keeps another player’s chosen action secret and shows the viewer’s own', () => {
    const g = playing();
    const r = submitAction(g, '2', { id: 'act-secret-1', round: 1, kind: 'attack', dir: 'e' });
    if (!r.ok) throw new Error(r.message);
    const mine = gameView(r.state, '2');
    const theirs = gameView(r.state, '1');
    expect(mine.myAction?.label).toBe('Attack east');
    expect(theirs.myAction).toBeNull();
    expect(theirs.players.find((p) => p.id === '2')?.submitted).toBe(true);
    expect(JSON.stringify(theirs)).not.toContain('act-secret-1');
  });

  it('tells the winner and the fallen apart at the end', () => {
    let g = playing();
    g = { ...g, players: g.players.map((p) => (p.id === '2' ? { ...p, hp: 0, alive: false, eliminatedRound: 1 } : p)) };
    g = resolveRound(g, 20_000);
    expect(g.status).toBe('finished');
    expect(gameView(g, '1').outcome).toBe('won');
    expect(gameView(g, '2').outcome).toBe('eliminated');
    expect(gameView(g, '3').outcome).toBeNull();
  });
});
