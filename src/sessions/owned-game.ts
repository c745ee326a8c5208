// One game this node owns: the latest record it wrote, a queue that runs its commands and
// clock ticks one at a time, and the timer of its round deadline. It stops for good when
// the game is handed off, fenced by a newer owner, or dropped.

import type { Clock, TimerHandle } from '../clock.js';
import type { GameRecord } from '../replication/record.js';

export type OwnedStatus = 'running' | 'handing-off' | 'stopped';

export class OwnedGame {
  status: OwnedStatus = 'running';
  /** True once the latest write reached a peer (or there was no peer to reach). */
  confirmed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;

  constructor(
    public record: GameRecord,
    private readonly clock: Clock,
  ) {}

  get key(): string {
    return this.record.key;
  }

  get running(): boolean {
    return this.status === 'running';
  }

  /** Runs `task` after every task queued before it; a failing task does not block the queue. */
  exclusive<T>(task: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Arms the round clock; replaces any earlier timer. */
  arm(atMs: number, onDue: () => void): void {
    this.disarm();
    if (this.status !== 'running') return;
    this.timer = this.clock.setTimeout(function roundDue() {
      onDue();
    }, atMs - this.clock.now());
  }

  disarm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.status = 'stopped';
    this.disarm();
  }
}
