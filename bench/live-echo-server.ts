// The live benchmark's baseline (bench/live.bench.ts): a bare `ws` server in a process of its
// own. Each message {n, size, relay} is answered with a reply of `size` bytes, to the sender
// (echo) or to every other socket (relay A → server → B). Prints its port, then exits after
// the number of milliseconds given as its argument.

import { WebSocketServer, type WebSocket } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const peers = new Set<WebSocket>();
wss.on('connection', (ws) => {
  peers.add(ws);
  ws.on('close', () => peers.delete(ws));
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { n: number; size: number; relay: boolean };
    const reply = JSON.stringify({ n: m.n, pad: 'x'.repeat(m.size) });
    if (!m.relay) return ws.send(reply);
    for (const p of peers) if (p !== ws) p.send(reply);
  });
});
wss.on('listening', () => {
  const address = wss.address();
  console.log(typeof address === 'object' && address ? address.port : address);
});
setTimeout(() => process.exit(0), Number(process.argv[2] ?? 60_000)).unref();
