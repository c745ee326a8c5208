// Results that finish while the database is away wait, once per game, and go in when it answers.

import { describe, expect, it } from 'vitest';
import { LastKnown } from '../../../src/db/last-known.js';
import { ResultOutbox } from '../../../src/db/result-outbox.js';
import type { GameResult } from '../../../src/db/results.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} } as never;
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

function result(gameId: string): GameResult {
  return {
    gameId,
    code: 'KEPS',
    finishedAt: 1,
    rounds: 3,
    winnerId: '1',
    players: [{ accountId: '1', won: true, eliminatedRound: null }],
  };
}

/** A database that is down until `up` is set; records each game id once. */
function writer() {
  const w = {
    up: false,
    recorded: new Set<string>(),
    calls: 0,
    async record(r: GameResult): Promise<boolean> {
      w.calls++;
      if (!w.up) throw refused();
      if (w.recorded.has(r.gameId)) return false;
      w.recorded.add(r.gameId);
      return true;
    },
  };
  return w;
}

describe('ResultOutbox', () => {
  it('keeps a result while the database is away and writes it when it answers', async () => {
    const db = writer();
    const outbox = new ResultOutbox(db, { logger: silent, retryMs: 60_000 });
    const done = outbox.record(result('g1'));
    await expect.poll(() => outbox.waiting).toBe(1);
    await outbox.flush(); // still down: nothing lost, still waiting
    expect(outbox.waiting).toBe(1);
    db.up = true;
    outbox.retryNow();
    await expect(done).resolves.toBe(true);
    expect(outbox.waiting).toBe(0);
    expect([...db.recorded]).toEqual(['g1']);
    outbox.stop();
  });

  it('counts a game reported twice during the outage once', async () => {
    const db = writer();
    const outbox = new ResultOutbox(db, { logger: silent, retryMs: 60_000 });
    const first = outbox.record(result('g1'));
    await expect.poll(() => outbox.waiting).toBe(1);
    const second = outbox.record(result('g1'));
    expect(outbox.waiting).toBe(1);
    db.up = true;
    await outbox.flush();
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(db.recorded.size).toBe(1);
    outbox.stop();
  });

  it('retries by itself on its timer', async () => {
    const db = writer();
    const outbox = new ResultOutbox(db, { logger: silent, retryMs: 20 });
    const done = outbox.record(result('g2'));
    await expect.poll(() => outbox.waiting).toBe(1);
    const calls = db.calls;
    await expect.poll(() => db.calls).toBeGreaterThan(calls + 1);
    db.up = true;
    await expect(done).resolves.toBe(true);
    outbox.stop();
  });

  it('does not keep a result that can never be written', async () => {
    const outbox = new ResultOutbox(
      { record: () => Promise.reject(new Error('names no account')) },
      { logger: silent },
    );
    await expect(outbox.record(result('g3'))).rejects.toThrow('names no account');
    expect(outbox.waiting).toBe(0);
  });
});

describe('LastKnown', () => {
  it('answers the last value only while the database cannot be reached, and not when too old', async () => {
    let now = 0;
    const kept = new LastKnown<number>({ maxAgeMs: 1000, now: () => now });
    expect(await kept.read('a', async () => 1)).toBe(1);
    expect(await kept.read('a', () => Promise.reject(refused()))).toBe(1);
    await expect(kept.read('a', () => Promise.reject(new Error('syntax error')))).rejects.toThrow(
      'syntax error',
    );
    await expect(kept.read('b', () => Promise.reject(refused()))).rejects.toThrow('ECONNREFUSED');
    await expect(
      kept.read(
        'a',
        () => Promise.reject(refused()),
        (v) => v > 1,
      ),
    ).rejects.toThrow('ECONNREFUSED');
    now = 1001;
    await expect(kept.read('a', () => Promise.reject(refused()))).rejects.toThrow('ECONNREFUSED');
    kept.remember('a', 2);
    kept.forget('a');
    await expect(kept.read('a', () => Promise.reject(refused()))).rejects.toThrow('ECONNREFUSED');
  });

  it('keeps at most `max` keys, dropping the least recently read', async () => {
    const kept = new LastKnown<number>({ max: 2 });
    for (const k of ['a', 'b', 'c']) kept.remember(k, 1);
    expect(kept.size).toBe(2);
    await expect(kept.read('a', () => Promise.reject(refused()))).rejects.toThrow();
    expect(await kept.read('c', () => Promise.reject(refused()))).toBe(1);
  });

  it('lists the keys it may still serve, by value, and drops those too old to serve', () => {
    let now = 0;
    const kept = new LastKnown<number>({ maxAgeMs: 1000, now: () => now });
    kept.remember('old', 1);
    now = 600;
    kept.remember('even', 2);
    kept.remember('odd', 3);
    expect(kept.keys()).toEqual(['old', 'even', 'odd']);
    expect(kept.keys((v) => v % 2 === 1)).toEqual(['old', 'odd']);
    now = 1001;
    expect(kept.keys((v) => v % 2 === 1)).toEqual(['odd']);
    expect(kept.size).toBe(2);
  });

  it('a stopping node waits for the database until its deadline', async () => {
    const db = writer();
    const outbox = new ResultOutbox(db, { logger: silent, retryMs: 60_000 });
    const done = outbox.record(result('g1'));
    await expect.poll(() => outbox.waiting).toBe(1);
    const t0 = Date.now();
    expect(await outbox.settle(t0 + 300, 50)).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(db.calls).toBeGreaterThan(2); // asked again and again meanwhile
    setTimeout(() => (db.up = true), 200).unref();
    expect(await outbox.settle(Date.now() + 5000, 50)).toBe(0);
    await expect(done).resolves.toBe(true);
    expect([...db.recorded]).toEqual(['g1']);
    outbox.stop();
  });
});
