// The rehearsal's command line, read and checked once.

import { parseArgs } from 'node:util';

export const SCENARIOS = ['rolling', 'freeze-owner', 'cold-start'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  /** Full start-first rolling updates of the three nodes, one after the other. */
  deploys: number;
  games: number;
  bots: number;
  httpWorkers: number;
  scenarios: Scenario[];
  keep: boolean;
  /** Every node, PostgreSQL and HAProxy on hosts of their own (network namespaces; root). */
  hosts: boolean;
  /** The short form of the multi-host rehearsal (what npm test runs). */
  short: boolean;
}

export const USAGE = `usage: npm run rehearsal -- [--deploys 0-3] [--games 1-8] [--bots 2-8] [--http-workers 0-16]
                         [--scenarios ${SCENARIOS.join(',')}] [--keep]
       npm run rehearsal -- --hosts [--short] [--keep]     (as root: every node on a host of its own)`;

function int(
  name: string,
  value: string | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return dflt;
  const v = Number(value);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
  return v;
}

export function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      deploys: { type: 'string' },
      games: { type: 'string' },
      bots: { type: 'string' },
      'http-workers': { type: 'string' },
      scenarios: { type: 'string' },
      keep: { type: 'boolean', default: false },
      hosts: { type: 'boolean', default: false },
      short: { type: 'boolean', default: false },
    },
  });
  const scenarios = (values.scenarios
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean) ?? [...SCENARIOS]) as Scenario[];
  const unknown = scenarios.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length)
    throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  const deploys = int('deploys', values.deploys, 2, 0, 3);
  return {
    deploys: scenarios.includes('rolling') ? deploys : 0,
    games: int('games', values.games, 4, 1, 8),
    bots: int('bots', values.bots, 4, 2, 8),
    httpWorkers: int('http-workers', values['http-workers'], 4, 0, 16),
    scenarios,
    keep: values.keep,
    hosts: values.hosts,
    short: values.short,
  };
}
