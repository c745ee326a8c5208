// A malformed WebSocket frame (reserved bits set, no mask, a length past the limit) sent right
// after an upgrade, before any route took the socket or after a route refused it, closes that
// socket only: the node keeps serving players, its health check and the mesh. ws reports such a
// frame as an 'error' event on the socket, and an error event nobody listens to stops a Node
// process.

import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { MESH_PATH } from '../../src/cluster/protocol.js';
import { waitFor } from '../support/node-process.js';
import { Player } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

/** Upgrades `path` on `url`'s node over raw TCP, as a browser of that origin would. */
function upgrade(url: string, path: string, cookie = ''): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () =>
      s.write(
        [
          `GET ${path} HTTP/1.1`,
          `Host: ${hostname}:${port}`,
          `Origin: ${url}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          ...(cookie ? [`Cookie: ${cookie}`] : []),
          '',
          '',
        ].join('\r\n'),
      ),
    );
    s.once('data', (d: Buffer) =>
      String(d).startsWith('HTTP/1.1 101')
        ? resolve(s)
        : reject(new Error(`${path}: ${String(d).split('\r\n')[0]}`)),
    );
    s.once('error', reject);
  });
}

/** Frames no client may send: reserved bits set, unmasked, and a 2^62-byte length. */
const BAD_FRAMES = [
  Buffer.from([0xff, 0xff, 0, 0, 0, 0]),
  Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]),
  Buffer.from([0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
];

describe('malformed frames on a fresh socket', () => {
  it('close that socket, and the node serves on', async () => {
    rig = await Rig.create({ roundSeconds: 30 });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    const tag = Date.now().toString(36).slice(-5);
    const a = new Player(n1.url, `mf${tag}`);
    await a.signup();
    const code = await a.createGame();
    const closed: Promise<void>[] = [];
    for (const frame of BAD_FRAMES)
      for (const [path, cookie] of [
        ['/lobby/live', ''], // refused by the route: not logged in
        [`/games/${code}/live`, ''],
        ['/lobby/live', a.cookie], // the session still being read
        [`/games/${code}/live?render=patch2`, a.cookie],
        [MESH_PATH, ''], // before the mesh's handshake
      ] as const) {
        const s = await upgrade(n1.url, path, cookie);
        s.on('error', () => undefined);
        closed.push(new Promise((resolve) => s.once('close', () => resolve())));
        s.write(frame);
      }
    // Every such socket is closed by the node.
    await Promise.race([
      Promise.all(closed),
      new Promise((_, reject) => setTimeout(() => reject(new Error('sockets left open')), 10_000)),
    ]);
    // The node is still up: its health check, a page and a live socket answer.
    expect(n1.alive).toBe(true);
    expect((await fetch(`${n1.url}/health_check`)).status).toBe(200);
    expect((await a.page('/lobby')).status).toBe(200);
    const c = a.connect(code);
    await c.opened;
    await waitFor(() => c.messages.length > 0, 5_000, 'a message on a new socket');
    c.close();
    expect(n1.alive).toBe(true);
  });
});
