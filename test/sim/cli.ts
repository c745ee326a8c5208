// npm run simulate -- [--seeds N] [--from S] [--seed S] [--faults kill,stall,…]
// [--replay FILE] [--trace] [--help]
// Runs seeded fault schedules against the real sessions and replication code; on a failure
// prints the violations, a shrunk schedule and the command that replays it.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  FAULT_KINDS,
  generate,
  runSchedule,
  shrink,
  type FaultKind,
  type Schedule,
} from './run.js';

const USAGE = `usage: npm run simulate -- [options]
  --seeds N        how many seeded schedules to run (default 100)
  --from S         the first seed (default 1)
  --seed S         run this one seed only
  --faults K,…     the fault kinds to draw from (default all: ${FAULT_KINDS.join(', ')})
  --replay FILE    run the schedule a failure printed (a JSON line in FILE)
  --trace          print every step of each schedule
  --no-shrink      report a failing schedule as it is, without shrinking it
  --keep-going     run every seed even after a failure
  --help           this text
`;

function parse(): ReturnType<typeof parseWith> {
  try {
    return parseWith();
  } catch (err) {
    process.stderr.write(`simulate: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

function parseWith() {
  return parseArgs({
    options: {
      seeds: { type: 'string', default: '100' },
      from: { type: 'string', default: '1' },
      seed: { type: 'string' },
      replay: { type: 'string' },
      trace: { type: 'boolean', default: false },
      faults: { type: 'string' },
      'no-shrink': { type: 'boolean', default: false },
      'keep-going': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}

const { values } = parse();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function int(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`simulate: --${name} must be a non-negative integer, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const trace = values.trace ? (line: string) => process.stdout.write(`  ${line}\n`) : undefined;
  if (values.replay !== undefined) {
    const { seed, schedule } = JSON.parse(readFileSync(values.replay, 'utf8')) as {
      seed: number;
      schedule: Schedule;
    };
    const r = await runSchedule(seed, schedule, trace ? { trace } : {});
    report(r.seed, r.schedule, r.violations);
    process.exit(r.violations.length ? 1 : 0);
  }
  const seeds =
    values.seed !== undefined
      ? [int('seed', values.seed)]
      : Array.from({ length: int('seeds', values.seeds) }, (_, i) => int('from', values.from) + i);
  const kinds = (values.faults?.split(',') ?? [...FAULT_KINDS]) as FaultKind[];
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length) {
    process.stderr.write(
      `simulate: unknown fault kind ${unknown.join(', ')} (known: ${FAULT_KINDS.join(', ')})\n`,
    );
    process.exit(2);
  }
  const started = Date.now();
  const totals = {
    runs: 0,
    failed: 0,
    acks: 0,
    rounds: 0,
    adoptions: 0,
    finished: 0,
    events: 0,
    virtualMs: 0,
  };
  for (const seed of seeds) {
    const r = await runSchedule(seed, generate(seed, kinds), trace ? { trace } : {});
    totals.runs++;
    totals.acks += r.stats.acks;
    totals.rounds += r.stats.rounds;
    totals.adoptions += r.stats.adoptions;
    totals.finished += r.stats.finished;
    totals.events += r.events;
    totals.virtualMs += r.virtualMs;
    if (r.violations.length > 0) {
      totals.failed++;
      const small = values['no-shrink'] ? r.schedule : await shrink(seed, r.schedule);
      report(seed, small, r.violations);
      if (!values['keep-going']) break;
    }
    if (totals.runs % 500 === 0)
      process.stdout.write(
        `${totals.runs} seeds, ${totals.failed} failed, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
  }
  const s = (Date.now() - started) / 1000;
  process.stdout.write(
    `${totals.runs} seeds (${seeds[0]}…${seeds[seeds.length - 1]}), ${totals.failed} failed` +
      `, in ${s.toFixed(1)} s: ` +
      `${totals.acks} acknowledged actions checked, ${totals.rounds} rounds, ${totals.adoptions} adoptions, ${totals.finished} games finished, ` +
      `${(totals.virtualMs / 3_600_000).toFixed(1)} simulated hours, ${totals.events} events\n`,
  );
  process.exit(totals.failed ? 1 : 0);
}

function report(seed: number, schedule: Schedule, violations: string[]): void {
  if (violations.length === 0) {
    process.stdout.write(`seed ${seed}: no violation\n`);
    return;
  }
  process.stdout.write(
    `\nseed ${seed} FAILED:\n${violations
      .slice(0, 20)
      .map((v) => `  - ${v}`)
      .join('\n')}\n`,
  );
  process.stdout.write(
    `schedule (replay with: npm run simulate -- --replay FILE, FILE holding this line):\n${JSON.stringify({ seed, schedule })}\n`,
  );
}

void main();
