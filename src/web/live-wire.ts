// A player's WebSocket as the live layer uses it (LiveWire), and how its messages are
// compressed.
//
// LIVE_COMPRESSION=large (the default), for a page that offers permessage-deflate (every browser
// does): each message of LARGE_MESSAGE bytes or more (a first render, an eventful round) is
// compressed on its own, in one call to zlib that keeps nothing afterwards, and every smaller
// one (almost all: actions, the clock, most rounds) is sent as it is. What the page sends (a
// browser compresses every message once the extension is agreed) is inflated the same way, one
// message at a time. ws's own compressor and inflater keep a zlib stream per socket for as long
// as it is open and work on the thread pool: at 1,000 browser-like pages, 1.08-1.15 ms of CPU
// per action against 0.82-0.97 without compression, and ~50 MB more; done this way,
// 0.89-1.00 ms and no memory kept (docs/benchmarks.md, "Large messages compressed one by one").
// LIVE_COMPRESSION=on hands every message of 256 bytes and more to ws's compressor; off declines
// the extension.

import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { LiveCompression } from '../config.js';
import type { LiveWire } from '../live/source.js';

/** Messages of this many bytes and more are compressed with LIVE_COMPRESSION=large. */
export const LARGE_MESSAGE = 1024;

const EXTENSION = 'permessage-deflate';
/** What RFC 7692 strips from the end of a message's deflate data (an empty stored block). */
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * The tail put back on a page's message before it is inflated: that empty stored block, then an
 * empty final block, so the data is a whole stream and zlib needs no window to keep for more.
 */
const MESSAGE_END = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x03, 0x00]);
/** zlib's memLevel for compressed messages: 4 takes ~25 KB a call instead of ~150 KB at 8. */
const MEM_LEVEL = 4;
/**
 * zlib's output buffer per call, which node allocates outside the JavaScript heap for each call
 * (16 KiB by default): a message that does not fit takes a second one. Hundreds of calls a
 * second at the default made V8 run a full collection every few seconds for external memory.
 */
const DEFLATE_CHUNK = 4096;
const INFLATE_CHUNK = 1024;
/** A compressed message's window: large enough for any message a page is sent. */
const WINDOW_BITS = 12;

/**
 * ws's options for players' sockets. `large`: the extension is negotiated (the page compresses
 * its own messages as it likes: they are small) but ws compresses nothing itself. `on`: a 4 KiB
 * window for what the node sends (~50 KB of zlib state per socket instead of ~300 KB at zlib's
 * defaults), and messages under 256 bytes (acks, the clock) sent as they are. Neither asks for
 * the page's window: ws refuses the handshake (400) of a page that did not offer to limit it
 * (Firefox and Safari offer only "permessage-deflate"), so a page uses the window it likes.
 */
export function deflateOptions(mode: LiveCompression): false | Record<string, unknown> {
  if (mode === 'off') return false;
  if (mode === 'large')
    return {
      threshold: Number.MAX_SAFE_INTEGER,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    };
  return { threshold: 256, serverMaxWindowBits: 12, zlibDeflateOptions: { memLevel: 6 } };
}

/**
 * `text` as a permessage-deflate message's payload on its own (no window shared with other
 * messages), or null when compressing does not make it smaller.
 */
