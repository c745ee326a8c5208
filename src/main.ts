// Entry point: read the configuration, start the node, and turn SIGTERM/SIGINT into a drain.

import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { MinotaurNode } from './node.js';
import { MigrationError } from './db/index.js';

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
  const node = new MinotaurNode(config, logger);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, `${signal} received: draining`);
    const hard = setTimeout(() => {
      logger.error({ ms: config.shutdownTimeoutMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hard.unref();
    node.drain().then(
      () => process.exit(0),
      (err) => {
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
    logger.fatal({ err }, 'could not start');
    process.exit(1);
  }
}

void main();
