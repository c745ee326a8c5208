// A ClusterLogger that keeps every line, so tests can assert on what an operator would read.

import type { ClusterLogger } from '../../../src/cluster/types.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: object;
}

export function recordingLogger(): ClusterLogger & {
  lines: LogLine[];
  at(level: LogLine['level']): string[];
} {
  const lines: LogLine[] = [];
  const log = (level: LogLine['level']) => (fields: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', fields });
  };
  return {
    lines,
    at: (level) => lines.filter((l) => l.level === level).map((l) => l.msg),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
}

/** Polls a condition until it holds or the deadline passes (no fixed sleeps in tests). */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
