// A node restarted with the same NODE_ID: what Kubernetes does when a container is killed
// (out of memory, a failed liveness probe) and restarted in its pod, whose name is the node's id.
// Two nodes; n1 owns four games and is SIGKILLed, then started again as n1 on the same address.
// To n2, the owner of those games is alive again (a live peer named n1, renewing n1's lease), so
// n2 may not take them over; the new n1 runs none of them. It must take them over itself, all of
// them, whatever placement would pick, and play must go on with nothing acknowledged lost.
//
// Invariants (test/support/invariants.ts): no game reset; no round repeated or skipped; no
// acknowledged action lost; none applied twice; never two owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { logLines } from '../support/node-process.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('a node restarted with the same NODE_ID', () => {
  it('takes over again every game its earlier run owned; play goes on, nothing acknowledged lost', async () => {
    rig = await Rig.create({ roundSeconds: 2 });
    const n1 = rig.start('n1', '127.0.0.2');
    const n2 = rig.start('n2', '127.0.0.3');
    await Promise.all([n1.ready(), n2.ready()]);
    rig.lb.add(n1);
    rig.lb.add(n2);
    // Four games created through n1: it owns them all (placement then splits them between the two
    // nodes, so some would go to n2 if placement decided).
    await rig.setupGames(4, 2, [n1]);
    rig.sampler.start();
    await rig.roundsPass(1);
    for (const code of rig.codes) expect((await rig.newest(code)).owner).toBe('n1');

    await n1.kill();
    rig.lb.delete(n1);
    const again = rig.start('n1', '127.0.0.2');
    await again.ready();
    rig.lb.add(again);

    // Every game goes on: rounds pass in all of them.
    await rig.roundsPass(2, 30_000);
    for (const code of rig.codes) {
      const adoptions = logLines([again, n2], new RegExp(`^game ${code} adopted`));
      expect(
        adoptions.map((a) => `${a.node}: ${a.line.msg}`),
        rig.tail(20, /adopted|not adopted|claimed/),
      ).toHaveLength(1);
    }
    const r = rig;
    await checkAll(
      rig,
      'same-id restart',
      {},
      () => `whole logs: ${r.saveLogs('same-id-restart')}`,
    );
  });
});
