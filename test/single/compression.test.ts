// LIVE_COMPRESSION. By default (large), a client that offers permessage-deflate (every browser
// does) is sent each message of 1 KiB and more compressed, and every smaller one as it is; `on`
// compresses every message of 256 bytes and more; `off` declines the offer. Either way the game
// plays, and a client that offers the extension without limiting its own window (Firefox and
// Safari) is not refused. The browser's side of it is in test/browser/play.test.ts.

import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import {
  openStartedGame,
  Player,
  roundIn,
  type LiveConnection,
  type PageSocketOptions,
} from '../support/player.js';
import { compressedTextHeader, deflateMessage, LARGE_MESSAGE } from '../../src/web/live-wire.js';

/**
 * An offer of permessage-deflate with no client_max_window_bits, as Firefox and Safari make it
 * (ws reads `false` so; its types only list numbers).
 */
const NO_WINDOW_OFFER = false as unknown as number;

const nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];
const tag = String(Date.now() % 100000);

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
});

async function nodeWith(compression: 'on' | 'off' | 'large' | null): Promise<NodeProcess> {
  const node = startNode({
    port: await freePort(),
    databasePath: join(tempDir(), 'compression.db'),
    env: compression === null ? {} : { LIVE_COMPRESSION: compression },
  });
  nodes.push(node);
  await node.ready();
  return node;
}

