// Operator command on the database the nodes share: grants and revokes operator rights (the
// /admin pages), and resets a player's password. Rights are a flag on an existing account, set
// only from here, so no name can be claimed by signing up first; they take effect on every node
// at the account's next request. A reset gives the account a new random password, printed once
// for the operator to pass on, and logs it out everywhere (its live pages within
// SESSION_CHECK_MS).
//
//   npm run admin -- grant NAME | revoke NAME | list | reset-password NAME
//   (in a container: node dist/admin.js grant NAME)

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { destination, pino } from 'pino';
import { ConfigError, loadDatabaseConfig, loadPasswordCost } from './config.js';
import { hashPassword, MigrationError, openStorage, redactUrl, scryptCost } from './db/index.js';

const USAGE =
  'usage: npm run admin -- grant NAME | revoke NAME | list | reset-password NAME   (node dist/admin.js … in a container)';

type Command = { verb: 'list' } | { verb: 'grant' | 'revoke' | 'reset-password'; name: string };

/** The command `args` spell, or null when they are not one of USAGE's. */
function parseCommand(args: string[]): Command | null {
  const [verb, name, ...rest] = args;
  if (rest.length > 0) return null;
  if (verb === 'list') return name ? null : { verb };
  if ((verb === 'grant' || verb === 'revoke' || verb === 'reset-password') && name)
    return { verb, name };
  return null;
}

/** Runs one command; returns the exit code. Output goes to `out`, problems to `err`. */
export async function runAdmin(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
  env?: Record<string, string | undefined>,
): Promise<number> {
  const command = parseCommand(args);
  if (!command) {
    err(USAGE);
    return 64; // EX_USAGE
  }
  let target;
  let passwordCost;
  try {
    target = loadDatabaseConfig(env);
    passwordCost = loadPasswordCost(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`minotaur admin: ${e.message}`);
      return 78;
    }
    throw e;
  }
  if (target.engine === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    err(
      `minotaur admin: no database at ${target.path}; set DATABASE_PATH (or DATABASE_URL) to the database the nodes use`,
    );
    return 66; // EX_NOINPUT
  }
  const storage = openStorage(target, { logger: pino({ level: 'warn' }, destination(2)) });
  try {
    await storage.migrate();
    const { accounts } = storage;
    if (command.verb === 'list') {
      const operators = await accounts.listOperators();
      if (operators.length === 0) out('no account holds operator rights');
      for (const a of operators) out(a.username);
      return 0;
    }
    const { name } = command;
    const account = await accounts.findByUsername(name);
    if (!account) {
      err(
        `minotaur admin: there is no account named ${JSON.stringify(name)}; it must sign up first`,
      );
      return 1;
    }
    if (command.verb === 'reset-password') {
      // 16 characters of base64url: 96 random bits.
      const password = randomBytes(12).toString('base64url');
      const hash = await hashPassword(password, scryptCost(passwordCost));
      await accounts.setPasswordHash(account.id, hash);
      const ended = await storage.sessions.endSessionsOf(account.id);
      out(`new password for ${account.username}: ${password}`);
      out(
        `${ended} session${ended === 1 ? '' : 's'} ended; tell them to log in with it and choose their own on their profile (Change password)`,
      );
      return 0;
    }
    const grant = command.verb === 'grant';
    if (account.isAdmin === grant) {
      out(`${account.username} ${grant ? 'already holds' : 'does not hold'} operator rights`);
      return 0;
    }
    await accounts.setAdmin(account.id, grant);
    out(
      grant
        ? `${account.username} now holds operator rights (/admin/cluster)`
        : `${account.username} no longer holds operator rights`,
    );
    return 0;
  } catch (e) {
    if (e instanceof MigrationError) {
      err(`minotaur admin: ${e.message}`);
      return 1;
    }
    const where = target.engine === 'postgres' ? redactUrl(target.url) : target.path;
    err(`minotaur admin: could not use the database at ${where}: ${(e as Error).message}`);
    return 69; // EX_UNAVAILABLE
  } finally {
    await storage.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void runAdmin(
    process.argv.slice(2),
    (line) => process.stdout.write(`${line}\n`),
    (line) => process.stderr.write(`${line}\n`),
  ).then((code) => {
    process.exitCode = code;
  });
}
