// When live pages render after a change: in the next turn of the event loop, players' pages
// before the pages that only watch (spectators', the lobby's), and those a slice of time at a
// time.
//
// A change reaches every page of its game in the same turn. A game watched by a thousand
// spectators made that turn a thousand renders and socket writes (30–60 ms on the benchmark's
// machine), while every other game's actions, acknowledgements and updates waited behind it;
// so did a thousand lobby pages told of the same change. Here the players' pages of every
// changed game render first, all of them; then spectators' and lobby pages render until the
// slice is used, and the rest wait for the next turn, after the event loop has read what
// arrived meanwhile. A page's render always shows the game's latest state, so a page that waits
// a turn longer misses nothing.

/** How long the renders of pages that only watch may hold one turn of the event loop (ms). */
export const WATCHERS_SLICE_MS = 4;

export interface RenderTurnsOptions {
  /** Runs `fn` in a later turn (default: setImmediate). */
  defer?: (fn: () => void) => void;
  /** A monotonic clock in ms (default: performance.now). */
  now?: () => number;
  sliceMs?: number;
  /** A render that threw (default: thrown again on its own, as an uncaught exception). */
  onError?: (err: unknown) => void;
}

export class RenderTurns {
  #players: (() => void)[] = [];
  #watchers: (() => void)[] = [];
  /** Where the next spectator's render starts in #watchers (those before it have run). */
  #next = 0;
  /** Renders in #watchers before this index were counted as put off already. */
  #counted = 0;
  #deferred = 0;
  #armed = false;
  readonly #defer: (fn: () => void) => void;
  readonly #now: () => number;
  readonly #sliceMs: number;
  readonly #onError: (err: unknown) => void;

  constructor(options: RenderTurnsOptions = {}) {
    this.#defer = options.defer ?? ((fn) => void setImmediate(fn));
    this.#now = options.now ?? (() => performance.now());
    this.#sliceMs = options.sliceMs ?? WATCHERS_SLICE_MS;
    this.#onError =
      options.onError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  /** Queues a page's render for a coming turn; `watching`: the page only watches. */
  add(render: () => void, watching: boolean): void {
    (watching ? this.#watchers : this.#players).push(render);
    this.#arm();
  }

  /**
   * Renders of pages that only watch that were put off to a later turn than the first they
   * could have run in (each counted once, however many turns it waited).
   */
  get deferred(): number {
    return this.#deferred;
  }

  /** Renders waiting. */
  get waiting(): number {
    return this.#players.length + this.#watchers.length - this.#next;
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#defer(() => this.#turn());
  }

  #turn(): void {
    this.#armed = false;
    const players = this.#players;
    this.#players = [];
    for (const render of players) this.#run(render);
    const until = this.#now() + this.#sliceMs;
    const watchers = this.#watchers;
    while (this.#next < watchers.length) {
      this.#run(watchers[this.#next++] as () => void);
      if (this.#now() >= until) break;
    }
    if (this.#next >= watchers.length) {
      // Every spectator's render ran: renders queued meanwhile went to this same list.
      this.#watchers = [];
      this.#next = 0;
      this.#counted = 0;
    } else {
      this.#deferred += watchers.length - Math.max(this.#next, this.#counted);
      this.#counted = watchers.length;
      if (this.#next > 1024 && this.#next * 2 > watchers.length) {
        this.#watchers = watchers.slice(this.#next);
        this.#counted -= this.#next;
        this.#next = 0;
      }
    }
    if (this.waiting > 0) this.#arm();
  }

  /** One page's render failing must not keep the others from theirs. */
  #run(render: () => void): void {
    try {
      render();
    } catch (err) {
      this.#onError(err);
    }
  }
}
