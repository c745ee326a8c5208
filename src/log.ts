// Structured logging: one pino logger per node, every line naming the node.
//
// Lines are written to stdout synchronously, as Node writes its own stdout to a pipe on Linux.
// pino's default (an asynchronous buffer) loses what it holds when the process is killed: a
// SIGKILL or an out-of-memory kill right after a busy moment took the node's last lines with it,
// which are the lines an operator reads to learn what the node did last (and the lines the
// redeploy tests read to see which round a killed owner resolved). A line is one write(2) of a
// few hundred bytes; at the default level a node writes a few lines per game and per account,
// none per action.

import { destination, pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { nodeId: string; level: string }): Logger {
  return pino(
    {
      level: opts.level,
      base: { node: opts.nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest: 1, sync: true }),
  );
}
