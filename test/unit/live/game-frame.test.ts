// Frames share trees between viewers and between states; what each viewer is shown must still
// be exactly the page of that viewer and state, whatever was reused.

import { describe, expect, it } from 'vitest';
import { GameFrames, REACH_SLOT } from '../../../src/live/game-frame.js';
import {
  actionsPartial,
  boardOf,
  chatLine,
  chatPartial,
  intentOf,
  logPartial,
  overlayPartial,
  playerRow,
  playersPartial,
  statusPartial,
  tilesPartial,
} from '../../../src/live/game-templates.js';
import { Rendered, toHtml } from '../../../src/live/html.js';
import { gameView } from '../../../src/live/view-model.js';
import { corpus, playedGame } from './corpus.js';

function expected(
  state: Parameters<typeof gameView>[0],
  viewer: string | null,
  now: number,
): Record<string, string> {
  const g = gameView(state, viewer);
  return {
    'game-status': toHtml(statusPartial(g, now, intentOf(g))),
    'game-board-tiles': toHtml(tilesPartial(g)),
    'game-board': toHtml(boardOf(g)),
    'game-overlay': toHtml(overlayPartial(g, 'tok')),
    'game-actions': toHtml(actionsPartial(g, 'tok')),
    'game-players': toHtml(
      playersPartial(
        g.players.map((p) => playerRow(p, { status: g.status, winnerId: g.winner?.id ?? null })),
      ),
    ),
    'game-log': toHtml(logPartial(g)),
    'game-chat': toHtml(chatPartial(g.chat.map(chatLine), { player: !!g.me, archived: false })),
  };
}

