// A node whose host clock is set wrong: Debian's libfaketime (package faketime) preloaded into
// the node's process moves its wall clock by a fixed amount.

import { existsSync } from 'node:fs';

/** The library's path, or null when it is not installed. */
export const FAKETIME_LIB =
  ['x86_64', 'aarch64']
    .map((arch) => `/usr/lib/${arch}-linux-gnu/faketime/libfaketime.so.1`)
    .find((path) => existsSync(path)) ?? null;

/** Why a node cannot be started with a wrong clock here, or null. */
export function faketimeMissing(): string | null {
  return FAKETIME_LIB ? null : 'libfaketime is missing: run `bash scripts/ensure-debian.sh`';
}

/** The environment that starts a node with its wall clock `aheadMs` ahead (behind if negative). */
export function clockOffEnv(aheadMs: number): Record<string, string> {
  if (!FAKETIME_LIB) throw new Error(faketimeMissing()!);
  return {
    LD_PRELOAD: FAKETIME_LIB,
    FAKETIME: `${aheadMs < 0 ? '-' : '+'}${Math.abs(aheadMs) / 1000}s`,
    // Timers run on the monotonic clock, which no host's wrong wall clock moves.
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}
