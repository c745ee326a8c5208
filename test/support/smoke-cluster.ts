// Manual smoke: 3 nodes + DNS; prints members and plays a game across nodes.
import { createDnsServer } from './dns-server.js';
import { startNode, freePort, tempDir, waitFor } from './node-process.js';
import { Player, roundIn } from './player.js';

const dns = await createDnsServer();
const port = await freePort();
const dir = tempDir();
const name = 'tasks.minotaur';
dns.setRecords(name, ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
const env = { DNS_CLUSTER_QUERY: name, DNS_CLUSTER_RESOLVER: dns.address, CLUSTER_SECRET: 'cluster-secret-0123456789', DNS_POLL_MS: '500', ADMIN_TOKEN: 'admin-token-0123456789abcdef', ROUND_SECONDS: '3' };
const nodes = ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((host, i) => startNode({ host, port, nodeId: `n${i + 1}`, databasePath: `${dir}/db.sqlite`, env }));
try {
  await Promise.all(nodes.map((n) => n.ready()));
  const members = await (await fetch(`${nodes[0]!.url}/admin/cluster.json`, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })).json();
  console.log(JSON.stringify(members.members.map((m: any) => [m.id, m.state, m.address])));
  const a = new Player(nodes[0]!.url, 'alice' + Date.now() % 10000);
  const b = new Player(nodes[1]!.url, 'bob' + Date.now() % 10000);
  await a.signup(); await b.signup();
  const code = await a.createGame();
  console.log('created', code);
  await waitFor(async () => (await b.page('/lobby')).html.includes(code), 5000, 'lobby on n2');
  const j = await b.join(code); console.log('join', j.status);
  const s = await a.start(code); console.log('start', s.status);
  const ca = a.connect(code); const cb = b.connect(code);
  await ca.opened; await cb.opened;
  await waitFor(() => roundIn(cb.latestPartial('game-status')) === 1, 5000, 'round 1 on b');
  console.log('b ack', await cb.act(1, 'defend'));
  console.log('a ack', await ca.act(1, 'defend'));
  await waitFor(() => roundIn(cb.latestPartial('game-status')) === 2, 5000, 'round 2 on b');
  console.log('round 2 reached on both');
  // SIGTERM the owner (n1): the game should move.
  nodes[0]!.signal('SIGTERM');
  await nodes[0]!.exited;
  console.log('n1 exit', nodes[0]!.exitCode, 'a close', ca.closeCode);
  const rec = await (await fetch(`${nodes[1]!.url}/admin/games/${code}.json`, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })).json();
  console.log('owner now', rec.owner, 'epoch', rec.epoch, 'round', rec.state.round);
  console.log('b ack r2', await cb.act(2, 'defend'));
  for (const n of nodes) console.log(n.opts.nodeId, n.raw.filter((l) => /handed|adopted|refused|error|warn/i.test(l)).slice(0, 6).join('\n'));
} finally {
  for (const n of nodes) await n.kill();
  await dns.close();
}
