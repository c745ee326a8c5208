// A tiny runnable node for multi-process mesh tests, before the full node exists: Express 5 +
// express-ws with only the mesh route, GET /members and POST /state/:state.
// Run: HOST=127.0.0.2 PORT=4000 NODE_ID=a CLUSTER_SECRET=s DNS_CLUSTER_QUERY=... \
//        npx tsx test/support/mesh-node.ts

import { randomBytes } from 'node:crypto';
import express from 'express';
import expressWs from 'express-ws';
import { Discovery } from '../../src/cluster/discovery.js';
import { Mesh } from '../../src/cluster/mesh.js';
import { MAX_FRAME_BYTES, nodeStateSchema } from '../../src/cluster/protocol.js';
import { createLogger } from '../../src/log.js';

const env = process.env;
const host = env.HOST ?? '127.0.0.1';
const port = Number(env.PORT ?? 4000);
const nodeId = env.NODE_ID ?? `n-${randomBytes(3).toString('hex')}`;
const secret = env.CLUSTER_SECRET;
const number = (name: string, fallback: number): number => {
  const value = env[name];
  return value === undefined || value === '' ? fallback : Number(value);
};

// The node's own logger: its lines are written before a SIGKILL, as a real node's are.
const logger = createLogger({ nodeId, level: env.LOG_LEVEL ?? 'info' });
if (!secret) {
  logger.fatal('CLUSTER_SECRET is required');
  process.exit(2);
}

const address = `${host}:${port}`;
const mesh = new Mesh({
  nodeId,
  address,
  secret,
  version: env.NODE_VERSION ?? '0.0.0-test',
  schemas: [1],
  logger,
  heartbeatMs: number('HEARTBEAT_MS', 500),
  downAfterMs: number('DOWN_AFTER_MS', 3000),
  localAddress: host === '0.0.0.0' ? undefined : host,
});
const probe = mesh.channel('probe');
const received: { from: string; body: unknown }[] = [];
probe.onMessage((from, body) => received.push({ from, body }));

const { app } = expressWs(express(), undefined, { wsOptions: { maxPayload: MAX_FRAME_BYTES } });
app.use(express.json());
app.ws(mesh.path, (ws, req) => mesh.accept(ws, req));
app.get('/members', (_req, res) => {
  res.json({
    self: nodeId,
    members: mesh.members(),
    peers: probe.peers().map((p) => p.id),
    suspect: mesh.isSuspect(),
    lastStallAt: mesh.lastStallAt ?? null,
    stats: mesh.stats(),
    received,
  });
});
app.post('/state/:state', (req, res) => {
  const parsed = nodeStateSchema.safeParse(req.params.state);
  if (!parsed.success) {
    res.status(400).json({ error: `unknown state ${req.params.state}` });
    return;
  }
  mesh.lifecycle.to(parsed.data);
  res.json({ state: parsed.data });
});
app.post('/broadcast', (req, res) => {
  res.json({ sentTo: probe.broadcast(req.body) });
});

const server = app.listen(port, host, () => {
  logger.info({ address }, `mesh node ${nodeId} listening on ${address}`);
  mesh.start();
  mesh.lifecycle.to('ready');
  const query = env.DNS_CLUSTER_QUERY;
  if (query) {
    const discovery = new Discovery({
      query,
      resolver: env.DNS_CLUSTER_RESOLVER || undefined,
      intervalMs: number('DNS_INTERVAL_MS', 5000),
      port,
      selfAddress: address,
      logger,
    });
    discovery.onChange((peers) => mesh.setPeers(peers));
    void discovery.resolveNow().then(() => discovery.start());
    process.once('SIGTERM', () => discovery.stop());
  }
  for (const peer of (env.PEERS ?? '').split(',').filter(Boolean)) mesh.connect(peer);
});

process.once('SIGTERM', () => {
  void mesh.stop().then(() => {
    server.close();
    process.exit(0);
  });
});
