// Earlier releases, built from git, for version-skew and upgrade tests: a commit extracted with
// `git archive` into a temp folder (cached there by commit) and compiled with this checkout's
// TypeScript and node_modules. The previous schema's release is the parent of the commit that
// introduced the current GAME_SCHEMA; the last SQL-migrator release is the parent of the
// commit that removed that migrator (the one creating schema_migrations).

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
  const { main } = buildRelease(commit);
  return { commit, main, schema: GAME_SCHEMA - 1 };
}

/** Extracts and compiles `commit` (once; cached in the temp folder). */
export function buildRelease(commit: string): { dir: string; main: string } {
  const dir = join(tmpdir(), `minotaur-release-${commit.slice(0, 12)}`);
  const main = join(dir, 'dist', 'main.js');
  if (!existsSync(main)) {
    mkdirSync(dir, { recursive: true });
    execSync(`git -C '${ROOT}' archive ${commit} | tar -x -C '${dir}'`);
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
  }
  return { dir, main };
}

/**
 * The last release whose SQLite files were migrated by the SQL-file migrator (schema_migrations),
 * or null when git history is missing (a shallow clone).
 */
export function buildLastSqlMigratorRelease(): { commit: string; dir: string } | null {
  let removed: string;
  try {
    removed = execFileSync('git', ['-C', ROOT, 'log', '-1', '-SCREATE TABLE IF NOT EXISTS schema_migrations', '--format=%H', '--', 'src/db/migrate.ts'], { encoding: 'utf8' }).trim();
    if (!removed) return null;
    const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', `${removed}~1`], { encoding: 'utf8' }).trim();
    return { commit, dir: buildRelease(commit).dir };
  } catch {
    return null;
  }
}
