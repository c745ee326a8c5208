// SIGSTOP of a game's owner until the survivors declare it down and one adopts the game, then
// SIGCONT (a paused VM, a long GC pause, a healed partition). The node is stopped a moment
// before the round's deadline, so the deadline has passed when it wakes: it must not resolve
// that round too. Fencing: it stops running the game ("game X: stopped running it, …"), its
// late writes are ignored (every node, itself included, ends on the successor's epoch and
// owner), and never do two clocks resolve one round.
//
// Invariants (test/support/invariants.ts, checked by checkAll in check-all.ts): no game reset;
// no round repeated or skipped; no acknowledged action lost; none applied twice; never two
// owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';
import { clusterOf } from '../support/cluster.js';
import { resolutions } from '../support/invariants.js';
import { logLines, waitFor } from '../support/node-process.js';
import { flushLog, ownerMidRound, takeoverOf } from '../support/owner-loss.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('SIGSTOP of an owner until declared down, then SIGCONT', () => {
  it('the successor runs the game; the old owner is fenced and never resolves a round again', async () => {
    rig = await Rig.create({ roundSeconds: 3 });
    const scene = await ownerMidRound(rig, 2000);
    const { victim, code, lazy, acting } = scene;
    let { record, round } = scene;

    // Stop the owner late in the round: it stays stopped until the survivors declare it down
    // (PEER_DOWN_MS, 1.5 s), so when it wakes the deadline has passed. (Room for freeze() to let
    // it finish a write it may be in the middle of, and for a loaded machine's timers.) Should
    // the deadline pass before the node is stopped all the same, it is let go at once (too soon
    // to be declared down: it resolves that round itself) and a fresh round is tried.
    let stoppedAt = 0;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) {
        record = await rig.freshRound(code, 2000);
        round = record.state.round;
        await Promise.all(acting.map((b) => b.waitAck(round, 3000)));
      }
      const deadline = record.state.deadline!;
      const lastMoment = deadline - 800;
      await waitFor(() => Date.now() >= lastMoment, 5000, 'the last moment of the round', 5);
      await rig.freeze(victim);
      stoppedAt = Date.now();
      if (stoppedAt < deadline) break;
      victim.signal('SIGCONT');
      rig.paused.delete(victim);
      if (attempt === 3)
        throw new Error(`n1 was stopped after the round's deadline in ${attempt} rounds running`);
    }
    rig.lb.delete(victim);

    const takeover = takeoverOf(code);
    await waitFor(
      () => logLines(rig!.all, takeover).length > 0,
      10_000,
      `a takeover of ${code}\n${rig.tail(25)}`,
    );
    const adoption = logLines(rig.all, takeover)[0]!;
    const successor = adoption.node;
    const epoch = Number(takeover.exec(adoption.line.msg)![1]);
    // Let the successor's clock run a little before the old owner wakes up.
    // (The successor holds the round up to 10 s for players whose pages were on the frozen node.)
    await waitFor(
      async () => (await adminGame(rig!.node(successor).url, code)).state.round > round,
      20_000,
      'the successor to resolve the round',
    );
    victim.signal('SIGCONT');
    rig.paused.delete(victim);
    const contAt = Date.now();

    await waitFor(
      () => victim.hasLog((l) => new RegExp(`^game ${code}: stopped running it`).test(l.msg)),
      10_000,
      `n1 to stop running ${code}\n${rig.tail(25)}`,
    );
    // Late writes are ignored: every node, the old owner too, holds the successor's epoch.
    await waitFor(
      async () => {
        for (const n of rig!.live()) {
          const r = await adminGame(n.url, code);
          if (r.owner !== successor || r.epoch !== epoch) return false;
        }
        return true;
      },
      10_000,
      `every node to hold ${code} at epoch ${epoch} owned by ${successor}`,
    );
    rig.lb.add(victim); // healthy again: the load balancer may route players to it
    lazy.resume();
    await rig.roundsPass(2);

    // The old owner resolved no round of the game after it was stopped (effective or not). A
    // resolution is logged once its write settles: wait until it runs no game and has no write
    // pending, then until its log has caught up.
    await waitFor(
      async () => {
        const { replication } = await clusterOf(victim);
        return replication['owned here'] === 0 && replication['pending writes'] === 0;
      },
      10_000,
      'n1 to run no game and have no write pending',
    );
    await flushLog(victim);
    const late = resolutions([victim], code).filter((r) => Date.parse(r.time) >= stoppedAt);
    expect(
      late,
      `n1 resolved rounds after SIGSTOP (SIGCONT at ${new Date(contAt).toISOString()})`,
    ).toEqual([]);
    expect(logLines(rig.all, new RegExp(`^game ${code} adopted`))).toHaveLength(1);

    await checkAll(rig, 'sigstop', { round, successor });
  });
});
