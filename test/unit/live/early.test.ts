// Frames a page sends before the route has taken its socket over are kept, in order, and
// handed over once; a client flooding a socket nobody admitted yet is not buffered without end.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EARLY_FRAMES_MAX, holdEarlyFrames, takeEarlyFrames } from '../../../src/live/early.js';
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
});
