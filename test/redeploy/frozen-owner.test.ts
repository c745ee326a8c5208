// A frozen owner must not acknowledge an action its successor never applied. Two nodes, one
// game owned by n1. n1 gets SIGSTOP; a player's action reaches n1's socket while it is frozen
// (the kernel keeps it); n2 declares n1 down and takes the game over; n1 gets SIGCONT and
// processes the action with its links to n2 closing. Whatever n1 answers, an acknowledgement
// must mean the action is in the game n2 now runs — and, resent by the page to n2, it is
// applied exactly once.

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';

import { waitFor, logLines } from '../support/node-process.js';
import { Player, openStartedGame, roundIn, type LiveConnection } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
const conns: LiveConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await rig?.close();
});

function live(p: Player, code: string): LiveConnection {
  const c = p.connect(code);
  conns.push(c);
  return c;
}

describe('SIGSTOP of an owner while an action is on its way to it', () => {
  it('never acknowledges an action the successor does not hold; the resent action is applied once', async () => {
    // Long rounds: the round stays open through the whole takeover.
    rig = await Rig.create({ roundSeconds: 30 });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    const n2 = rig.start('n2', '127.0.0.3');
    await n2.ready();
    const tag = Date.now().toString(36).slice(-5);
    const a = new Player(n1.url, `fa${tag}`);
    const b = new Player(n1.url, `fb${tag}`);
    const code = await openStartedGame([a, b]);
    let rec = await adminGame(n1.url, code);
    expect(rec.owner).toBe('n1');
    const idA = rec.state.players.find((p) => p.name === a.username)!.id;
    const round = rec.state.round;

    const ca = live(a, code);
    await ca.opened;
    await waitFor(
      () => roundIn(ca.latestPartial('game-status')) === round,
      5000,
      'the page to show the round',
    );

    await rig.freeze(n1);
    await waitFor(
      () =>
        logLines([n2], new RegExp(`^game ${code} adopted from node n1 .*\\[takeover\\]$`)).length >
        0,
      15_000,
      `n2 to take ${code} over`,
    );
    // n2 has closed its link to n1 by now; the action reaches n1's socket after that, so when
    // n1 runs again it may see its peer gone before it reads the action (as in the field).
    await new Promise((r) => setTimeout(r, 1500));
    const actionId = randomUUID();
    const since = ca.messages.length;
    ca.send({ type: 'act', actionId, round, kind: 'defend' });
    await new Promise((r) => setTimeout(r, 100));
    n1.signal('SIGCONT');
    rig.paused.delete(n1);

    // n1 answers the action (or its socket closes) once it runs again.
    const reply = await waitFor(
      () =>
        ca.messages.slice(since).find((m) => m.json?.actionId === actionId)?.json ??
        (ca.closeCode !== null ? { closed: ca.closeCode } : null),
      15_000,
      'n1 to answer the action',
    );
    rec = await waitFor(
      async () => {
        const r = await adminGame(n2.url, code);
        return r.owner === 'n2' ? r : null;
      },
      5000,
      'n2 to own the game',
    );
    if (reply.type === 'ack') {
      expect(
        rec.state.submitted[idA]?.id,
        `n1 acknowledged ${actionId} but n2's game does not hold it`,
      ).toBe(actionId);
    } else {
      expect(rec.state.submitted[idA]).toBeUndefined();
    }
    // n1 stopped running the game: it was fenced by the database or by n2.
    await waitFor(
      () => n1.hasLog((l) => new RegExp(`^game ${code}: stopped running it`).test(l.msg)),
      10_000,
      'n1 to stop running the game',
    );

    // The page resends its unacknowledged action (to n2 now): applied exactly once.
    const direct = new Player(n2.url, a.username);
    direct.cookie = a.cookie;
    const c2 = live(direct, code);
    await c2.opened;
    const again = await c2.act(round, 'defend', undefined, actionId);
    expect(again).toMatchObject({ type: 'ack' });
    expect(again.duplicate).toBe(reply.type === 'ack');
    const after = await adminGame(n2.url, code);
    expect(after.state.submitted[idA]?.id).toBe(actionId);
    expect(logLines([n1, n2], new RegExp(`^game ${code} adopted`))).toHaveLength(1);
  });
});
