// Operator tools for tests: the replicated record of a game through /admin/games/:code.json,
// and the operator's command (`npm run admin`) on a node's database.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { GameState } from '../../src/game/types.js';
import { ROOT } from './node-process.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface AdminRecord {
  key: string;
  owner: string;
  epoch: number;
  seq: number;
  schema: number;
  at: number;
  state: GameState;
  /** Set on the owner's own write that no peer or database holds yet (pages do not show it). */
  unconfirmed?: true;
}

/**
 * The full record of a game as the node at `base` holds it (throws unless 200, or after 5 s: a
 * node behind a cut link never answers).
 */
export async function adminGame(
  base: string,
  code: string,
  token = TEST_ADMIN_TOKEN,
): Promise<AdminRecord> {
  const res = await fetch(`${base}/admin/games/${code}.json`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200)
    throw new Error(`admin record of ${code}: ${res.status} ${await res.text()}`);
  return (await res.json()) as AdminRecord;
}

/** The parts of a game state that must survive a restart unchanged. */
export function essence(s: GameState): Record<string, unknown> {
  return {
    id: s.id,
    code: s.code,
    seed: s.seed,
    status: s.status,
    round: s.round,
    walls: s.walls,
    minotaur: s.minotaur,
    players: s.players.map((p) => ({ id: p.id, hp: p.hp, pos: p.pos, alive: p.alive })),
    submitted: s.submitted,
    winner: s.winner,
  };
}

/** Runs `npm run admin -- ARGS` (dist/admin.js) on the SQLite database at `databasePath`. */
export function adminCommand(
  databasePath: string,
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'admin.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', DATABASE_PATH: databasePath, ...env },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}
