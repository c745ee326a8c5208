import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../../src/db/accounts.js';
import { Results, ResultsError, type GameResult } from '../../../src/db/results.js';
import { tempDb, type TempDb } from './helpers.js';

describe('Results', () => {
  let tmp: TempDb;
  let results: Results;
  let ids: Record<string, string>;

  beforeEach(() => {
    tmp = tempDb();
    const db = tmp.open();
    const accounts = new Accounts(db);
    ids = {};
    for (const name of ['ariadne', 'theseus', 'minos', 'icarus']) {
      const created = accounts.create(name, 'h');
      if (!created.ok) throw new Error(created.message);
      ids[name] = created.account.id;
    }
    results = new Results(db);
  });
  afterEach(() => tmp.cleanup());

  /** A finished game between `names`; `winner` (if any) won, the rest were eliminated. */
  function game(gameId: string, names: string[], winner: string | null, finishedAt = 1000): GameResult {
    return {
      gameId,
      code: 'KEPS',
      finishedAt,
      rounds: 7,
      winnerId: winner ? ids[winner]! : null,
      players: names.map((n, i) => ({
        accountId: ids[n]!,
        won: n === winner,
        eliminatedRound: n === winner ? null : i + 1,
      })),
    };
  }

  it("records a game and each player's record", () => {
    expect(results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(true);
    expect(results.recordFor(ids.ariadne!)).toEqual({ played: 1, won: 1 });
    expect(results.recordFor(ids.theseus!)).toEqual({ played: 1, won: 0 });
    expect(results.recordFor(ids.minos!)).toEqual({ played: 0, won: 0 });
  });

  it('counts a game once when two nodes record it', () => {
    const other = new Results(tmp.open());
    expect(results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(true);
    expect(other.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(false);
    expect(results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'))).toBe(false);
    expect(results.recordFor(ids.ariadne!)).toEqual({ played: 1, won: 1 });
  });

  it('records a game without a winner (everyone eliminated)', () => {
    results.record(game('g1', ['ariadne', 'theseus'], null));
    expect(results.recordFor(ids.ariadne!)).toEqual({ played: 1, won: 0 });
  });

  it('orders the leaderboard by wins, then by fewer games played', () => {
    results.record(game('g1', ['ariadne', 'theseus'], 'ariadne'));
    results.record(game('g2', ['ariadne', 'theseus', 'minos'], 'theseus'));
    results.record(game('g3', ['theseus', 'minos'], 'theseus'));
    results.record(game('g4', ['ariadne', 'minos'], 'minos'));
    // ariadne and minos tie on wins and games played: then by name.
    expect(results.leaderboard()).toEqual([
      { accountId: ids.theseus, username: 'theseus', played: 3, won: 2, winRate: 2 / 3 },
      { accountId: ids.ariadne, username: 'ariadne', played: 3, won: 1, winRate: 1 / 3 },
      { accountId: ids.minos, username: 'minos', played: 3, won: 1, winRate: 1 / 3 },
    ]);
    results.record(game('g5', ['icarus', 'minos'], 'icarus'));
    const board = results.leaderboard();
    expect(board.map((r) => r.username)).toEqual(['theseus', 'icarus', 'ariadne', 'minos']);
    expect(results.leaderboard(2)).toHaveLength(2);
  });

  it("lists a player's recent games, newest first", () => {
    results.record(game('g1', ['ariadne', 'theseus'], 'ariadne', 1000));
    results.record(game('g2', ['ariadne', 'minos'], 'minos', 2000));
    expect(results.recentFor(ids.ariadne!)).toEqual([
      { gameId: 'g2', code: 'KEPS', finishedAt: 2000, rounds: 7, won: false, eliminatedRound: 1, dealt: 0, winnerUsername: 'minos', opponents: ['minos'] },
      { gameId: 'g1', code: 'KEPS', finishedAt: 1000, rounds: 7, won: true, eliminatedRound: null, dealt: 0, winnerUsername: 'ariadne', opponents: ['theseus'] },
    ]);
    expect(results.recentFor(ids.ariadne!, 1)).toHaveLength(1);
    expect(results.recentFor('nope')).toEqual([]);
  });

  it('refuses a result naming something that is not an account id, recording nothing', () => {
    const bad = game('g1', ['ariadne'], 'ariadne');
    bad.players.push({ accountId: 'guest-1', won: false, eliminatedRound: 2 });
    expect(() => results.record(bad)).toThrow(ResultsError);
    expect(results.recordFor(ids.ariadne!)).toEqual({ played: 0, won: 0 });
  });

  it('keeps the final state of a game, found by code (latest game of that code) or by id', () => {
    expect(results.finalByCode('KEPS')).toBeNull();
    results.record({ ...game('g1', ['ariadne', 'theseus'], 'ariadne', 1000), final: { schema: 3, state: { round: 7, who: 'first' } } });
    results.record({ ...game('g2', ['minos', 'icarus'], 'minos', 2000), final: { schema: 3, state: { round: 9, who: 'second' } } });
    results.record(game('g3', ['minos', 'icarus'], 'minos', 3000)); // recorded without its state
    expect(results.finalByCode('KEPS')).toEqual({ gameId: 'g2', code: 'KEPS', finishedAt: 2000, schema: 3, state: { round: 9, who: 'second' } });
    expect(results.finalById('g1')?.state).toEqual({ round: 7, who: 'first' });
    expect(results.finalById('g3')).toBeNull();
    expect(results.finalByCode('NOPE')).toBeNull();
  });

  it('sums the damage a player dealt, and lists opponents by name', () => {
    const g = game('g1', ['theseus', 'ariadne', 'minos'], 'ariadne');
    g.players = g.players.map((p, i) => ({ ...p, dealt: i + 2 }));
    results.record(g);
    const h = game('g2', ['ariadne', 'icarus'], null);
    h.players = h.players.map((p) => ({ ...p, dealt: 1 }));
    results.record(h);
    expect(results.dealtBy(ids.ariadne!)).toBe(4);
    expect(results.dealtBy(ids.theseus!)).toBe(2);
    expect(results.dealtBy('nope')).toBe(0);
    expect(results.recentFor(ids.ariadne!).map((r) => [r.gameId, r.dealt, r.opponents])).toEqual([
      ['g1', 3, ['minos', 'theseus']],
      ['g2', 1, ['icarus']],
    ]);
  });

  it('does not record a game nobody was left in (everyone left before it started)', () => {
    expect(results.record({ gameId: 'g0', code: 'KEPS', finishedAt: 1, rounds: 0, winnerId: null, players: [] })).toBe(false);
    expect(results.finalByCode('KEPS')).toBeNull();
  });
});
