// The closing check of the redeploy tests, kept apart from the rig: the rig also serves the
// rehearsal and the benchmarks, which run outside vitest.

import { expect } from 'vitest';
import type { AdminRecord } from './admin.js';
import { checkInvariants, type InvariantReport } from './invariants.js';
import type { Rig } from './redeploy-rig.js';

/**
 * Stops the bots and checks every invariant over the games played; returns what was checked.
 * `context`, asked only when one fails, goes with the failure (e.g. the schedule that led to it).
 */
export async function checkAll(
  rig: Rig,
  label: string,
  details: object = {},
  context?: () => string,
): Promise<{ report: InvariantReport; finals: Map<string, AdminRecord> }> {
  await rig.quiesce();
  const finals = await rig.finals();
  const report = checkInvariants({
    codes: rig.codes,
    bots: rig.bots,
    nodes: rig.all,
    samples: rig.sampler.samples,
    finals,
  });
  console.log(label, JSON.stringify({ ...details, summary: report.summary }));
  expect(report.violations, report.violations.length ? context?.() : undefined).toEqual([]);
  return { report, finals };
}
