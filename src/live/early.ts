// Frames a page sends right after its WebSocket opens arrive while the upgrade request still
// goes through the middleware (the session is read from the database, which takes a while on a
// node that just started): ws drops a frame that no listener hears. Each player socket keeps
// what arrives from the moment it opens, and the route that takes it over receives it.

import type { LiveWire } from './source.js';

type Frame = [data: unknown, isBinary: boolean | undefined];

/**
 * Frames kept at most before the route takes the socket over: a page sends one or two (an
 * action it resends); past this, a client is flooding a socket nobody admitted yet, and the rest
 * is dropped as ws would have dropped it.
 */
export const EARLY_FRAMES_MAX = 16;

const held = new WeakMap<object, { frames: Frame[]; stop: () => void }>();

/**
 * Keeps the frames of `wire` in `frames` (at most EARLY_FRAMES_MAX there in all; the rest is
 * dropped) until the returned function is called.
 */
export function keepFrames(wire: LiveWire, frames: Frame[]): () => void {
  const listener = (data: unknown, isBinary?: boolean): void => {
    if (frames.length < EARLY_FRAMES_MAX) frames.push([data, isBinary]);
  };
  wire.on('message', listener);
  return () => wire.off?.('message', listener);
}

/** Starts keeping the frames of a socket that has just opened. */
export function holdEarlyFrames(wire: LiveWire): void {
  const frames: Frame[] = [];
  held.set(wire, { frames, stop: keepFrames(wire, frames) });
}

/**
 * The frames kept since the socket opened (in order), and no more keeping: the caller listens
 * from here on, in the same tick, so nothing falls between.
 */
export function takeEarlyFrames(wire: LiveWire): Frame[] {
  const h = held.get(wire);
  if (!h) return [];
  held.delete(wire);
  h.stop();
  return h.frames;
}
