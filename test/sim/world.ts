// The simulated world: virtual time, one event queue, a seeded random source, and a Clock per
// process that can be paused like SIGSTOP (its timers and deliveries are held, then run in a
// seeded interleaving on thaw) or killed (everything pending for it is dropped).
//
// Everything the simulated nodes do happens inside events, one at a time, and the promise
// continuations an event starts are drained before the next event runs, so a seed replays
// exactly.

import type { Clock, TimerHandle } from '../../src/clock.js';

/** mulberry32: small and fast; reproducible from the seed. */
export class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}

interface Event {
  at: number;
  order: number;
  /** The process it runs in; undefined for the world itself (faults, clients). */
  proc: Proc | undefined;
  /** Events of one source (a link's messages) keep their order when a pause reshuffles them. */
  source: string;
  run: () => void;
  cancelled: boolean;
}

/** One simulated OS process: it can be paused, resumed and killed. */
export class Proc {
  paused = false;
  dead = false;
  held: Event[] = [];
  /** How far this process's wall clock is from the world's (a host's clock set wrong). */
  offset = 0;
  readonly clock: Clock;

  constructor(
    readonly world: World,
    readonly name: string,
  ) {
    this.clock = {
      now: () => world.now + this.offset,
      setTimeout: (fn, ms) => {
        const event = world.schedule(
          world.now + Math.max(0, ms),
          fn,
          this,
          `timer:${this.name}:${world.nextOrder()}`,
        );
        return { timer: event };
      },
      clearTimeout: (handle: TimerHandle | undefined) => {
        if (handle !== undefined) (handle.timer as Event).cancelled = true;
      },
    };
  }
}

export class World {
  now: number;
  readonly rng: Rng;
  #queue: Event[] = [];
  #order = 0;
  #running = false;
  events = 0;

  constructor(seed: number, start = 1_800_000_000_000) {
    this.rng = new Rng(seed);
    this.now = start;
  }

  nextOrder(): number {
    return this.#order++;
  }

  /** Queues `run` at time `at`, in process `proc` (held while it is paused, dropped once dead). */
  schedule(at: number, run: () => void, proc?: Proc, source = 'world'): Event {
    // Whole milliseconds, like Date.now.
    const event: Event = {
      at: Math.max(Math.ceil(at), this.now),
      order: this.#order++,
      proc,
      source,
      run,
      cancelled: false,
    };
    this.#push(event);
    return event;
  }

  after(ms: number, run: () => void, proc?: Proc, source?: string): Event {
    return this.schedule(this.now + ms, run, proc, source);
  }

  pause(proc: Proc): void {
    proc.paused = true;
  }

  /**
   * Resumes a paused process: what it missed runs now, timers and deliveries interleaved by the
   * seed.
   */
  resume(proc: Proc): void {
    if (!proc.paused) return;
    proc.paused = false;
    const bySource = new Map<string, Event[]>();
    for (const e of proc.held) {
      if (e.cancelled) continue;
      const list = bySource.get(e.source) ?? [];
      list.push(e);
      bySource.set(e.source, list);
    }
    proc.held = [];
    // A random merge that keeps each source's own order (a link delivers in order).
    const queues = [...bySource.values()];
    while (queues.length > 0) {
      const i = Math.floor(this.rng.next() * queues.length);
      const q = queues[i] as Event[];
      const e = q.shift() as Event;
      e.at = this.now;
      e.order = this.#order++;
      this.#push(e);
      if (q.length === 0) queues.splice(i, 1);
    }
  }

  kill(proc: Proc): void {
    proc.dead = true;
    proc.paused = false;
    proc.held = [];
  }

  /** Runs events until `until` (virtual ms) or until nothing is left. */
  async runUntil(until: number): Promise<void> {
    if (this.#running) throw new Error('World.runUntil is not reentrant');
    this.#running = true;
    try {
      for (;;) {
        const event = this.#queue[0];
        if (event === undefined || event.at > until) break;
        this.#pop();
        if (event.cancelled) continue;
        const proc = event.proc;
        if (proc?.dead) continue;
        if (proc?.paused) {
          proc.held.push(event);
          continue;
        }
        this.now = event.at;
        this.events++;
        event.run();
        // Let the promise continuations this event started run before the next event.
        await drainMicrotasks();
      }
      this.now = Math.max(this.now, until);
    } finally {
      this.#running = false;
    }
  }

  // A binary heap ordered by (at, order).
  #push(event: Event): void {
    const q = this.#queue;
    q.push(event);
    let i = q.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(q[i] as Event, q[parent] as Event)) break;
      [q[i], q[parent]] = [q[parent] as Event, q[i] as Event];
      i = parent;
    }
  }

  #pop(): Event | undefined {
    const q = this.#queue;
    const top = q[0];
    const last = q.pop();
    if (q.length > 0 && last !== undefined) {
      q[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l] as Event, q[m] as Event)) m = l;
        if (r < q.length && before(q[r] as Event, q[m] as Event)) m = r;
        if (m === i) break;
        [q[i], q[m]] = [q[m] as Event, q[i] as Event];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** Resolves once every microtask queued so far (and those they queue) has run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