export function deflateMessage(text: string, windowBits = WINDOW_BITS): Buffer | null {
  const data = Buffer.from(text);
  const out = deflateRawSync(data, {
    windowBits,
    memLevel: MEM_LEVEL,
    chunkSize: DEFLATE_CHUNK,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  const payload = out.subarray(0, out.length - SYNC_TAIL.length);
  return payload.length < data.length ? payload : null;
}

/** The header of an unmasked, final text frame of `length` bytes (RFC 6455 5.2), RSV1 set. */
export function compressedTextHeader(length: number): Buffer {
  const first = 0x80 | 0x40 | 0x1;
  if (length < 126) return Buffer.from([first, length]);
  if (length < 0x10000) {
    const header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.alloc(10);
  header[0] = first;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

/** The parts of a ws WebSocket (ws 7 from express-ws, or 8) this wire reads. */
interface WsSocket {
  readyState: number;
  send(data: string, options?: { compress?: boolean }): void;
  close(code?: number, reason?: string): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  ping(): void;
  terminate(): void;
  /** What the socket's stream and ws's sender hold unsent (a field read and a sum). */
  readonly bufferedAmount: number;
  /** The TCP stream under the socket (both ws versions keep it here). */
  _socket?: { cork(): void; uncork(): void; write(chunk: Buffer): boolean } | null;
  /** The extensions the handshake agreed on, with their parameters. */
  _extensions?: Record<string, Deflating | undefined>;
}

type Inflated = (err: Error | null, data?: Buffer) => void;

/** ws's permessage-deflate object on one socket: what this file reads and replaces of it. */
interface Deflating {
  params?: Record<string, unknown>;
  decompress(data: Buffer, fin: boolean, callback: Inflated): void;
}

const NOTHING = Buffer.alloc(0);
/** A byte that never occurs in UTF-8. */
const NOT_UTF8 = Buffer.from([0xff]);

/**
 * Inflates what the page sends, one message at a time, with nothing kept between messages (the
 * page was told not to share a window between them: client_no_context_takeover). ws would
 * keep a zlib stream per socket (a 32 KiB window for a browser) and inflate on the thread pool;
 * a browser compresses every message it sends, so on every socket. ws waits for the callback
 * before it reads on, so messages stay in order; it is called on the next tick, as ws expects.
 */
function inflateEachMessage(ext: Deflating, maxPayload: number): void {
  let fragments: Buffer[] = [];
  ext.decompress = (data, fin, callback) => {
    fragments.push(data);
    if (!fin) {
      process.nextTick(callback, null, NOTHING);
      return;
    }
    const message = Buffer.concat([...fragments, MESSAGE_END]);
    fragments = [];
    try {
      const out = inflateRawSync(message, {
        chunkSize: INFLATE_CHUNK,
        maxOutputLength: maxPayload + 1,
      });
      process.nextTick(callback, null, out);
    } catch (err) {
      // Past the limit, ws is handed one byte more than it allows: it then closes the socket
      // with 1009, as it does for an uncompressed frame over the limit (zlib stopped there).
      // Data that is not deflate at all is handed over as a byte no UTF-8 text holds, so ws
      // closes with 1007, as its own inflater does (an error from here would close without a
      // code). A page sends text only; a binary message would be refused as any other.
      const over = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
      process.nextTick(callback, null, over ? Buffer.alloc(maxPayload + 1) : NOT_UTF8);
    }
  };
}

/** A player's socket: sends its large messages compressed (when negotiated), corks its writes. */
export class PlayerWire implements LiveWire {
  /** Window bits for this socket's compressed messages, or 0 when they are sent as they are. */
  private readonly windowBits: number;
  /** What ws is told of each message: never to compress it, unless ws compresses (`on`). */
  private readonly sendOptions: { compress?: boolean };

  constructor(
    private readonly ws: WsSocket,
    mode: LiveCompression,
    /** The largest message a page may send (inflated). */
    maxPayload: number,
  ) {
    const ext = mode === 'large' ? ws._extensions?.[EXTENSION] : undefined;
    this.windowBits = ext ? negotiatedWindow(ext) : 0;
    this.sendOptions = mode === 'on' ? {} : { compress: false };
    if (ext?.params?.client_no_context_takeover === true) inflateEachMessage(ext, maxPayload);
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(text: string): void {
    const socket = this.ws._socket;
    // A character is at most 3 bytes of UTF-8: most messages are known small without counting.
    if (this.windowBits > 0 && text.length * 3 >= LARGE_MESSAGE && socket) {
      const bytes = Buffer.byteLength(text);
      const payload = bytes >= LARGE_MESSAGE ? deflateMessage(text, this.windowBits) : null;
      if (payload !== null) {
        // Written as ws writes a frame: header and payload in one write. Nothing of ws's is
        // queued ahead of it, since ws compresses nothing on this socket.
        socket.cork();
        socket.write(compressedTextHeader(payload.length));
        socket.write(payload);
        socket.uncork();
        return;
      }
    }
    this.ws.send(text, this.sendOptions);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  on(event: string, listener: (...args: never[]) => void): this {
    this.ws.on(event, listener);
    return this;
  }

  off(event: string, listener: (...args: never[]) => void): this {
    this.ws.removeListener(event, listener);
    return this;
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Holds the socket's writes until `uncork`, so the messages sent meanwhile leave in one. */
  cork(): void {
    this.ws._socket?.cork();
  }

  uncork(): void {
    this.ws._socket?.uncork();
  }
}

/**
 * The window this node may compress a socket's messages with: what the handshake agreed on
 * (15 when it named none), capped at WINDOW_BITS; 0 when that is a window zlib cannot write
 * (8 bits).
 */
function negotiatedWindow(ext: Deflating): number {
  const agreed = ext.params?.server_max_window_bits;
  const bits = typeof agreed === 'number' ? agreed : 15;
  return bits < 9 ? 0 : Math.min(bits, WINDOW_BITS);
}
