// The rate limits' store: hits go to the counters every node shares; while the database does not
// answer they are counted on this node instead, with one warning per outage; and the policy for
// new games reads its limit and its wait from it.

import { afterEach, describe, expect, it } from 'vitest';
import type { Options } from 'express-rate-limit';
import type { RateHit } from '../../../src/db/rate-limits.js';
import type { GameState } from '../../../src/game/types.js';
import { GAMES_WINDOW_MS, GameCreationPolicy } from '../../../src/web/game-limits.js';
import {
  SharedRateStore,
  type SharedCounters,
  type SharedRateStoreDeps,
} from '../../../src/web/shared-rate-store.js';

/** Counters as the database keeps them, which can be told to stop answering. */
class FakeCounters implements SharedCounters {
  readonly rows = new Map<string, RateHit>();
  down = false;
  pruned = 0;

  private answer(): void {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async hit(key: string, windowMs: number, now: number): Promise<RateHit> {
    this.answer();
    const row = this.rows.get(key);
    const next =
      row && row.resetAt > now
        ? { hits: row.hits + 1, resetAt: row.resetAt }
        : { hits: 1, resetAt: now + windowMs };
    this.rows.set(key, next);
    return next;
  }
  async undo(key: string, now: number): Promise<void> {
    this.answer();
    const row = this.rows.get(key);
    if (row && row.resetAt > now && row.hits > 0) row.hits--;
  }
  async get(key: string, now: number): Promise<RateHit | undefined> {
    this.answer();
    const row = this.rows.get(key);
    return row && row.resetAt > now ? { ...row } : undefined;
  }
  async reset(key: string): Promise<void> {
    this.answer();
    this.rows.delete(key);
  }
  async prune(): Promise<number> {
    this.answer();
    this.pruned++;
    return 0;
  }
}

function logger() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_o: unknown, msg?: string) =>
    void lines.push({ level, msg: msg ?? '' });
  const log = { warn: at('warn'), info: at('info'), debug: at('debug') };
  return Object.assign(log as unknown as SharedRateStoreDeps['logger'], { lines });
}

const stores: SharedRateStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.shutdown();
});

function store(counters: SharedCounters, log = logger(), now = () => 1_000) {
  const s = new SharedRateStore('login:', { counters, logger: log, now });
  s.init({ windowMs: 60_000 } as Options);
  stores.push(s);
  return s;
}

describe('SharedRateStore', () => {
  it('counts in the shared counters under its prefix, so two nodes count together', async () => {
    const counters = new FakeCounters();
    const a = store(counters);
    const b = store(counters);
    expect(await a.increment('1.2.3.4|minos')).toEqual({
      totalHits: 1,
      resetTime: new Date(61_000),
    });
    expect((await b.increment('1.2.3.4|minos')).totalHits).toBe(2);
    expect([...counters.rows.keys()]).toEqual(['login:1.2.3.4|minos']);
    await a.decrement('1.2.3.4|minos');
    expect((await b.get('1.2.3.4|minos'))?.totalHits).toBe(1);
    await b.resetKey('1.2.3.4|minos');
    expect(await a.get('1.2.3.4|minos')).toBeUndefined();
    // The first answer also pruned the ended windows, once (not on every hit).
    expect(counters.pruned).toBe(2);
  });

  it("counts on this node while the database does not answer, warns once, and says when it's back", async () => {
    const counters = new FakeCounters();
    const log = logger();
    const s = store(counters, log);
    await s.increment('k');
    counters.down = true;
    // The limit still holds, per node: these hits are counted in memory.
    expect((await s.increment('k')).totalHits).toBe(1);
    expect((await s.increment('k')).totalHits).toBe(2);
    expect((await s.get('k'))?.totalHits).toBe(2);
    await s.decrement('k');
    expect((await s.get('k'))?.totalHits).toBe(1);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    counters.down = false;
    expect((await s.increment('k')).totalHits).toBe(2);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info']);
  });
});

