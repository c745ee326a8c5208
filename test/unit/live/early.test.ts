// Frames a page sends before the route has taken its socket over are kept, in order, and
// handed over once; a client flooding a socket nobody admitted yet is not buffered without end.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  EARLY_FRAMES_MAX,
  holdEarlyFrames,
  keepFrames,
  takeEarlyFrames,
} from '../../../src/live/early.js';
import type { LiveWire } from '../../../src/live/source.js';

function wire(): LiveWire & EventEmitter {
  return Object.assign(new EventEmitter(), {
    readyState: 1,
    send() {},
    close() {},
  });
}

describe('early frames', () => {
  it('keeps what arrives before the route listens, in order, and hands it over once', () => {
    const w = wire();
    holdEarlyFrames(w);
    w.emit('message', 'first', false);
    w.emit('message', 'second', false);
    expect(takeEarlyFrames(w)).toEqual([
      ['first', false],
      ['second', false],
    ]);
    // From here on the route listens itself: nothing more is kept, and nothing twice.
    w.emit('message', 'third', false);
    expect(takeEarlyFrames(w)).toEqual([]);
    expect(w.listenerCount('message')).toBe(0);
  });

  it(`keeps at most ${EARLY_FRAMES_MAX} frames of a socket nobody has taken over`, () => {
    const w = wire();
    holdEarlyFrames(w);
    for (let i = 0; i < EARLY_FRAMES_MAX * 10; i++) w.emit('message', `f${i}`, false);
    const kept = takeEarlyFrames(w);
    expect(kept).toHaveLength(EARLY_FRAMES_MAX);
    expect(kept[0]).toEqual(['f0', false]);
  });

  it('keeps within the same cap while the route waits for the game, then stops', () => {
    // The route takes the frames over, then keeps what comes while it waits for the game's copy
    // (up to seconds): a client flooding a socket the route has not opened yet is still capped.
    const w = wire();
    holdEarlyFrames(w);
    for (let i = 0; i < 10; i++) w.emit('message', `f${i}`, false);
    const frames = takeEarlyFrames(w);
    const stop = keepFrames(w, frames);
    for (let i = 10; i < EARLY_FRAMES_MAX * 100; i++) w.emit('message', `f${i}`, false);
    expect(frames).toHaveLength(EARLY_FRAMES_MAX);
    expect(frames.at(-1)).toEqual([`f${EARLY_FRAMES_MAX - 1}`, false]);
    stop();
    w.emit('message', 'later', false);
    expect(frames).toHaveLength(EARLY_FRAMES_MAX);
    expect(w.listenerCount('message')).toBe(0);
  });
});
