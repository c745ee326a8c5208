// An action that reached the node before its round's deadline counts, however late the node
// gets to read it. A busy node runs its timers before it reads its sockets, and a round past its
// deadline used to be resolved by the first action read after the deadline: the other players'
// actions of that round, which had arrived with it, were then refused as late (`stale-round`).
// Here the node is frozen (SIGSTOP, as a saturated event loop or a paused VM would hold it)
// while both players' actions reach its sockets, and thawed after the deadline: both must be
// acknowledged, and the round must resolve with both.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, adminGame } from '../support/admin.js';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, openStartedGame, roundIn, type LiveConnection } from '../support/player.js';

const nodes: NodeProcess[] = [];
const conns: LiveConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  for (const n of nodes) n.signal('SIGCONT');
  await Promise.all(nodes.map((n) => n.kill()));
});

describe('actions that reached a frozen node before the deadline', () => {
  it('are all acknowledged and resolved in their round, not refused as late', async () => {
    const node = startNode({
      port: await freePort(),
      databasePath: join(tempDir(), 'late.db'),
      env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROUND_SECONDS: '6' },
    });
    nodes.push(node);
    await node.ready();
    const tag = Date.now().toString(36).slice(-5);
    const players = [new Player(node.url, `la${tag}`), new Player(node.url, `lb${tag}`)];
    const code = await openStartedGame(players);
    const live = players.map((p) => p.connect(code));
    conns.push(...live);
    await Promise.all(live.map((c) => c.opened));

    // A round with most of its time left, shown on both pages.
    const { round, deadline } = await waitFor(
      async () => {
        const { state } = await adminGame(node.url, code);
        const left = (state.deadline ?? 0) - Date.now();
        return state.status === 'playing' && left > 4000
          ? { round: state.round, deadline: state.deadline! }
          : null;
      },
      15_000,
      'a round with time left',
    );
    await waitFor(
      () => live.every((c) => roundIn(c.latestPartial('game-status')) === round),
      5000,
      'both pages to show the round',
    );

    node.signal('SIGSTOP');
    const ids = live.map(() => randomUUID());
    const since = live.map((c) => c.messages.length);
    live.forEach((c, i) => c.send({ type: 'act', actionId: ids[i], round, kind: 'defend' }));
    // Both were sent well before the deadline; the node reads them only after it.
    expect(Date.now()).toBeLessThan(deadline - 1000);
    await waitFor(() => Date.now() > deadline + 500, 10_000, 'the deadline to pass');
    node.signal('SIGCONT');

    const replies = await Promise.all(live.map((c, i) => c.reply(ids[i]!, 10_000, since[i])));
    expect(replies.map((r) => r.type)).toEqual(['ack', 'ack']);
    // The round resolved once, with both heroes' defences in it.
    const after = await waitFor(
      async () => {
        const rec = await adminGame(node.url, code);
        return rec.state.round > round ? rec : null;
      },
      10_000,
      'the round to resolve',
    );
    expect(after.state.round).toBe(round + 1);
    // Both heroes defended in that round, and it applied both actions.
    const defended = after.state.events.filter((e) => e.kind === 'defend').map((e) => e.actor);
    const heroes = after.state.players.map((p) => p.id);
    expect(defended.sort()).toEqual(heroes.sort());
    expect(Object.values(after.state.previous).sort()).toEqual([...ids].sort());
  });
});
