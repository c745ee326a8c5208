// Start-first rolling replacement of every node of a 3-node cluster while bots play 3 games.
//
// For each old node in turn: its replacement starts (new node id, new address, added to DNS),
// becomes ready and joins the load balancer; the old node leaves DNS and the load balancer, then
// gets SIGTERM. It must hand every game it owns to a ready peer ("game X handed to node Y
// (epoch E, round R)" on the old node, "game X adopted from node OLD (epoch E, round R)" on Y,
// no takeover), close player sockets with 1012, and exit 0 within the stop budget; the games
// keep going.
//
// Invariants (test/support/invariants.ts): no game reset (same game, rounds never
// go back, hp never goes up, in version order through every node's replica); no round repeated
// or skipped (each round resolved exactly once, rounds 1, 2, 3, … ; no bot sees an earlier
// round after a later one); no acknowledged action lost (every acked action is the one the
// round's resolution applied for that player); none applied twice (acked as new at most once,
// in at most one resolution); never two owners resolving a round.

import { afterAll, describe, expect, it } from 'vitest';
import { checkAll } from '../support/check-all.js';
import { waitFor, logLines } from '../support/node-process.js';
import { Rig } from '../support/redeploy-rig.js';

/** Swarm's default stop grace period; the node's own hard limit is SHUTDOWN_TIMEOUT_MS (8 s). */
const STOP_BUDGET_MS = 10_000;

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('start-first replacement of every node while bots play', () => {
  it('hands every game over on SIGTERM, exits 0 in budget, and loses, repeats or doubles nothing', async () => {
    rig = await Rig.create({ roundSeconds: 2 });
    const olds = await rig.startThree('a');
    // One game created on each node, so each owns one; 4 bots each keep the games long enough.
    const games = await rig.setupGames(3, 4, olds);
    rig.sampler.start();
    await rig.roundsPass(1);

    const handoffs: {
      game: string;
      from: string;
      to: string;
      epoch: number;
      round: number;
      ms: number;
    }[] = [];
    for (let i = 0; i < olds.length; i++) {
      const old = olds[i]!;
      const oldId = old.opts.nodeId!;
      const fresh = rig.start(`b${i + 1}`, `127.0.0.${5 + i}`);
      await fresh.ready();
      rig.lb.add(fresh);
      // Swarm removes a stopping task from DNS (and the routing mesh) before SIGTERM.
      rig.removeFromDns(old);
      rig.lb.delete(old);
      const owned: string[] = [];
      for (const c of rig.codes) {
        const r = await rig.newest(c);
        if (r.owner === oldId && r.state.status === 'playing') owned.push(c);
      }
      // The first SIGTERM comes early in a round of a game the node owns, so that the sampler
      // (every 250 ms) sees that round on both sides of its handoff: the deadline check below
      // needs one. The other nodes are stopped whenever their turn comes.
      if (i === 0 && owned[0] !== undefined) await rig.freshRound(owned[0], 1500);
      const t0 = Date.now();
      old.signal('SIGTERM');
      await waitFor(() => !old.alive, STOP_BUDGET_MS, `${oldId} to exit after SIGTERM`);
      const took = Date.now() - t0;
      expect(old.exitCode, rig.tail(30)).toBe(0);
      expect(took).toBeLessThan(STOP_BUDGET_MS);
      expect(old.hasLog((l) => /^drained: /.test(l.msg))).toBe(true);
      // Every game the old node owned was handed over, and the receiver logged the adoption.
      for (const c of owned) {
        const handed = logLines(
          [old],
          new RegExp(`^game ${c} handed to node (\\S+) \\(epoch (\\d+), round (\\d+)\\)$`),
        );
        expect(handed, `handoff of ${c} by ${oldId}\n${rig.tail(30)}`).toHaveLength(1);
        const m = /handed to node (\S+) \(epoch (\d+), round (\d+)\)/.exec(handed[0]!.line.msg)!;
        const [to, epoch, round] = [m[1]!, Number(m[2]), Number(m[3])];
        const receiver = rig.node(to);
        expect(
          receiver.hasLog(
            (l) =>
              l.msg === `game ${c} adopted from node ${oldId} (epoch ${epoch}, round ${round})`,
          ),
          `adoption of ${c} on ${to}`,
        ).toBe(true);
        handoffs.push({ game: c, from: oldId, to, epoch, round, ms: took });
      }
      expect(old.hasLog((l) => /left in the database for the next node/.test(l.msg))).toBe(false);
      // The games continue on the remaining nodes.
      await rig.roundsPass(2);
    }
    // Every game started on an old node and ends on a new one, so each was handed over at least
    // once.
    const states = await Promise.all(
      rig.codes.map(async (c) => {
        const r = await rig!.newest(c);
        return `${c}:${r.owner}/${r.state.status}/${r.state.round}`;
      }),
    );
    expect(
      new Set(handoffs.map((h) => h.game)).size,
      `handoffs ${JSON.stringify(handoffs)}; games ${states.join(' ')}\n${rig.tail(20, /handed|adopted|kept|drained/)}`,
    ).toBe(rig.codes.length);
    // Planned handoffs only: nobody had to take a game over.
    expect(logLines(rig.all, /\[takeover\]/)).toEqual([]);

    const { report, finals } = await checkAll(rig, 'replace-all', {
      handoffs,
      samples: rig.sampler.samples.length,
    });
    for (const f of finals.values()) expect(['b1', 'b2', 'b3']).toContain(f.owner);
    // A handoff continues the same round with the same deadline: the successor's first
    // record (epoch E, round R) carries the deadline the old owner's last record of R had.
    // (A handoff late in its round may leave no sample of R after it: at least one must have
    // samples on both sides.)
    let compared = 0;
    for (const h of handoffs) {
      const before = rig.sampler.samples.filter(
        (x) => x.key === h.game && x.epoch < h.epoch && x.round === h.round,
      );
      const after = rig.sampler.samples.filter(
        (x) => x.key === h.game && x.epoch === h.epoch && x.round === h.round,
      );
      if (before.length > 0 && after.length > 0) compared++;
      for (const a of after)
        for (const b of before)
          expect(a.deadline, `deadline of ${h.game} round ${h.round} across the handoff`).toBe(
            b.deadline,
          );
    }
    expect(compared, `handoffs with samples of their round on both sides`).toBeGreaterThan(0);
    // The bots really played through the redeploy: reconnects happened and acks kept coming.
    const closes = rig.bots.flatMap((b) => b.closes);
    expect(closes.some((c) => c.code === 1012)).toBe(true);
    for (const g of games) {
      const s = report.summary[g.code]!;
      expect(s.rounds, `${g.code} rounds`).toBeGreaterThanOrEqual(6);
      expect(s.acks).toBeGreaterThan(0);
    }
  });
});
