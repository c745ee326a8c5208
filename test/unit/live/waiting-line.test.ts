// "Waiting for …" in the status bar: one line for every viewer of a state (the status is
// rendered once per state and sent to every page). Each hero's page then leaves its own name out,
// or reads "you" if nobody else is left (public/js/minotaur.js; the browser test sees the result).

import { describe, expect, it } from 'vitest';
import { parseStatus } from '../../../bench/players-wire.js';
import { submitAction } from '../../../src/game/rules.js';
import type { GameState } from '../../../src/game/types.js';
import { GameFrames } from '../../../src/live/game-frame.js';
import { playedGame } from './corpus.js';

/** The names of the waiting line of a status partial. */
function entries(status: string): string[] {
  const line = /<p class="waiting-for">Waiting for ([^<]*)<\/p>/.exec(status)?.[1];
  return line === undefined ? [] : line.split(', ');
}

function statusOf(frames: GameFrames, state: GameState, viewer: string | null): string {
  return frames.frame(state, 0).html(viewer, 'tok').get('game-status') ?? '';
}

describe('the waiting line', () => {
  it('is the very same text on every page', () => {
    const frames = new GameFrames();
    const started = playedGame(3, 3).find((s) => s.label === 'started')!.state;
    expect(started.status).toBe('playing');
    const seats = started.players.map((p) => p.name);

    // Nobody has chosen: every page gets the same tree and the same text.
    const frame = frames.frame(started, 0);
    const shared = frame.page('1', 'tok').shared;
    expect(frame.page('2', 'tok').shared).toBe(shared);
    expect(frame.page(null, 'tok').shared).toBe(shared);
    for (const viewer of ['1', '2', null])
      expect(entries(statusOf(frames, started, viewer)), `viewer ${viewer}`).toEqual(seats);

    // Theseus and Minos chose: only Ariadne is left.
    let s = started;
    for (const id of ['2', '3']) {
      const r = submitAction(s, id, { id: `act-${id}`, round: s.round, kind: 'defend' });
      if (!r.ok) throw new Error(r.message);
      s = r.state;
    }
    expect(entries(statusOf(frames, s, '1'))).toEqual([seats[0]]);
    // The same text but for the Minotaur's line, which reads "you" on its quarry's own page.
    const besides = (viewer: string) =>
      statusOf(frames, s, viewer).replace(/<p class="intent">[\s\S]*?<\/p>/, '');
    expect(besides('2')).toBe(besides('1'));
  });

  it('names the Minotaur\'s quarry "you" on that hero\'s own page, by name on every other', () => {
    const frames = new GameFrames();
    const started = playedGame(3, 3).find((s) => s.label === 'started')!.state;
    const line = (viewer: string | null) =>
      /<p class="intent">[\s\S]*?<strong>([^<]*)<\/strong>/.exec(
        statusOf(frames, started, viewer),
      )?.[1];
    const hunted = started.players.find((p) => line(p.id) === 'you');
    expect(hunted).toBeDefined();
    for (const p of started.players.filter((x) => x !== hunted))
      expect(line(p.id), p.name).toBe(hunted!.name);
    expect(line(null)).toBe(hunted!.name);
  });

  it("still names every hero still choosing to the load clients' reader, on each hero's page", () => {
    const frames = new GameFrames();
    const started = playedGame(4, 3).find((s) => s.label === 'started')!.state;
    for (const viewer of ['1', '2', '3', null]) {
      expect(parseStatus(statusOf(frames, started, viewer)).waiting, `viewer ${viewer}`).toEqual([
        'ariadne',
        'theseus',
        'minos',
      ]);
    }
  });
});
