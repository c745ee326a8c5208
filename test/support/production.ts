// Production as shipped, for tests and the rehearsal: the environment deploy/docker-stack.yml
// gives the Minotaur service (read from the file itself, so the two cannot drift apart), and
// secrets made the way its instructions make them.

import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './node-process.js';

export const STACK_FILE = join(ROOT, 'deploy', 'docker-stack.yml');

/**
 * The `environment:` map of one service in a compose/stack file: a small reader for the
 * block form this project uses (`KEY: value` lines, quotes optional, comments skipped).
 */
export function stackEnvironment(
  service = 'minotaur',
  text = readFileSync(STACK_FILE, 'utf8'),
): Record<string, string> {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `  ${service}:`);
  if (start < 0) throw new Error(`no service ${service} in the stack file`);
  const env: Record<string, string> = {};
  let inEnv = false;
  for (const line of lines.slice(start + 1)) {
    if (/^ {0,2}\S/.test(line)) break; // the next service or top-level key
    if (/^ {4}\S/.test(line)) {
      inEnv = line.trim() === 'environment:';
      continue;
    }
    if (!inEnv) continue;
    const m = /^ {6}([A-Z][A-Z0-9_]*):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return env;
}

/** SECRET_KEY_BASE and CLUSTER_SECRET as `openssl rand -base64 48` / `-base64 32` make them. */
export function productionSecrets(): { SECRET_KEY_BASE: string; CLUSTER_SECRET: string } {
  return {
    SECRET_KEY_BASE: randomBytes(48).toString('base64'),
    CLUSTER_SECRET: randomBytes(32).toString('base64'),
  };
}

/**
 * Where the stack puts a node, and its name (a Swarm template): each run of a test sets these
 * for its own set-up.
 */
const PLACEMENT = ['PORT', 'DATABASE_PATH', 'DNS_CLUSTER_QUERY', 'ADVERTISE_ADDRESS', 'NODE_ID'];

/**
 * Writes secrets as Swarm mounts them (one file each, readable by the node's user only) and
 * returns the NAME_FILE variables that point at them.
 */
export function secretFiles(
  dir: string,
  secrets: Record<string, string>,
  owner?: { uid: number; gid: number },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const file = `${dir}/${name.toLowerCase()}`;
    writeFileSync(file, value + '\n', { mode: 0o400 });
    if (owner) chownSync(file, owner.uid, owner.gid);
    chmodSync(file, 0o400);
    env[`${name}_FILE`] = file;
  }
  return env;
}

/**
 * The environment a node of the shipped stack runs with, on this machine: the stack file's
 * values (but for PORT, DATABASE_PATH, DNS_CLUSTER_QUERY, ADVERTISE_ADDRESS and NODE_ID,
 * which the caller sets, and the secret files, replaced by fresh secrets given as variables),
 * and the production defaults for what the stack leaves unset (PASSWORD_COST 17,
 * LOGIN_RATE_LIMIT 10), which NodeProcess's test values must not replace.
 */
export function productionEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const stack = Object.fromEntries(
    Object.entries(stackEnvironment()).filter(
      ([k]) => !PLACEMENT.includes(k) && !k.endsWith('_FILE'),
    ),
  );
  return {
    ...stack,
    ...productionSecrets(),
    PASSWORD_COST: '17',
    LOGIN_RATE_LIMIT: '10',
    ...overrides,
  };
}
