// Entry point: read the configuration, start the node, and turn SIGTERM/SIGINT into a drain.

import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { MinotaurNode } from './node.js';
import { MigrationError } from './db/index.js';

/** A signal this soon after the first is the same request, not a second one. */
const REPEATED_SIGNAL_MS = 1000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`minotaur: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger({ nodeId: config.nodeId, level: config.logLevel });
  for (const warning of config.warnings) logger.warn({}, warning);
  const node = new MinotaurNode(config, logger);

  let stoppingAt: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingAt !== null) {
      // Ctrl-C in a terminal under `npm start` comes twice at once: from the terminal, and
      // passed on by npm. Only a signal sent later is a second request, to stop at once.
      if (performance.now() - stoppingAt < REPEATED_SIGNAL_MS) {
        logger.info(
          { signal },
          `${signal} again within ${REPEATED_SIGNAL_MS} ms (npm passes a terminal's Ctrl-C on): still draining; a signal after that exits at once`,
        );
        return;
      }
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingAt = performance.now();
    logger.info({ signal }, `${signal} received: draining`);
    const hard = setTimeout(() => {
      logger.error({ ms: config.shutdownTimeoutMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hard.unref();
    node.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  try {
    await node.start();
  } catch (err) {
    if (err instanceof MigrationError) {
      logger.fatal({ code: err.code }, err.message);
      process.exit(1);
    }
    const listen =
      listenError(err, config.host, config.port) ?? databaseFileError(err, config.database);
    if (listen) {
      // A configuration error like any other: one line naming the variables, exit 78.
      process.stderr.write(`minotaur: ${listen}\n`);
      process.exit(78); // EX_CONFIG
    }
    logger.fatal({ err }, 'could not start');
    process.exit(1);
  }
}

/** The sentence for a SQLite file that cannot be opened at DATABASE_PATH, else null. */
function databaseFileError(
  err: unknown,
  database: ReturnType<typeof loadConfig>['database'],
): string | null {
  if (
    database.engine !== 'sqlite' ||
    (err as { code?: unknown } | null)?.code !== 'SQLITE_CANTOPEN'
  )
    return null;
  return `cannot open the SQLite database at DATABASE_PATH=${database.path}: it must be a file (or not exist yet) in a directory the node can write`;
}

/** The sentence for a listen() failure that the operator's HOST/PORT caused, else null. */
function listenError(err: unknown, host: string, port: number): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const at = `HOST=${host} PORT=${port}`;
  if (code === 'EADDRINUSE')
    return `cannot listen on ${at}: the address is already in use (another process listens there); choose another PORT or stop that process`;
  if (code === 'EADDRNOTAVAIL')
    return `cannot listen on ${at}: no interface of this machine has that address; set HOST to one of its addresses or 0.0.0.0`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot listen on ${at}: HOST is neither an address nor a name this machine can resolve; set it to one of its addresses or 0.0.0.0`;
  if (code === 'EACCES')
    return `cannot listen on ${at}: permission denied (ports below 1024 need privileges); choose a PORT of 1024 or more`;
  return null;
}

void main();
