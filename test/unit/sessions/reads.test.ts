// GameReads.caughtUp: a page that saw more of a game than this node's copy holds is kept waiting
// for a short while, and told no once the wait is over, even when nothing about the game changes.

import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Clock, TimerHandle } from '../../../src/clock.js';
import { createGame, GAME_SCHEMA, type GameState } from '../../../src/game/index.js';
import type { GameRecord } from '../../../src/sessions/game-record.js';
import { GameReads, type GameReadsDeps } from '../../../src/sessions/reads.js';

interface Timer {
  due: number;
  fn: () => void;
}

/** A clock whose timers fire a millisecond before its wall clock says they are due. */
class EarlyTimers implements Clock {
  at = 1_000_000;
  readonly #timers: Timer[] = [];
  now(): number {
    return this.at;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { due: this.at + ms, fn };
    this.#timers.push(t);
    return { timer: t };
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    const i = this.#timers.indexOf(handle?.timer as Timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }
  /** Runs every timer due by `ms` from now, each with the clock 1 ms short of its due time. */
  advance(ms: number): void {
    const end = this.at + ms;
    for (;;) {
      const next = this.#timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.at = next.due - 1;
      next.fn();
    }
    this.at = end;
  }
}

/** Lets every promise that can settle now settle. */
function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function reads(clock: Clock, rec: GameRecord): GameReads {
  const deps = {
    own: () => undefined,
    replica: { get: (code: string) => (code === rec.key ? rec : undefined) },
    sync: { onChange: () => () => undefined },
    ledger: {},
    hears: () => true,
    clock,
    logger: pino({ level: 'silent' }),
  } as unknown as GameReadsDeps;
  return new GameReads(deps);
}

function record(epoch: number, round: number): GameRecord {
  const game = createGame({
    id: 'g-1',
    code: 'ABCD',
    seed: 1,
    creator: { id: 'u1', name: 'ann' },
    now: 0,
    roundMs: 60_000,
  });
  const state: GameState = { ...game, status: 'playing', round };
  return { key: 'ABCD', owner: 'n1', epoch, seq: 3, schema: GAME_SCHEMA, state, at: 0 };
}

describe('GameReads.caughtUp', () => {
  it('answers at once for a page that saw no more than the copy holds', async () => {
    const clock = new EarlyTimers();
    const r = reads(clock, record(5, 2));
    await expect(r.caughtUp('ABCD', { epoch: 5, round: 2, over: false }, 'g-1')).resolves.toBe(
      true,
    );
    await expect(r.caughtUp('ABCD', { epoch: 4, round: 9, over: false }, 'g-1')).resolves.toBe(
      true,
    );
  });

  it('says no once the wait is over, though its timer fires a millisecond early and nothing changes', async () => {
    const clock = new EarlyTimers();
    const r = reads(clock, record(5, 2));
    let answer: boolean | undefined;
    void r.caughtUp('ABCD', { epoch: 6, round: 1, over: false }, 'g-1', 3000).then((ok) => {
      answer = ok;
    });
    clock.advance(2000);
    await settled();
    expect(answer).toBeUndefined();
    clock.advance(1000);
    await settled();
    expect(answer).toBe(false);
  });
});
