// Structured logging: one pino logger per node, every line naming the node.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { nodeId: string; level: string }): Logger {
  return pino({
    level: opts.level,
    base: { node: opts.nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
