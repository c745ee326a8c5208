// Earlier releases, built from git, for version-skew and upgrade tests: a commit extracted with
// `git archive` into a temp folder (cached there by commit) and compiled with this checkout's
// TypeScript and node_modules. The previous schema's release is the last commit whose
// src/game/types.ts declares GAME_SCHEMA - 1 (HEAD itself while a bump is not committed yet);
// the last SQL-migrator release is the parent of the commit that removed that migrator (the
// one creating schema_migrations).

import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
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

const TYPES_FILE = 'src/game/types.ts';

function git(...args: string[]): string {
  return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
}

/**
 * Why no earlier release can be built from this checkout (not a git work tree, or a shallow
 * clone), or null when its history is all there.
 */
export function historyMissing(): string | null {
  let shallow: string;
  try {
    shallow = git('rev-parse', '--is-shallow-repository');
  } catch {
    return `${ROOT} is not a git checkout`;
  }
  return shallow === 'true'
    ? 'this is a shallow clone (git fetch --unshallow fetches the history)'
    : null;
}

/**
 * The release that writes the schema before GAME_SCHEMA, built. Throws when the history is there
 * but holds no such release (or it does not build): a version-skew test must not pass by
 * running nothing.
 */
export function buildPreviousSchemaRelease(): OldRelease {
  const schema = GAME_SCHEMA - 1;
  const line = `GAME_SCHEMA = ${schema};`;
  const declares = (commit: string): boolean =>
    git('show', `${commit}:${TYPES_FILE}`).includes(line);
  let commit: string;
  if (declares('HEAD')) {
    commit = git('rev-parse', 'HEAD');
  } else {
    // The newest commit that changed how often the line appears is the one that bumped it away.
    const bumped = git('log', '-1', `-S${line}`, '--format=%H', '--', TYPES_FILE);
    if (!bumped)
      throw new Error(`no commit in this checkout's history declares ${line} in ${TYPES_FILE}`);
    commit = git('rev-parse', `${bumped}~1`);
    if (!declares(commit)) throw new Error(`${commit}, before ${bumped}, does not declare ${line}`);
  }
  return { commit, main: buildRelease(commit).main, schema };
}

/** Extracts and compiles `commit` (once; cached in the temp folder). */
export function buildRelease(commit: string): { dir: string; main: string } {
  const dir = join(tmpdir(), `minotaur-release-${commit.slice(0, 12)}`);
  const main = join(dir, 'dist', 'main.js');
  // The release runs on this checkout's packages: a link left by another checkout (one since
  // removed, or with other packages) is replaced.
  const modules = join(dir, 'node_modules');
  const linked = (() => {
    try {
      return readlinkSync(modules);
    } catch {
      return null;
    }
  })();
  if (linked !== null && linked !== join(ROOT, 'node_modules')) rmSync(modules);
  if (!existsSync(main)) {
    mkdirSync(dir, { recursive: true });
    execSync(`git -C '${ROOT}' archive ${commit} | tar -x -C '${dir}'`);
  }
  if (linked !== join(ROOT, 'node_modules')) symlinkSync(join(ROOT, 'node_modules'), modules);
  if (!existsSync(main)) {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
      { stdio: 'pipe' },
    );
  }
  return { dir, main };
}

/**
 * The last release whose SQLite files were migrated by the SQL-file migrator (schema_migrations),
 * built. Throws when the history holds no such release or it does not build; a caller checks
 * historyMissing() first (a shallow clone or no git checkout) and skips only then.
 */
export function buildLastSqlMigratorRelease(): { commit: string; dir: string } {
  const file = 'src/db/migrate.ts';
  const removed = git(
    'log',
    '-1',
    '-SCREATE TABLE IF NOT EXISTS schema_migrations',
    '--format=%H',
    '--',
    file,
  );
  if (!removed)
    throw new Error(`no commit in this checkout's history created schema_migrations in ${file}`);
  const commit = git('rev-parse', `${removed}~1`);
  return { commit, dir: buildRelease(commit).dir };
}
