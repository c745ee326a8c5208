// Version skew during a rolling update: the previous release (built from git: the commit
// before the current GAME_SCHEMA was introduced) and this release in one cluster.
//
// 1. A game created on the old node has a record of the older schema. The old node is
//    replaced start-first: on SIGTERM it hands the game to the new node, which adopts it with
//    a higher epoch and upgrades the record to the current schema (same round, hp, positions,
//    submitted actions), and play goes on through the new node.
// 2. A node never adopts a record it cannot read: with only an old node left, a game of the
//    current schema whose owner is killed is left alone ("no ready node can read schema N;
//    leaving it"), and the next new node takes it over.
//
// Invariants (test/support/bots.ts checkInvariants) for the game played across the upgrade:
// no game reset; no round repeated or skipped; no acknowledged action lost; none applied twice;
// never two owners resolving a round.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGame } from '../support/admin.js';
import { checkInvariants } from '../support/invariants.js';
import { waitFor, logLines } from '../support/node-process.js';
import { buildPreviousSchemaRelease, type OldRelease } from '../support/old-release.js';
import { Rig } from '../support/redeploy-rig.js';
import { GAME_SCHEMA } from '../../src/game/types.js';

let rig: Rig | undefined;
let old: OldRelease | null = null;

beforeAll(() => {
  old = buildPreviousSchemaRelease();
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

describe('version skew: a record of an older schema', () => {
  it('is upgraded by the newer node that adopts it on handoff; a record nobody can read is left alone', async (ctx) => {
    if (!old) return ctx.skip();
    rig = await Rig.create({ roundSeconds: 3 });
    const o1 = rig.start('old1', '127.0.0.2', { main: old.main });
    await o1.ready();
    rig.lb.add(o1);
    // Players sent to the lobby go straight back into their game (see the todo below).
    const [game] = await rig.setupGames(1, 3, [o1], { onRedirect: 'return' });
    const code = game!.code;
    rig.sampler.start();
    await rig.roundsPass(1);
    const written = await adminGame(o1.url, code);
    expect(written.schema).toBe(old.schema);
    expect(written.state.schema).toBe(old.schema);

    // Start-first: the new release joins; the old one leaves DNS and the balancer, then SIGTERM.
    const n1 = rig.start('new1', '127.0.0.3');
    await n1.ready();
    rig.lb.add(n1);
    rig.removeFromDns(o1);
    rig.lb.delete(o1);
    o1.signal('SIGTERM');
    await waitFor(() => !o1.alive, 10_000, 'old1 to exit');
    expect(o1.exitCode).toBe(0);
    const handed = logLines([o1], new RegExp(`^game ${code} handed to node new1 \\(epoch (\\d+), round (\\d+)\\)$`));
    expect(handed, rig.tail(20)).toHaveLength(1);
    const [, epoch, round] = /epoch (\d+), round (\d+)/.exec(handed[0]!.line.msg)!.map(Number);
    expect(n1.hasLog((l) => l.msg === `game ${code} adopted from node old1 (epoch ${epoch}, round ${round})`)).toBe(true);
    // The adopted record is of the current schema and holds the same game.
    // (When the sampler caught them: the old owner's records of the handoff round, and the
    // successor's first record, carry the same hp and deadline.)
    const adopted = rig.sampler.samples.find((s) => s.key === code && s.owner === 'new1' && s.epoch === epoch && s.seq === 0);
    const lastOld = rig.sampler.samples.filter((s) => s.key === code && s.owner === 'old1' && s.round === round).sort((a, b) => a.seq - b.seq).at(-1);
    if (adopted) expect(adopted.round).toBe(round);
    if (adopted && lastOld) {
      expect(adopted.hp).toEqual(lastOld.hp);
      expect(adopted.deadline).toBe(lastOld.deadline);
    }
    const now = await adminGame(n1.url, code);
    expect(now.owner).toBe('new1');
    expect(now.schema).toBe(GAME_SCHEMA);
    expect(now.state.schema).toBe(GAME_SCHEMA);
    await rig.roundsPass(2);
    await rig.quiesce();
    const finals = await rig.finals();
    // The old release does not log its resolutions: rounds from the handoff on are checked.
    const report = checkInvariants({ codes: [code], bots: rig.bots, nodes: rig.all, samples: rig.sampler.samples, finals, fromRound: new Map([[code, round!]]) });
    console.log('version-skew', JSON.stringify({ old: old.commit.slice(0, 8), summary: report.summary, redirects: rig.bots.flatMap((b) => b.redirects.map((r) => r.node)) }));
    expect(report.violations).toEqual([]);
    // Only the old release sends players to the lobby (see the todo below); this one never does.
    expect(rig.bots.flatMap((b) => b.redirects).filter((r) => r.node !== o1.url)).toEqual([]);
    expect(rig.bots.every((b) => b.acks.some((a) => a.round >= round!))).toBe(true);

    // 2. Only an old node is left beside the owner of a current-schema game, and the owner dies.
    const o2 = rig.start('old2', '127.0.0.4', { main: old.main });
    await o2.ready();
    await n1.kill();
    rig.removeFromDns(n1);
    await waitFor(() => o2.hasLog((l) => l.msg === `game ${code}: no ready node can read schema ${GAME_SCHEMA}; leaving it`), 10_000, `old2 to leave ${code} alone\n${rig.tail(10)}`);
    expect(logLines([o2], new RegExp(`^game ${code} adopted`))).toEqual([]);
    // A node of the current release takes it over.
    const n2 = rig.start('new2', '127.0.0.5');
    await n2.ready();
    await waitFor(() => n2.hasLog((l) => new RegExp(`^game ${code} adopted from node new1 .*\\[takeover\\]$`).test(l.msg)), 10_000, `new2 to take ${code} over`);
    const taken = await adminGame(n2.url, code);
    expect(taken.owner).toBe('new2');
    expect(taken.state.round).toBeGreaterThanOrEqual(finals.get(code)!.state.round);
  });

  // Found by the test above: the release it runs as "old" sends players to /lobby when their
  // game is handed to a node with a newer schema. This release closes their socket with 1012
  // instead (and answers 503 for the page), so they reconnect through the load balancer; the
  // unit test test/unit/live/game-socket.test.ts covers it, and this test will cover it end to
  // end from the next schema bump on, when this release becomes the "old" one.
});
