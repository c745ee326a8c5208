// The node's log keeps its last lines when the process is killed (SIGKILL, an out-of-memory
// kill): they are what an operator reads to learn what a node did last, and what the redeploy
// tests read to learn which round a killed owner resolved.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/node-process.js';

describe('the node log', () => {
  it('has written every line before a SIGKILL that follows a busy moment', () => {
    // Two lines, the event loop then busy (the second line would wait in a buffer for it), then
    // killed with no chance to flush.
    const log = pathToFileURL(join(ROOT, 'dist', 'log.js')).href;
    const script = `
      const { createLogger } = await import(${JSON.stringify(log)});
      const logger = createLogger({ nodeId: 'n1', level: 'info' });
      logger.info('first line');
      logger.info('last line');
      const until = Date.now() + 50;
      while (Date.now() < until);
      process.kill(process.pid, 'SIGKILL');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(run.signal).toBe('SIGKILL');
    const msgs = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { msg: string; node: string }).msg);
    expect(msgs).toEqual(['first line', 'last line']);
  });
});
