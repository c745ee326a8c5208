// Time for the layers that run timers (sessions, replication). Passed in rather than taken
// from the globals, so the cluster simulator can run whole nodes on virtual time and pause one
// of them the way SIGSTOP does.

export interface TimerHandle {
  readonly timer: unknown;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Node's own timers and Date.now. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    timer.unref();
    return { timer };
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle.timer as NodeJS.Timeout);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}

/** Runs `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    handle = clock.setTimeout(run, ms);
    fn();
  };
  handle = clock.setTimeout(run, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