describe('GameCreationPolicy', () => {
  const noGames = (): GameState[] => [];

  it('holds the hourly limit across nodes, says how long to wait, and gives back a game not made', async () => {
    const counters = new FakeCounters();
    let now = 1_000;
    const policy = () =>
      new GameCreationPolicy(
        { openGamesPerAccount: 10, gamesPerHour: 2 },
        noGames,
        new SharedRateStore(
          'games:',
          { counters, logger: logger(), now: () => now },
          GAMES_WINDOW_MS,
        ),
        () => now,
      );
    const [a, b] = [policy(), policy()];
    const first = await a.admit('acc');
    expect(first.ok).toBe(true);
    if (first.ok) first.release();
    await new Promise((r) => setImmediate(r));
    expect((await a.admit('acc')).ok).toBe(true);
    expect((await b.admit('acc')).ok).toBe(true);
    now += 20 * 60_000;
    const refused = await b.admit('acc');
    expect(refused).toMatchObject({ ok: false, reason: 'rate' });
    if (!refused.ok) expect(refused.message).toContain('in 40 minutes');
    now = 1_000 + GAMES_WINDOW_MS;
    expect((await a.admit('acc')).ok).toBe(true);
  });

  it('counts the games being made as open: requests sent together get no more than the limit', async () => {
    let now = 1_000;
    // The node's copy of the games, which shows a game a moment after it is made.
    const shown: GameState[] = [];
    const game = (code: string) =>
      ({ code, createdBy: 'acc', status: 'waiting' }) as unknown as GameState;
    const policy = new GameCreationPolicy(
      { openGamesPerAccount: 3, gamesPerHour: 20 },
      () => shown,
      new SharedRateStore(
        'games:',
        { counters: new FakeCounters(), logger: logger(), now: () => now },
        GAMES_WINDOW_MS,
      ),
      () => now,
    );
    const burst = await Promise.all(Array.from({ length: 6 }, () => policy.admit('acc')));
    const admitted = burst.filter((a) => a.ok);
    expect(admitted).toHaveLength(3);
    expect(burst.flatMap((a) => (a.ok ? [] : [a.message]))).toEqual(
      Array(3).fill(
        'You already have 3 games of your own waiting or in play (at most 3). Start, finish or leave one before you open another.',
      ),
    );
    // Another account is not held back by them.
    expect((await policy.admit('other')).ok).toBe(true);
    // One was not made after all: its place is free again.
    admitted[2]!.release();
    const again = await policy.admit('acc');
    expect(again.ok).toBe(true);
    // Made, each counts once: before the copy shows it, and after.
    const codes = ['AAAA', 'BBBB', 'CCCC'];
    for (const [i, a] of [admitted[0]!, admitted[1]!, again].entries())
      if (a.ok) a.created(codes[i]!);
    expect((await policy.admit('acc')).ok).toBe(false);
    shown.push(...codes.map(game));
    expect((await policy.admit('acc')).ok).toBe(false);
    shown[0] = { ...shown[0]!, status: 'finished' };
    const fourth = await policy.admit('acc');
    expect(fourth.ok).toBe(true);
    // A game made that the copy never shows (dropped at once) stops counting after a while.
    if (fourth.ok) fourth.created('DDDD');
    expect((await policy.admit('acc')).ok).toBe(false);
    now += 10_000;
    expect((await policy.admit('acc')).ok).toBe(true);
  });

  it('a game made on this node counts from its copy: one left at once frees its place at once', async () => {
    const shown: GameState[] = [];
    const policy = new GameCreationPolicy(
      { openGamesPerAccount: 1, gamesPerHour: 20 },
      () => shown,
      new SharedRateStore(
        'games:',
        { counters: new FakeCounters(), logger: logger(), now: () => 1_000 },
        GAMES_WINDOW_MS,
      ),
      () => 1_000,
    );
    for (const code of ['AAAA', 'BBBB', 'CCCC']) {
      const admitted = await policy.admit('acc');
      expect(admitted.ok, code).toBe(true);
      // Made here: in the copy by the time it is told.
      shown.push({ code, createdBy: 'acc', status: 'waiting' } as unknown as GameState);
      if (admitted.ok) admitted.created(code);
      expect((await policy.admit('acc')).ok, `${code} open`).toBe(false);
      // Everybody left: dropped from the copy at once.
      shown.pop();
    }
  });
});
