// Operator command: grants and revokes operator rights (the /admin pages) on the database the
// nodes share. Rights are a flag on an existing account, set only from here, so no name can be
// claimed by signing up first. Takes effect on every node at the account's next request.
//
//   npm run admin -- grant NAME | revoke NAME | list
//   (in a container: node dist/admin.js grant NAME)

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { destination, pino } from 'pino';
import { ConfigError, loadDatabaseConfig } from './config.js';
import { Accounts, MigrationError, migrate, openDatabase } from './db/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run admin -- grant NAME | revoke NAME | list   (node dist/admin.js … in a container)';

/** Runs one command; returns the exit code. Output goes to `out`, problems to `err`. */
export function runAdmin(args: string[], out: (line: string) => void, err: (line: string) => void, env?: Record<string, string | undefined>): number {
  const [command, name, ...rest] = args;
  const needsName = command === 'grant' || command === 'revoke';
  if (!(needsName || command === 'list') || (needsName && !name) || rest.length > 0 || (command === 'list' && name)) {
    err(USAGE);
    return 64; // EX_USAGE
  }
  let databasePath: string;
  try {
    databasePath = loadDatabaseConfig(env).databasePath;
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`minotaur admin: ${e.message}`);
      return 78;
    }
    throw e;
  }
  if (databasePath !== ':memory:' && !existsSync(databasePath)) {
    err(`minotaur admin: no database at ${databasePath}; set DATABASE_PATH to the file the nodes use`);
    return 66; // EX_NOINPUT
  }
  const logger = pino({ level: 'warn' }, destination(2));
  const db = openDatabase(databasePath, logger);
  try {
    migrate(db, join(ROOT, 'migrations'), logger);
    const accounts = new Accounts(db);
    if (command === 'list') {
      const operators = accounts.listOperators();
      if (operators.length === 0) out('no account holds operator rights');
      for (const a of operators) out(a.username);
      return 0;
    }
    const account = accounts.findByUsername(name!);
    if (!account) {
      err(`minotaur admin: there is no account named ${JSON.stringify(name)}; it must sign up first`);
      return 1;
    }
    const grant = command === 'grant';
    if (account.isAdmin === grant) {
      out(`${account.username} ${grant ? 'already holds' : 'does not hold'} operator rights`);
      return 0;
    }
    accounts.setAdmin(account.id, grant);
    out(grant ? `${account.username} now holds operator rights (/admin/cluster)` : `${account.username} no longer holds operator rights`);
    return 0;
  } catch (e) {
    if (e instanceof MigrationError) {
      err(`minotaur admin: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    db.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = runAdmin(
    process.argv.slice(2),
    (line) => process.stdout.write(`${line}\n`),
    (line) => process.stderr.write(`${line}\n`),
  );
}
