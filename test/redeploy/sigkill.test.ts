// SIGKILL of a game's owner in the middle of a round, after some actions of that round were
// acknowledged. The survivors declare it down and exactly one of them adopts the game
// ("game X adopted from node n1 (epoch E, round R) [takeover]"), the same round continues,
// and the actions acknowledged before the kill are the ones that round applies.
//
// Invariants (test/support/invariants.ts, checked by checkAll in check-all.ts): no game reset;
// no round repeated or skipped; no acknowledged action lost; none applied twice; never two
// owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { effective, resolutions } from '../support/invariants.js';
import { logLines, waitFor } from '../support/node-process.js';
import { ownerMidRound, takeoverOf } from '../support/owner-loss.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('SIGKILL of an owner mid-round', () => {
  it('one survivor takes the game over and the acknowledged actions of the round are kept', async () => {
    rig = await Rig.create({ roundSeconds: 3 });
    const { victim, code, otherCode, acting, lazy, record, round, acked } = await ownerMidRound(
      rig,
      2200,
    );
    expect(Date.now()).toBeLessThan(record.state.deadline! - 300); // still mid-round

    await victim.kill();
    rig.lb.delete(victim);
    rig.removeFromDns(victim);
    const takeover = takeoverOf(code);
    await waitFor(() => logLines(rig!.all, takeover).length > 0, 10_000, `a takeover of ${code}`);
    lazy.resume();
    await rig.roundsPass(3);

    // Exactly one adopter, continuing the same round.
    const adoptions = logLines(rig.all, new RegExp(`^game ${code} adopted`));
    expect(adoptions.map((a) => `${a.node}: ${a.line.msg}`)).toHaveLength(1);
    const [, epoch, adoptedRound] = takeover.exec(adoptions[0]!.line.msg)!.map(Number);
    expect(adoptedRound).toBe(round);
    expect(epoch).toBeGreaterThan(record.epoch);
    // The round's resolution (by the adopter) applied both acknowledged actions.
    const res = resolutions(rig.all, code).filter((r) => r.round === round && effective(r));
    expect(res).toHaveLength(1);
    expect(res[0]!.node).toBe(adoptions[0]!.node);
    expect(res[0]!.applied[acting[0].playerId]).toBe(acked[0].actionId);
    expect(res[0]!.applied[acting[1].playerId]).toBe(acked[1].actionId);
    // The other game (owned by a survivor) was not touched.
    expect(logLines(rig.all, new RegExp(`^game ${otherCode} adopted`))).toEqual([]);

    const { finals } = await checkAll(rig, 'sigkill', { round, adopter: adoptions[0]!.node });
    expect(finals.get(code)!.owner).toBe(adoptions[0]!.node);
  });
});
