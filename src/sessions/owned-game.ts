// One game this node owns: the latest record it wrote, a queue that runs its commands and
// clock ticks one at a time, and the timer of its round deadline. It stops for good when
// the game is handed off, fenced by a newer owner, or dropped.

import type { GameRecord } from '../replication/record.js';

export type OwnedStatus = 'running' | 'handing-off' | 'stopped';

export class OwnedGame {
  status: OwnedStatus = 'running';
  /** True once the latest write reached a peer (or there was no peer to reach). */
  confirmed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(public record: GameRecord) {}

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
  arm(atMs: number, nowMs: number, onDue: () => void): void {
    this.disarm();
    if (this.status !== 'running') return;
    const delay = Math.max(0, Math.min(atMs - nowMs, 2 ** 31 - 1));
    this.timer = setTimeout(function roundDue() {
      onDue();
    }, delay);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.status = 'stopped';
    this.disarm();
  }
}
