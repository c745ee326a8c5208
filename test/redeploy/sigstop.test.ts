// SIGSTOP of a game's owner until the survivors declare it down and one adopts the game, then
// SIGCONT (a paused VM, a long GC pause, a healed partition). The node is stopped a moment
// before the round's deadline, so the deadline has passed when it wakes: it must not resolve
// that round too. Fencing: it stops running the game ("game X: stopped running it, …"), its
// late writes are ignored (every node, itself included, ends on the successor's epoch and
// owner), and never do two clocks resolve one round.
//
// Invariants (test/support/bots.ts checkInvariants): no game reset; no round repeated or
// skipped; no acknowledged action lost; none applied twice; never two owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';
import { checkInvariants, resolutions } from '../support/invariants.js';
import { waitFor, logLines } from '../support/node-process.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIGSTOP of an owner until declared down, then SIGCONT', () => {
  it('the successor runs the game; the old owner is fenced and never resolves a round again', async () => {
    rig = await Rig.create({ roundSeconds: 3 });
    const nodes = await rig.startThree();
    const [victimGame] = await rig.setupGames(2, 3, [nodes[0]!, nodes[1]!]);
    const code = victimGame!.code;
    const victim = nodes[0]!;
    rig.sampler.start();
    await rig.roundsPass(1);
    expect((await rig.newest(code)).owner).toBe('n1');

    // One player holds back so the round runs to its deadline; stop the owner just before it.
    const [b0, b1, lazy] = victimGame!.bots;
    lazy!.pause();
    const rec = await rig.freshRound(code, 2000);
    const round = rec.state.round;
    await Promise.all([b0!.waitAck(round, 3000), b1!.waitAck(round, 3000)]);
    await sleep(Math.max(0, rec.state.deadline! - Date.now() - 40));
    victim.signal('SIGSTOP');
    rig.paused.add(victim);
    rig.lb.delete(victim);
    const stoppedAt = Date.now();

    const takeover = new RegExp(`^game ${code} adopted from node n1 \\(epoch (\\d+), round (\\d+)\\) \\[takeover\\]$`);
    await waitFor(() => logLines(rig!.all, takeover).length > 0, 10_000, `a takeover of ${code}`);
    const adoption = logLines(rig.all, takeover)[0]!;
    const successor = adoption.node;
    const epoch = Number(takeover.exec(adoption.line.msg)![1]);
    // Let the successor's clock run a little before the old owner wakes up.
    // (The successor holds the round up to 10 s for players whose pages were on the frozen node.)
    await waitFor(async () => (await adminGame(rig!.node(successor).url, code)).state.round > round, 20_000, 'the successor to resolve the round');
    victim.signal('SIGCONT');
    rig.paused.delete(victim);
    const contAt = Date.now();

    await waitFor(() => victim.hasLog((l) => new RegExp(`^game ${code}: stopped running it`).test(l.msg)), 10_000, `n1 to stop running ${code}\n${rig.tail(25)}`);
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
    lazy!.resume();
    await rig.roundsPass(2);

    // The old owner resolved no round of the game after it was stopped (effective or not).
    // (A resolution is logged once its write settles: at most the 2 s ack timeout later.)
    await sleep(2100);
    const late = resolutions([victim], code).filter((r) => Date.parse(r.time) >= stoppedAt);
    expect(late, `n1 resolved rounds after SIGSTOP (SIGCONT at ${new Date(contAt).toISOString()})`).toEqual([]);
    expect(logLines(rig.all, new RegExp(`^game ${code} adopted`))).toHaveLength(1);

    await rig.quiesce();
    const finals = await rig.finals();
    const report = checkInvariants({ codes: rig.codes, bots: rig.bots, nodes: rig.all, samples: rig.sampler.samples, finals });
    console.log('sigstop', JSON.stringify({ round, successor, summary: report.summary }));
    expect(report.violations).toEqual([]);
  });
});
