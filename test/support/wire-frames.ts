// The data frames a client's WebSocket receives, read from the raw TCP stream before `ws` parses
// (and, with permessage-deflate, inflates) them: what crossed the wire, message by message.

import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** One message as it crossed the wire. */
export interface WireFrame {
  /** Header and payload bytes. */
  bytes: number;
  /** Sent compressed (RSV1: permessage-deflate). */
  compressed: boolean;
}

/**
 * Wire size of one WebSocket frame from the server (unmasked): payload + 2, 4 or 10 header bytes.
 */
export function frameBytes(payload: number): number {
  return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
}

/** Reads a server's frames (unmasked, one frame per message) as they come, one entry each. */
export class WireFrames {
  private readonly frames: WireFrame[] = [];
  /** Header bytes of the next frame read so far. */
  private header: number[] = [];
  /** Bytes of the current frame's payload still to come. */
  private rest = 0;

  /**
   * Frames of `ws` from its opening on (`ws` emits 'open' before it reads any of the stream, so
   * the reader sees every frame before ws does).
   */
  static of(ws: WebSocket): WireFrames {
    const frames = new WireFrames();
    ws.once('open', () =>
      (ws as unknown as { _socket: Socket })._socket.prependListener('data', (chunk: Buffer) =>
        frames.read(chunk),
      ),
    );
    return frames;
  }

  read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.rest > 0) {
        const n = Math.min(this.rest, chunk.length - at);
        this.rest -= n;
        at += n;
        continue;
      }
      const h = this.header;
      h.push(chunk[at++] as number);
      if (h.length < 2) continue;
      const len7 = (h[1] as number) & 0x7f;
      const need = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (h.length < need) continue;
      let payload = len7;
      if (len7 >= 126) {
        payload = 0;
        for (let i = 2; i < need; i++) payload = payload * 256 + (h[i] as number);
      }
      const first = h[0] as number;
      // Control frames (ping, pong, close) are not messages.
      if ((first & 0x0f) < 8)
        this.frames.push({ bytes: need + payload, compressed: (first & 0x40) !== 0 });
      this.header = [];
      this.rest = payload;
    }
  }

  /** The next message's frame, or null when the stream was not seen. */
  next(): WireFrame | null {
    return this.frames.shift() ?? null;
  }
}
