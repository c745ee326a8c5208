import { describe, expect, it } from 'vitest';
import {
  createGame,
  joinGame,
  resolveRound,
  startGame,
  submitAction,
  type GameState,
} from '../../../src/game/index.js';
import { GameFrames, REACH_SLOT } from '../../../src/live/game-frame.js';
import { actionsPartial, overlayPartial, statusPartial } from '../../../src/live/game-templates.js';
import { toHtml } from '../../../src/live/html.js';
import { gameView, tokenLabels } from '../../../src/live/view-model.js';

/** A started game of two heroes ('1' and '2', named `names`). */
function playing(names: readonly [string, string] = ['ariadne', 'theseus']): GameState {
  let s = createGame({
    id: 'g1',
    code: 'KEPS',
    seed: 99,
    creator: { id: '1', name: names[0] },
    now: 0,
    roundMs: 10_000,
  });
  const j = joinGame(s, { id: '2', name: names[1] });
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

  it('ranks the final standings so that heroes the game cannot tell apart share a place', () => {
    let s = createGame({
      id: 'g2',
      code: 'TIES',
      seed: 7,
      creator: { id: '1', name: 'ariadne' },
      now: 0,
      roundMs: 10_000,
    });
    for (const [id, name] of [
      ['2', 'theseus'],
      ['3', 'minos'],
      ['4', 'icarus'],
      ['5', 'daedalus'],
    ] as const) {
      const j = joinGame(s, { id, name });
      if (!j.ok) throw new Error(j.message);
      s = j.state;
    }
    const st = startGame(s, '1', 1000);
    if (!st.ok) throw new Error(st.message);
    const fell = (round: number, dealt: number) => ({
      hp: 0,
      alive: false,
      eliminatedRound: round,
      dealt,
    });
    const end = (
      winner: string | null,
      fates: Record<string, Partial<GameState['players'][number]>>,
    ): GameState => ({
      ...st.state,
      status: 'finished',
      round: 9,
      winner,
      players: st.state.players.map((p) => ({ ...p, ...fates[p.id] })),
    });
    const places = (g: GameState) => gameView(g, '1').standings.map((r) => `${r.place} ${r.name}`);

    // Theseus and Minos fell in the same round: both second (the one who dealt more listed
    // first), and the next place is fourth. Icarus and Daedalus fell together earlier: fourth.
    const won = end('1', {
      1: { hp: 2, dealt: 1 },
      2: fell(8, 1),
      3: fell(8, 3),
      4: fell(5, 0),
      5: fell(5, 0),
    });
    expect(places(won)).toEqual(['1 ariadne', '2 minos', '2 theseus', '4 daedalus', '4 icarus']);
    // No tie: a place each.
    const apart = end('1', { 2: fell(8, 0), 3: fell(7, 0), 4: fell(6, 0), 5: fell(5, 0) });
    expect(places(apart).map((p) => p.split(' ')[0])).toEqual(['1', '2', '3', '4', '5']);
    // A draw after the last round: the healthiest survivors share the first place, a survivor
    // with less health is third, and the fallen after them.
    const draw = end(null, {
      1: { hp: 3 },
      2: { hp: 3 },
      3: { hp: 1 },
      4: fell(4, 0),
      5: fell(2, 0),
    });
    expect(places(draw)).toEqual(['1 ariadne', '1 theseus', '3 minos', '4 icarus', '5 daedalus']);
    // The end box shows those places.
    const box = toHtml(overlayPartial(gameView(won, '2'), 'tok'));
    const cells = [...box.matchAll(/<tr class="[^"]*"><td>(\d+)<\/td>/g)].map((m) => m[1]);
    expect(cells).toEqual(['1', '2', '2', '4', '4']);
    // What each reads at the top of it: the last hero standing, or, when the rounds ran out
    // with several standing, the healthiest; a tie wins nobody; a hero who fell fell.
    const line = (g: GameState, viewer: string) =>
      /<p class="outcome-line">([^<]*)<\/p>/.exec(
        toHtml(overlayPartial(gameView(g, viewer), 'tok')),
      )![1];
    expect(line(won, '1')).toBe('You are the last hero standing after 9 rounds.');
    expect(line(won, '2')).toBe('ariadne won the game.');
    const healthiest = end('1', { 1: { hp: 3 }, 2: { hp: 1 }, 3: fell(4, 0) });
    expect(line(healthiest, '1')).toBe(
      'The rounds ran out after 9, and you are the healthiest hero standing.',
    );
    expect(line(healthiest, '2')).toBe('ariadne won the game.');
    expect(line(draw, '1')).toBe(
      'The rounds ran out after 9 with the healthiest heroes tied: nobody wins.',
    );
    expect(gameView(draw, '1').outcome).toBe('draw');
    expect(gameView(draw, '4').outcome).toBe('eliminated');
    const none = end(null, {
      1: fell(9, 0),
      2: fell(9, 0),
      3: fell(9, 0),
      4: fell(9, 0),
      5: fell(9, 0),
    });
    expect(line(none, '1')).toBe('Nobody walks out of the labyrinth this time.');
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
    // The hero beside it cannot step onto its tile: that one move is closed, its blow is not,
    // on the page's first render and in its live updates alike.
    const besideState: GameState = {
      ...g,
      players: g.players.map((p) => (p.id === '1' ? { ...p, pos: { q: 1, r: 0 } } : p)),
    };
    const mine = gameView(besideState, '1');
    expect(mine.moveDirs.filter((d) => d.minotaur).map((d) => d.dir)).toEqual(['w']);
    expect(mine.moveDirs.every((d) => d.open)).toBe(true);
    const live = toHtml(
      new GameFrames()
        .frame(besideState, 0)
        .page('1', 'tok')
        .own.find(([t]) => t === 'game-actions')![1],
    );
    expect(live).toMatch(/data-action="move" data-dir="w" disabled aria-label="[^"]*the Minotaur/);
    // Its tiles: none onto the Minotaur's; a hero's tile can be clicked, saying the move works
    // only if that hero moves away (they may), on the first render and live alike.
    const crowded: GameState = {
      ...besideState,
      players: besideState.players.map((p) => (p.id === '2' ? { ...p, pos: { q: 2, r: 0 } } : p)),
    };
    const tiles = gameView(crowded, '1').reach!.tiles;
    expect(tiles.find((t) => t.dir === 'w')).toMatchObject({ walkable: false });
    expect(tiles.find((t) => t.dir === 'e')).toMatchObject({ walkable: true, held: true });
    expect(tiles.filter((t) => t.held)).toHaveLength(1);
    const reachHtml = toHtml(
      new GameFrames()
        .frame(crowded, 0)
        .page('1', 'tok')
        .own.find(([t]) => t === REACH_SLOT)![1],
    );
    expect(reachHtml).not.toMatch(/data-action="move" data-dir="w"/);
    expect(reachHtml).toMatch(
      /class="tile reach follow"[^>]*data-action="move" data-dir="e"><title>Move east: only if the hero there moves away/,
    );
    expect(reachHtml.match(/class="tile reach"/g)).toHaveLength(4);
    expect(live).toMatch(
      /hx-vals='\{"kind":"attack","dir":"w"\}' data-action="attack" data-dir="w" {2}aria-label/,
    );
    // Two heroes beside it: the ring and the line name the one it gores (the weakest), not the
    // first found beside it.
    const two = gameView(
      {
        ...g,
        players: g.players.map((p) =>
          p.id === '1' ? { ...p, pos: { q: 1, r: 0 } } : { ...p, pos: { q: -1, r: 0 }, hp: 2 },
        ),
      },
      '1',
    );
    const weakest = g.players.find((p) => p.id !== '1')!;
    expect(two.intent).toMatchObject({ besideSomeone: true, hunted: weakest.name });
    expect(two.tokens.filter((t) => t.hunted).map((t) => t.id)).toEqual([weakest.id]);
  });

  it('names who has not chosen yet, and warns a hero whose shield is tired', () => {
    let g = playing();
    const r = submitAction(g, '1', { id: 'act-shield-1', round: 1, kind: 'defend' });
    if (!r.ok) throw new Error(r.message);
    g = r.state;
    expect(gameView(g, '1').waitingFor).toEqual(['theseus']);
    // The same for Theseus: his page leaves his name out (public/js/minotaur.js).
    expect(gameView(g, '2').waitingFor).toEqual(['theseus']);
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

  it('says when the Minotaur went through a tired shield', () => {
    const base = playing();
    // Ariadne beside the Minotaur, her shield raised last round too; Theseus far away.
    let g: GameState = {
      ...base,
      walls: [],
      minotaur: { pos: { q: 0, r: 0 } },
      players: base.players.map((p) =>
        p.id === '1' ? { ...p, pos: { q: 1, r: 0 } } : { ...p, pos: { q: -5, r: 5 } },
      ),
      events: [{ kind: 'defend', actor: '1' }],
    };
    for (const [id, action] of [
      ['1', { id: 'tired-1', round: g.round, kind: 'defend' }],
      ['2', { id: 'tired-2', round: g.round, kind: 'defend' }],
    ] as const) {
      const r = submitAction(g, id, action);
      if (!r.ok) throw new Error(r.message);
      g = r.state;
    }
    const log = gameView(resolveRound(g, 20_000), '2').log;
    expect(log.filter((l) => l.startsWith('The Minotaur gored ariadne'))).toEqual([
      expect.stringMatching(/^The Minotaur gored ariadne for \d+ through a tired shield!$/),
    ]);
  });

  it("marks a shield nobody struck once, where it was raised, and not on the hero's token", () => {
    let g = playing();
    const r = submitAction(g, '1', { id: 'act-shield-2', round: 1, kind: 'defend' });
    if (!r.ok) throw new Error(r.message);
    g = resolveRound(r.state, 20_000);
    const v = gameView(g, '2');
    expect(v.hits.map((h) => [h.id, h.text, h.kind, h.label])).toEqual([
      ['hit-1-1', '', 'shield', 'ariadne raised a shield'],
    ]);
    expect(v.tokens.every((t) => !('defending' in t))).toBe(true);
    // A shield that was struck is shown as the blow it blocked, not twice.
    const struck: GameState = {
      ...g,
      events: [
        ...g.events,
        { kind: 'attack', actor: '2', target: '1', at: g.players[0]!.pos, damage: 0 },
      ],
    };
    expect(gameView(struck, '2').hits.map((h) => h.kind)).toEqual(['blocked']);
  });

  it('shows each hero in the waiting room on the tile they start on', () => {
    let s = createGame({
      id: 'g3',
      code: 'STAY',
      seed: 2024,
      creator: { id: '1', name: 'ariadne' },
      now: 0,
      roundMs: 10_000,
    });
    const where = (g: GameState) =>
      Object.fromEntries(gameView(g, '1').tokens.map((t) => [t.id, `${t.x},${t.y}`]));
    for (const [id, name] of [
      ['2', 'theseus'],
      ['3', 'minos'],
      ['4', 'icarus'],
    ] as const) {
      const j = joinGame(s, { id, name });
      if (!j.ok) throw new Error(j.message);
      s = j.state;
      const st = startGame(s, '1', 1000);
      if (!st.ok) throw new Error(st.message);
      expect(where(st.state), `${s.players.length} heroes`).toEqual(where(s));
    }
  });
});

describe('token labels', () => {
  const heroes = (...names: string[]) => names.map((name, i) => ({ id: String(i + 1), name }));
  const labels = (...names: string[]) => [...tokenLabels(heroes(...names)).values()];

  it('are the initial where nobody shares it, and two characters that tell apart those who do', () => {
    expect(labels('ariadne', 'theseus', 'minos')).toEqual(['A', 'T', 'M']);
    expect(labels('Theseus', 'Thalia', 'minos')).toEqual(['Te', 'Ta', 'M']);
    expect(labels('ariadne', 'Asterion', 'androgeos')).toEqual(['Ar', 'As', 'An']);
    // Where the names differ only further on (a player's number), that place tells them apart.
    expect(labels('ariadne12345', 'ariadne212345')).toEqual(['A1', 'A2']);
    // A name that ends before that place shows its initial alone; names that differ only in
    // case get a number.
    expect(labels('Alex', 'Alexander', 'Bo')).toEqual(['A', 'Aa', 'B']);
    expect(labels('minos', 'Minos')).toEqual(['M1', 'M2']);
  });

  it('never show two heroes of a game alike, and are at most two characters (property)', () => {
    const letters = ['a', 'A', 'b', 't', '_', '-', '1', '9'];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let game = 0; game < 2000; game++) {
      const names = new Set<string>();
      const size = 2 + rand(7);
      while (names.size < size) {
        let name = '';
        const length = 3 + rand(6);
        for (let i = 0; i < length; i++) name += letters[rand(letters.length)] ?? '';
        names.add(name);
      }
      const shown = labels(...names);
      expect(new Set(shown).size, [...names].join(' ')).toBe(names.size);
      for (const l of shown) expect(l.length).toBeLessThanOrEqual(2);
    }
  });

  it('are computed once per state for every viewer: one board, the same letters on each page', () => {
    const s = playing(['Theseus', 'Thalia']);
    const frame = new GameFrames().frame(s, 1000);
    const board = (viewer: string | null) =>
      frame.page(viewer, 'tok').shared.find(([t]) => t === 'game-board')![1];
    expect(board('1')).toBe(board('2'));
    expect(board('2')).toBe(board(null));
    const html = frame.html('2', 'tok').get('game-board')!;
    const shown = [...html.matchAll(/class="token-initial( pair)?">([^<]*)</g)].map((m) => m[2]);
    expect(shown).toEqual(['Te', 'Ta']);
    expect(gameView(s, null).tokens.map((t) => t.label)).toEqual(['Te', 'Ta']);
  });
});

describe('a full waiting room', () => {
  it('is marked as such in the status, and its heroes are not asked to invite anyone', () => {
    let s = createGame({
      id: 'g5',
      code: 'FULL',
      seed: 5,
      creator: { id: '1', name: 'ariadne' },
      now: 0,
      roundMs: 10_000,
    });
    const status = (g: GameState) => toHtml(statusPartial(gameView(g, '1'), null, ''));
    const actions = (g: GameState, viewer: string) =>
      toHtml(actionsPartial(gameView(g, viewer), 't'));
    for (let id = 2; id <= 8; id++) {
      expect(status(s)).toContain('class="phase waiting"');
      expect(actions(s, '1')).toContain('Invite friends with the link above');
      const j = joinGame(s, { id: String(id), name: `hero${id}` });
      if (!j.ok) throw new Error(j.message);
      s = j.state;
    }
    expect(status(s)).toContain('class="phase waiting full"');
    expect(actions(s, '1')).not.toContain('Invite friends');
    expect(actions(s, '8')).toContain('All 8 seats are taken.');
    expect(actions(s, 'someone')).toContain('This game is full.');
  });
});
