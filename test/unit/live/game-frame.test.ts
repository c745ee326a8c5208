// Frames share trees between viewers and between states; what each viewer is shown must still
// be exactly the page of that viewer and state, whatever was reused.

import { describe, expect, it } from 'vitest';
import { GameFrames } from '../../../src/live/game-frame.js';
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
import { toHtml, type Dyn } from '../../../src/live/html.js';
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
        const got = Object.fromEntries(
          frame
            .partials(viewer, 'tok')
            .map(([target, tree]: [string, Dyn]) => [target, toHtml(tree)]),
        );
        expect(got, `${label}, viewer ${viewer}`).toEqual(want);
      }
    }
  });

  it('reuses the trees of parts that did not change, across viewers and states', () => {
    const frames = new GameFrames();
    const states = playedGame(11, 5).map((s) => s.state);
    const started = states.findIndex((s) => s.status === 'playing');
    const [a, b] = [frames.frame(states[started + 1]!, 0), frames.frame(states[started + 2]!, 0)];
    const tree = (f: typeof a, viewer: string, target: string) =>
      f.partials(viewer, 'tok').find(([t]) => t === target)![1];
    // Two viewers of one state: the same status; a state later (one more hero acted): the same log.
    expect(tree(a, '1', 'game-status')).toBe(tree(a, '2', 'game-status'));
    expect(tree(a, '1', 'game-log')).toBe(tree(b, '3', 'game-log'));
    expect(frames.frame(states[started + 1]!, 5)).toBe(a);
  });

  it('gives a viewer the very same board while other heroes choose', () => {
    const frames = new GameFrames();
    const shown = playedGame(11, 5);
    const i = shown.findIndex((s) => s.label === 'round 1: 1 acted');
    const [before, after] = [shown[i]!, shown[i + 1]!];
    expect(after.label).toBe('round 1: 2 acted');
    const tree = (state: typeof before.state, viewer: string, target: string) =>
      frames
        .frame(state, 0)
        .partials(viewer, 'tok')
        .find(([t]) => t === target)![1];
    const board3 = tree(before.state, '3', 'game-board');
    const board2 = tree(before.state, '2', 'game-board');
    // Hero 2 chose: hero 3's board is the same tree; hero 2's is not
    // (their move buttons are gone).
    expect(tree(after.state, '3', 'game-board')).toBe(board3);
    expect(tree(after.state, '2', 'game-board')).not.toBe(board2);
  });

  it('forgets a game', () => {
    const frames = new GameFrames();
    const states = playedGame(7, 2).map((s) => s.state);
    for (const s of states) frames.frame(s, 0).partials('1', 'tok');
    expect(frames.size).toBe(1);
    frames.forget(states[0]!.code);
    expect(frames.size).toBe(0);
  });
});
