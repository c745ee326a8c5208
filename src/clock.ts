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
  /**
   * Runs `fn` once the input already received has been read (setImmediate), where timers are
   * real; a virtual clock leaves it out and gets a timer of 0 ms instead (afterInput).
   */
  soon?(fn: () => void): void;
  /**
   * A clock that follows the database's (SteeredClock): how far this clock is now from the
   * database's was measured (ms, `roundTripMs` its uncertainty); the clock may step to it.
   */
  steer?(offsetMs: number, roundTripMs: number): void;
  /** How much a steered clock takes off the host's (ms); the host's offset is this plus its own. */
  readonly correctionMs?: number;
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
  soon(fn) {
    setImmediate(fn);
  },
};

/** `fn` once the input already received has been read, on `clock` (Clock.soon). */
export function afterInput(clock: Clock): (fn: () => void) => void {
  return clock.soon ? (fn) => clock.soon?.(fn) : (fn) => void clock.setTimeout(fn, 0);
}

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

/** A measured offset under this is left alone (it is within what rounds and pages notice). */
const STEER_STEP_MS = 250;
/** A measurement whose round trip took longer than this is too uncertain to step on. */
const STEER_MAX_ROUND_TRIP_MS = 200;

/**
 * The host's clock set to the database's: Date.now() less the offset measured at lease
 * renewals, so that every node of a cluster, whatever its host's clock says, reads one time:
 * a round's deadline written by one node is the same moment on the next, and pages served by
 * any node count down alike. It moves only in steps, when a measurement it can trust (a short
 * round trip) finds it more than STEER_STEP_MS off: between steps, durations on it are the
 * host's own. Until the first renewal it is the host's clock (nodes run no game before it).
 */
export class SteeredClock implements Clock {
  #correctionMs = 0;

  /** `host`: the host's clock (Date.now). */
  constructor(private readonly host: () => number = Date.now) {}

  now(): number {
    return this.host() - this.#correctionMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return systemClock.setTimeout(fn, ms);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    systemClock.clearTimeout(handle);
  }

  soon(fn: () => void): void {
    setImmediate(fn);
  }

  get correctionMs(): number {
    return this.#correctionMs;
  }

  steer(offsetMs: number, roundTripMs: number): void {
    if (roundTripMs > STEER_MAX_ROUND_TRIP_MS) return;
    if (Math.abs(offsetMs) <= STEER_STEP_MS + roundTripMs / 2) return;
    this.#correctionMs += Math.round(offsetMs);
  }
}
