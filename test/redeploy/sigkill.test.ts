// SIGKILL of a game's owner in the middle of a round, after some actions of that round were
// acknowledged. The survivors declare it down and exactly one of them adopts the game
// ("game X adopted from node n1 (epoch E, round R) [takeover]"), the same round continues,
// and the actions acknowledged before the kill are the ones that round applies.
//
// Invariants (test/support/bots.ts checkInvariants): no game reset; no round repeated or
// skipped; no acknowledged action lost; none applied twice; never two owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { checkInvariants, effective, resolutions } from '../support/invariants.js';
import { waitFor, logLines } from '../support/node-process.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('SIGKILL of an owner mid-round', () => {
  it('one survivor takes the game over and the acknowledged actions of the round are kept', async () => {
    rig = await Rig.create({ roundSeconds: 3 });
    const nodes = await rig.startThree();
    const [victimGame, otherGame] = await rig.setupGames(2, 3, [nodes[0]!, nodes[1]!]);
    const code = victimGame!.code;
    const victim = nodes[0]!;
    rig.sampler.start();
    await rig.roundsPass(1);
    expect((await rig.newest(code)).owner).toBe('n1');

    // One player holds back, so the round waits for its deadline; the others act and are acked.
    const [b0, b1, lazy] = victimGame!.bots;
    lazy!.pause();
    const rec = await rig.freshRound(code, 2200);
    const round = rec.state.round;
    const acked = await Promise.all([b0!.waitAck(round, 3000), b1!.waitAck(round, 3000)]);
    expect(Date.now()).toBeLessThan(rec.state.deadline! - 300); // still mid-round

    await victim.kill();
    rig.lb.delete(victim);
    rig.removeFromDns(victim);
    const takeover = new RegExp(`^game ${code} adopted from node n1 \\(epoch (\\d+), round (\\d+)\\) \\[takeover\\]$`);
    await waitFor(() => logLines(rig!.all, takeover).length > 0, 10_000, `a takeover of ${code}`);
    lazy!.resume();
    await rig.roundsPass(3);

    // Exactly one adopter, continuing the same round.
    const adoptions = logLines(rig.all, new RegExp(`^game ${code} adopted`));
    expect(adoptions.map((a) => `${a.node}: ${a.line.msg}`)).toHaveLength(1);
    const [, epoch, adoptedRound] = takeover.exec(adoptions[0]!.line.msg)!.map(Number);
    expect(adoptedRound).toBe(round);
    expect(epoch).toBeGreaterThan(rec.epoch);
    // The round's resolution (by the adopter) applied both acknowledged actions.
    const res = resolutions(rig.all, code).filter((r) => r.round === round && effective(r));
    expect(res).toHaveLength(1);
    expect(res[0]!.node).toBe(adoptions[0]!.node);
    expect(res[0]!.applied[b0!.playerId]).toBe(acked[0].actionId);
    expect(res[0]!.applied[b1!.playerId]).toBe(acked[1].actionId);
    // The other game (owned by a survivor) was not touched.
    expect(logLines(rig.all, new RegExp(`^game ${otherGame!.code} adopted`))).toEqual([]);

    await rig.quiesce();
    const finals = await rig.finals();
    expect(finals.get(code)!.owner).toBe(adoptions[0]!.node);
    const report = checkInvariants({ codes: rig.codes, bots: rig.bots, nodes: rig.all, samples: rig.sampler.samples, finals });
    console.log('sigkill', JSON.stringify({ round, adopter: adoptions[0]!.node, summary: report.summary }));
    expect(report.violations).toEqual([]);
  });
});
