// The scene the owner-failure tests share (SIGKILL, SIGSTOP): three nodes, two games of three
// bots (the victim's owned by n1, the other by n2), and a round of the victim's game in which
// two players acted and were acknowledged while the third holds back, so the round runs to its
// deadline. Also the takeover log line they wait for.

import { expect } from 'vitest';
import type { AdminRecord } from './admin.js';
import type { AckRec, Bot } from './bots.js';
import { waitFor, type NodeProcess } from './node-process.js';
import type { Rig } from './redeploy-rig.js';

export interface OwnerMidRound {
  /** n1, the owner of the victim's game. */
  victim: NodeProcess;
  code: string;
  /** The game owned by n2, which the victim's failure must not touch. */
  otherCode: string;
  /** The two players who act in the round, and the one who holds back. */
  acting: [Bot, Bot];
  lazy: Bot;
  /** The record at the start of the round; `round` is its round. */
  record: AdminRecord;
  round: number;
  /** The acknowledgements of the acting players' actions for the round. */
  acked: [AckRec, AckRec];
}

/**
 * Starts n1..n3 and the two games, lets a round pass, then waits for a round of the victim's
 * game with at least `minLeftMs` before its deadline in which both acting players are acked.
 */
export async function ownerMidRound(rig: Rig, minLeftMs: number): Promise<OwnerMidRound> {
  const nodes = await rig.startThree();
  const [victimGame, otherGame] = await rig.setupGames(2, 3, [nodes[0]!, nodes[1]!]);
  const code = victimGame!.code;
  rig.sampler.start();
  await rig.roundsPass(1);
  expect((await rig.newest(code)).owner).toBe('n1');
  const [b0, b1, lazy] = victimGame!.bots as [Bot, Bot, Bot];
  lazy.pause();
  const record = await rig.freshRound(code, minLeftMs);
  const round = record.state.round;
  const acked = await Promise.all([b0.waitAck(round, 3000), b1.waitAck(round, 3000)]);
  return {
    victim: nodes[0]!,
    code,
    otherCode: otherGame!.code,
    acting: [b0, b1],
    lazy,
    record,
    round,
    acked,
  };
}

/** The line of a takeover of `code` from node `from`: groups 1 and 2 are the epoch and round. */
export function takeoverOf(code: string, from = 'n1'): RegExp {
  return new RegExp(
    `^game ${code} adopted from node ${from} \\(epoch (\\d+), round (\\d+)\\) \\[takeover\\]$`,
  );
}

/**
 * Makes `node` log a line now and waits for it to arrive: a node's log is one ordered stream,
 * so every line it wrote before has arrived too. (A form post without its token is refused and
 * logged, and changes nothing.)
 */
export async function flushLog(node: NodeProcess): Promise<void> {
  const from = node.lines.length;
  const res = await fetch(`${node.url}/login`, { method: 'POST' });
  expect(res.status).toBe(403);
  await waitFor(
    () => node.lines.slice(from).some((l) => /without a valid CSRF token/.test(l.msg)),
    10_000,
    `${node.opts.nodeId} to log the refused form post`,
  );
}
