// The redeploy tests' check of rounds and acknowledgements, on made-up logs: a node killed
// between logging a round's resolution and logging its outcome (its save may or may not have
// committed) is counted only when no node resolved that round after it.

import { describe, expect, it } from 'vitest';
import type { AdminRecord } from '../../support/admin.js';
import type { Bot } from '../../support/bots.js';
import {
  agreedFinals,
  checkInvariants,
  finalsAgree,
  type Violation,
} from '../../support/invariants.js';
import type { NodeProcess } from '../../support/node-process.js';

type Line = Record<string, unknown> & { msg: string };

const resolving = (node: string, round: number, seq: number, applied = {}): Line => ({
  node,
  game: 'KEPS',
  round,
  epoch: 1,
  seq,
  applied,
  msg: `round ${round} of KEPS resolving (epoch 1)`,
});
const resolved = (node: string, round: number, seq: number, applied = {}): Line => ({
  ...resolving(node, round, seq, applied),
  outcome: 'ok',
  msg: `round ${round} of KEPS resolved (epoch 1)`,
});

function node(id: string, lines: Line[], exitSignal: NodeJS.Signals | null): NodeProcess {
  return { lines, exitSignal } as unknown as NodeProcess;
}

/** Rounds 1–5 of KEPS: round 3 as `killed` and `successor` logged it; an ack for round 3. */
function check(killed: NodeProcess, successor: Line[]): Violation['kind'][] {
  const bot = {
    code: 'KEPS',
    name: 'bot',
    playerId: 'p1',
    acks: [{ actionId: 'a3', round: 3, duplicate: false, at: 0, node: 'n1' }],
    regressions: [],
  } as unknown as Bot;
  const final = { state: { round: 6, status: 'playing', submitted: {} } } as unknown as AdminRecord;
  const report = checkInvariants({
    codes: ['KEPS'],
    bots: [bot],
    nodes: [killed, node('n2', [resolved('n2', 4, 4), resolved('n2', 5, 5), ...successor], null)],
    samples: [],
    finals: new Map([['KEPS', final]]),
  });
  return report.violations.map((v) => v.kind);
}

const first = [resolved('n1', 1, 1), resolved('n1', 2, 2)];

describe('a round resolved by a node killed as it saved', () => {
  it('counts, with what it applied, when no node resolved that round after it', () => {
    const n1 = node('n1', [...first, resolving('n1', 3, 3, { p1: 'a3' })], 'SIGKILL');
    expect(check(n1, [])).toEqual([]);
  });

  it('does not count when a successor resolved the round itself (the save had not committed)', () => {
    const n1 = node('n1', [...first, resolving('n1', 3, 3, { p1: 'old' })], 'SIGKILL');
    expect(check(n1, [resolved('n2', 3, 3, { p1: 'a3' })])).toEqual([]);
    // And the successor's resolution is the one the ack is checked against.
    expect(check(n1, [resolved('n2', 3, 3, {})])).toEqual(['ack-lost']);
  });

  it('does not count for a node that was not killed: its outcome line is missing for a reason', () => {
    const n1 = node('n1', [...first, resolving('n1', 3, 3, { p1: 'a3' })], null);
    expect(check(n1, [])).toEqual(['round-skipped', 'ack-lost']);
  });
});

describe('records read while the games still run', () => {
  const at = (round: number, status = 'playing'): Map<string, AdminRecord> =>
    new Map([['KEPS', { state: { round, status, submitted: {} } } as unknown as AdminRecord]]);
  const logs = [node('n1', [...first, resolved('n1', 3, 3)], null)];

  it('agree with the logs when the record continues from the last round logged', () => {
    expect(finalsAgree(['KEPS'], logs, at(4))).toBe(true);
    expect(finalsAgree(['KEPS'], logs, at(3, 'finished'))).toBe(true);
  });

  it('do not when a round resolved after the read, or its line is not read yet', () => {
    expect(finalsAgree(['KEPS'], logs, at(3))).toBe(false);
    expect(finalsAgree(['KEPS'], logs, at(5))).toBe(false);
    expect(finalsAgree(['KEPS', 'GONE'], logs, at(4))).toBe(false);
  });

  it('are read again when a round resolves while the extra check runs', async () => {
    // Round 4 is playing when read; the extra check (a database read in the outage test) takes
    // long enough for the node to resolve it: the first reading is then behind the logs.
    const lines = [...first, resolved('n1', 3, 3)];
    const nodes = [node('n1', lines, null)];
    let reads = 0;
    const finals = await agreedFinals(
      nodes,
      () => Promise.resolve(at(++reads === 1 ? 4 : 5)),
      () => {
        if (reads === 1) lines.push(resolved('n1', 4, 4));
        return Promise.resolve(true);
      },
      5_000,
    );
    expect(reads).toBe(2);
    expect(finals.get('KEPS')?.state.round).toBe(5);
    expect(
      checkInvariants({ codes: ['KEPS'], bots: [], nodes, samples: [], finals }).violations,
    ).toEqual([]);
  });
});