/** `closed` was closed with `code`, and only it: the node runs and the other page plays on. */
async function closedAlone(
  node: NodeProcess,
  closed: LiveConnection,
  other: LiveConnection,
  code: number,
): Promise<void> {
  await closed.closed;
  expect(closed.closeCode).toBe(code);
  expect(node.alive).toBe(true);
  expect(other.ws.readyState).toBe(other.ws.OPEN);
  const round = await waitFor(
    () => roundIn(other.latestPartial('game-status')) || false,
    10_000,
    'round',
  );
  expect(await other.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
}

/** Two players in a started game, with live sockets that offer what `offers` say. */
async function playing(node: NodeProcess, name: string, offers: PageSocketOptions[] = [{}, {}]) {
  const a = new Player(node.url, `${name}a${tag}`);
  const b = new Player(node.url, `${name}b${tag}`);
  const code = await openStartedGame([a, b]);
  const [ca, cb] = [a.connect(code, offers[0]), b.connect(code, offers[1])];
  conns.push(ca, cb);
  await Promise.all([ca.opened, cb.opened]);
  return { ca, cb };
}

/** Both players defend a round; each page is then shown the next one. */
async function playRound(ca: LiveConnection, cb: LiveConnection): Promise<void> {
  const round = await waitFor(
    () => roundIn(ca.latestPartial('game-status')) || false,
    10_000,
    'a round shown',
  );
  expect(await ca.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
  expect(await cb.act(round, 'defend')).toMatchObject({ type: 'ack', duplicate: false });
  for (const c of [ca, cb])
    await waitFor(
      () => roundIn(c.latestPartial('game-status')) === round + 1,
      10_000,
      `round ${round + 1} shown`,
    );
}

describe('a large message, compressed on its own', () => {
  it('inflates to the very text, as a page inflates it (the sync tail put back)', () => {
    const text = JSON.stringify({
      type: 'render',
      p: Array.from({ length: 80 }, (_, i) => `tile ${i}`),
    });
    const payload = deflateMessage(text);
    expect(payload).not.toBeNull();
    expect(payload!.length).toBeLessThan(Buffer.byteLength(text) / 2);
    const tail = Buffer.from([0x00, 0x00, 0xff, 0xff]);
    expect(
      inflateRawSync(Buffer.concat([payload!, tail]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }).toString(),
    ).toBe(text);
    // Text that does not get smaller is sent as it is.
    expect(deflateMessage('ab')).toBeNull();
  });

  it('heads its frame with FIN, RSV1 and the text opcode, and its length in 7, 16 or 64 bits', () => {
    expect([...compressedTextHeader(125)]).toEqual([0xc1, 125]);
    expect([...compressedTextHeader(126)]).toEqual([0xc1, 126, 0, 126]);
    expect([...compressedTextHeader(65535)]).toEqual([0xc1, 126, 0xff, 0xff]);
    expect([...compressedTextHeader(65536)]).toEqual([0xc1, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  });
});

describe('live socket compression', () => {
  it('by default, compresses exactly the messages of 1 KiB and more, for every kind of offer', async () => {
    for (const setting of [null, 'large'] as const) {
      const node = await nodeWith(setting);
      // As Chromium offers (and ws by default), and as Firefox and Safari offer: no limit on
      // their own window. Both compress every message they send, as browsers do.
      const { ca, cb } = await playing(node, setting === null ? 'zdf' : 'zlg', [
        { perMessageDeflate: { threshold: 0 } },
        { perMessageDeflate: { clientMaxWindowBits: NO_WINDOW_OFFER, threshold: 0 } },
      ]);
      for (const c of [ca, cb]) expect(c.ws.extensions).toMatch(/^permessage-deflate/);
      const tiles = await waitFor(() => ca.latestPartial('game-board-tiles'), 10_000, 'tiles');
      expect(tiles).toContain('</svg>');
      await playRound(ca, cb);
      for (const c of [ca, cb]) {
        const seen = c.messages.filter((m) => m.frame !== null);
        expect(seen.length).toBe(c.messages.length);
        // The first render is several KiB: at least that one went compressed.
        const large = seen.filter((m) => Buffer.byteLength(m.wire) >= LARGE_MESSAGE);
        expect(large.length).toBeGreaterThan(0);
        for (const m of seen) {
          const size = Buffer.byteLength(m.wire);
          expect(m.frame!.compressed, `${size} B`).toBe(size >= LARGE_MESSAGE);
          if (m.frame!.compressed) expect(m.frame!.bytes).toBeLessThan(size);
        }
      }
    }
  });

  it('closes a socket whose compressed message inflates past the frame limit, and plays on', async () => {
    const node = await nodeWith(null);
    const { ca, cb } = await playing(node, 'zbm', [
      { perMessageDeflate: { threshold: 0 } },
      { perMessageDeflate: { threshold: 0 } },
    ]);
    // A few hundred bytes on the wire, 1 MiB once inflated.
    ca.ws.send(`{"type":"chat","text":"${'a'.repeat(1 << 20)}"}`);
    await closedAlone(node, ca, cb, 1009);
  });

  it('closes a socket whose compressed message is not deflate data with 1007, and plays on', async () => {
    const node = await nodeWith(null);
    const { ca, cb } = await playing(node, 'zcr', [{}, {}]);
    // One text frame marked compressed (RSV1) whose payload is no deflate stream (a block of the
    // reserved type), masked with a zero key as a page must mask.
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const frame = Buffer.concat([Buffer.from([0xc1, 0x80 | junk.length, 0, 0, 0, 0]), junk]);
    (ca.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frame);
    await closedAlone(node, ca, cb, 1007);
  });

  it('compresses every message of 256 bytes and more when LIVE_COMPRESSION=on, for every kind of offer', async () => {
    const node = await nodeWith('on');
    const { ca, cb } = await playing(node, 'zon', [
      {},
      { perMessageDeflate: { clientMaxWindowBits: NO_WINDOW_OFFER } },
    ]);
    for (const c of [ca, cb]) expect(c.ws.extensions).toMatch(/^permessage-deflate/);
    const tiles = await waitFor(() => ca.latestPartial('game-board-tiles'), 10_000, 'tiles');
    expect(tiles).toContain('</svg>');
    await playRound(ca, cb);
    for (const c of [ca, cb]) {
      for (const m of c.messages)
        expect(m.frame?.compressed, m.wire).toBe(Buffer.byteLength(m.wire) >= 256);
    }
  });

  it('declines the offer when LIVE_COMPRESSION=off', async () => {
    const node = await nodeWith('off');
    const { ca, cb } = await playing(node, 'zof');
    expect(ca.ws.extensions).toBe('');
    await playRound(ca, cb);
    expect(ca.messages.every((m) => m.frame?.compressed === false)).toBe(true);
  });
});
