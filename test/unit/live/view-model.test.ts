import { describe, expect, it } from 'vitest';
import {
  createGame,
  joinGame,
  resolveRound,
  startGame,
  submitAction,
  type GameState,
} from '../../../src/game/index.js';
import { gameView } from '../../../src/live/view-model.js';

function playing(): GameState {
  let s = createGame({
    id: 'g1',
    code: 'KEPS',
    seed: 99,
    creator: { id: '1', name: 'ariadne' },
    now: 0,
    roundMs: 10_000,
  });
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
    const reach = v.reach!;
    expect(reach.tiles.length).toBeGreaterThan(0);
    expect(reach.tiles.map((t) => t.dir).sort()).toEqual(
      v.moveDirs
        .filter((m) => m.open)
        .map((m) => m.dir)
        .sort(),
    );
    // Placed from the hero's tile: each lands on a floor tile of the board (within the board's
    // rounding of pixels to hundredths).
    expect(v.tokens.find((t) => t.me)).toMatchObject({ x: reach.x, y: reach.y });
    const walls = new Set(g.walls.map((w) => `${w.q},${w.r}`));
    const near = (a: number, b: number) => Math.abs(a - b) < 0.02;
    for (const t of reach.tiles)
      expect(
        v.tiles.some(
          (b) =>
            near(b.x, reach.x + t.x) && near(b.y, reach.y + t.y) && !walls.has(`${b.q},${b.r}`),
        ),
      ).toBe(true);
    // Another viewer (a spectator) gets no clickable tiles.
    expect(gameView(g, '9').reach).toBeNull();
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
    g = {
      ...g,
      players: g.players.map((p) =>
        p.id === '2' ? { ...p, hp: 0, alive: false, eliminatedRound: 1 } : p,
      ),
    };
    g = resolveRound(g, 20_000);
    expect(g.status).toBe('finished');
    expect(gameView(g, '1').outcome).toBe('won');
    expect(gameView(g, '2').outcome).toBe('eliminated');
    expect(gameView(g, '3').outcome).toBeNull();
  });

  it('shows where the Minotaur strikes (its free neighbours), where it steps, and whom it is after', () => {
    const base = playing();
    // Round 2 is a stepping round; the Minotaur in an open arena with ariadne nearer.
    const g: GameState = {
      ...base,
      round: 2,
      walls: [],
      minotaur: { pos: { q: 0, r: 0 } },
      players: base.players.map((p) => ({
        ...p,
        pos: p.id === '1' ? { q: 3, r: 0 } : { q: -5, r: 5 },
      })),
    };
    const v = gameView(g, '2');
    expect(v.danger?.tiles).toHaveLength(6);
    expect(v.danger).toMatchObject(v.minotaur);
    expect(v.minotaurNext).not.toBeNull();
    expect(v.intent).toEqual({ hunted: 'ariadne', steps: true, besideSomeone: false });
    expect(v.tokens.find((t) => t.id === '1')?.hunted).toBe(true);
    // Odd rounds it does not step; beside a hero it strikes instead of stepping.
    expect(gameView({ ...g, round: 3 }, '2').minotaurNext).toBeNull();
    const beside = gameView(
      { ...g, players: g.players.map((p) => (p.id === '1' ? { ...p, pos: { q: 1, r: 0 } } : p)) },
      '2',
    );
    expect(beside.minotaurNext).toBeNull();
    expect(beside.intent?.besideSomeone).toBe(true);
  });

  it('names who has not chosen yet, and warns a hero whose shield is tired', () => {
    let g = playing();
    const r = submitAction(g, '1', { id: 'act-shield-1', round: 1, kind: 'defend' });
    if (!r.ok) throw new Error(r.message);
    g = r.state;
    expect(gameView(g, '1').waitingFor).toEqual(['theseus']);
    const next = resolveRound(g, 20_000);
    expect(gameView(next, '1').shieldTired).toBe(true);
    expect(gameView(next, '2').shieldTired).toBe(false);
  });

  it('draws the damage of the last round where it landed, once per hero', () => {
    const base = playing();
    const g: GameState = {
      ...base,
      round: 4,
      events: [
        { kind: 'attack', actor: '1', target: '2', at: base.players[1]!.pos, damage: 1 },
        { kind: 'minotaur-attack', target: '2', damage: 2 },
        { kind: 'attack', actor: '2', target: '1', at: base.players[0]!.pos, damage: 0 },
      ],
    };
    const v = gameView(g, '2');
    expect(v.hits.map((h) => [h.id, h.text, h.kind, h.me])).toEqual([
      ['hit-3-1', 'blocked', 'blocked', false],
      ['hit-3-2', '−3', 'hurt', true],
    ]);
  });
});
