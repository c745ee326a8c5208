// The previous release, built from git, for version-skew tests: the parent of the commit that
// introduced the current GAME_SCHEMA, extracted with `git archive` into a temp folder (cached
// there by commit) and compiled with this checkout's TypeScript and node_modules.

import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GAME_SCHEMA } from '../../src/game/types.js';
import { ROOT } from './node-process.js';

export interface OldRelease {
  /** The commit built. */
  commit: string;
  /** Its dist/main.js. */
  main: string;
  /** The GAME_SCHEMA it writes (GAME_SCHEMA - 1). */
  schema: number;
}

/** Null when this release has no older schema (GAME_SCHEMA is 1) or git history is missing. */
export function buildPreviousSchemaRelease(): OldRelease | null {
  if (GAME_SCHEMA <= 1) return null;
  let introduced: string;
  try {
    const out = execFileSync('git', ['-C', ROOT, 'log', `-SGAME_SCHEMA = ${GAME_SCHEMA};`, '--format=%H', '--', 'src/game/types.ts'], { encoding: 'utf8' }).trim().split('\n');
    introduced = out.at(-1) ?? '';
    if (!introduced) return null;
  } catch {
    return null;
  }
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', `${introduced}~1`], { encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `minotaur-release-${commit.slice(0, 12)}`);
  const main = join(dir, 'dist', 'main.js');
  if (!existsSync(main)) {
    mkdirSync(dir, { recursive: true });
    execSync(`git -C '${ROOT}' archive ${commit} | tar -x -C '${dir}'`);
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
  }
  return { commit, main, schema: GAME_SCHEMA - 1 };
}