describe('GameFrames', () => {
  it('gives each viewer exactly their page of each state, sharing what viewers and states have in common', () => {
    const frames = new GameFrames();
    for (const { label, state } of corpus()) {
      const now = (state.deadline ?? 1_000_000) - 700;
      const frame = frames.frame(state, now);
      for (const viewer of [...state.players.map((p) => p.id), 'spectator', null]) {
        const want = expected(state, viewer, now);
        const got = Object.fromEntries(frame.html(viewer, 'tok'));
        expect(got, `${label}, viewer ${viewer}`).toEqual(want);
      }
    }
  });

  it('reuses the trees of parts that did not change, across viewers and states', () => {
    const frames = new GameFrames();
    const states = playedGame(11, 5).map((s) => s.state);
    const started = states.findIndex((s) => s.status === 'playing');
    const [a, b] = [frames.frame(states[started + 1]!, 0), frames.frame(states[started + 2]!, 0)];
    const tree = (f: typeof a, viewer: string, target: string) => {
      const page = f.page(viewer, 'tok');
      return [...page.shared, ...page.own].find(([t]) => t === target)![1];
    };
    // Two viewers of one state share every partial but their own; a state later (one more hero
    // acted): the same log.
    expect(a.page('1', 'tok').shared).toBe(a.page('2', 'tok').shared);
    expect(a.page('1', 'tok').shared.map(([t]) => t)).toEqual([
      'game-status',
      'game-board',
      'game-players',
      'game-log',
      'game-chat',
    ]);
    expect(tree(a, '1', 'game-log')).toBe(tree(b, '3', 'game-log'));
    expect(tree(a, '1', 'game-actions')).not.toBe(tree(a, '2', 'game-actions'));
    expect(frames.frame(states[started + 1]!, 5)).toBe(a);
  });

  it('gives every viewer the very same board while heroes choose', () => {
    const frames = new GameFrames();
    const shown = playedGame(11, 5);
    const i = shown.findIndex((s) => s.label === 'round 1: 1 acted');
    const [before, after] = [shown[i]!, shown[i + 1]!];
    expect(after.label).toBe('round 1: 2 acted');
    const tree = (state: typeof before.state, viewer: string, target: string) => {
      const page = frames.frame(state, 0).page(viewer, 'tok');
      return [...page.shared, ...page.own].find(([t]) => t === target)![1];
    };
    const board = tree(before.state, '3', 'game-board');
    const reach3 = tree(before.state, '3', REACH_SLOT);
    const reach2 = tree(before.state, '2', REACH_SLOT);
    // Hero 2 chose: the board is the same tree for everyone; hero 3's reachable tiles are the
    // same, hero 2's are gone (toHtml: nothing).
    expect(tree(after.state, '2', 'game-board')).toBe(board);
    expect(tree(after.state, '3', REACH_SLOT)).toBe(reach3);
    expect(toHtml(reach2)).toContain('tile reach');
    expect(toHtml(tree(after.state, '2', REACH_SLOT))).toBe('');
  });

  it('on a node that gets each state as new objects (a replica), still reuses what did not change', () => {
    const frames = new GameFrames();
    const shown = playedGame(11, 5);
    const i = shown.findIndex((s) => s.label === 'round 1: 1 acted');
    const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
    const [before, after] = [copy(shown[i]!.state), copy(shown[i + 1]!.state)];
    const board = (state: typeof before) =>
      frames
        .frame(state, 0)
        .page('3', 'tok')
        .shared.find(([t]) => t === 'game-board')![1];
    const first = board(before);
    // Hero 2 chose: nothing on the board changed, and the parsed copy of the next state gets the
    // very same board tree and the same search of the Minotaur's path.
    expect(board(after)).toBe(first);
    expect(frames.frame(after, 0).shared).toBe(frames.frame(before, 0).shared);
    // A round later the board is new, and exactly the page of that state.
    const later = copy(shown.find((s, k) => k > i && s.label.endsWith('resolved'))!.state);
    expect(board(later)).not.toBe(first);
    expect(Object.fromEntries(frames.frame(later, 0).html('3', 'tok'))).toEqual(
      expected(later, '3', 0),
    );
  });

  it("keeps each token in its seat's place when a hero falls, so a fall changes one item", () => {
    const frames = new GameFrames();
    const shown = playedGame(1000, 5, { maxRounds: 30 });
    const k = shown.findIndex(
      (s, j) =>
        j > 0 &&
        s.state.players
          .slice(0, -1)
          .some((p, seat) => !p.alive && shown[j - 1]!.state.players[seat]!.alive),
    );
    expect(k, 'a round in which a hero other than the last falls').toBeGreaterThan(0);
    const tokens = (state: (typeof shown)[number]['state']) => {
      const board = frames
        .frame(state, 0)
        .page(null, 'tok')
        .shared.find(([t]) => t === 'game-board')!;
      return (board[1] as Rendered).d.find(
        (d) => Array.isArray(d) && d.some((t: Rendered) => toHtml(t).includes('class="token')),
      ) as Rendered[];
    };
    const [before, after] = [tokens(shown[k - 1]!.state), tokens(shown[k]!.state)];
    const fell = shown[k]!.state.players.findIndex(
      (p, seat) => !p.alive && shown[k - 1]!.state.players[seat]!.alive,
    );
    // The fallen hero's place is empty; every other hero's token is in its seat's place.
    expect(toHtml(after[fell]!)).toBe('');
    shown[k]!.state.players.forEach((p, seat) => {
      if (p.alive) expect(toHtml(after[seat]!)).toContain(`>${p.name} · `);
    });
    expect(toHtml(before[fell]!)).toContain(`>${shown[k - 1]!.state.players[fell]!.name} · `);
  });

  it("gives a player's move and attack buttons of the next round as the very same trees when the same ways are open", () => {
    const frames = new GameFrames();
    // Each list of trees in a tree (the buttons are two of them), by its HTML.
    const lists = (tree: Rendered): Map<string, readonly Rendered[]> => {
      const out = new Map<string, readonly Rendered[]>();
      const walk = (v: unknown): void => {
        if (v instanceof Rendered) v.d.forEach(walk);
        else if (Array.isArray(v)) {
          out.set(v.map((x: Rendered) => toHtml(x)).join(''), v as readonly Rendered[]);
          v.forEach(walk);
        }
      };
      walk(tree);
      return out;
    };
    let compared = 0;
    for (const seed of [3, 5, 8]) {
      let last = null as { round: number; lists: Map<string, readonly Rendered[]> } | null;
      for (const { state } of playedGame(seed, 4)) {
        const me = state.players.find((p) => p.id === '1');
        if (state.status !== 'playing' || !me?.alive || Object.hasOwn(state.submitted, '1'))
          continue;
        if (last?.round === state.round) continue;
        const actions = frames
          .frame(state, 0)
          .page('1', 'tok')
          .own.find(([t]) => t === 'game-actions');
        const now = lists(actions![1] as Rendered);
        expect([...now.keys()].filter((h) => h.includes('data-action="move"'))).toHaveLength(1);
        for (const [htmlText, list] of now)
          if (last?.lists.has(htmlText) && htmlText.includes('data-dir=')) {
            expect(list, `round ${state.round}`).toBe(last.lists.get(htmlText));
            compared++;
          }
        last = { round: state.round, lists: now };
      }
    }
    expect(compared).toBeGreaterThan(3);
  });

  it('forgets a game', () => {
    const frames = new GameFrames();
    const states = playedGame(7, 2).map((s) => s.state);
    for (const s of states) frames.frame(s, 0).page('1', 'tok');
    expect(frames.size).toBe(1);
    frames.forget(states[0]!.code);
    expect(frames.size).toBe(0);
  });
});
