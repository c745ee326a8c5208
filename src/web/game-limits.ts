// How many games one account may open: at most `openGamesPerAccount` that it created and that
// have not finished (waiting in the lobby or being played), and at most `gamesPerHour` new ones
// an hour. Checked in the web layer before the registry is asked for a game, with a sentence
// the player can act on when refused. The count of open games is read from the replica and the
// hourly rate from the database the nodes share, so both hold across nodes.

import type { Store } from 'express-rate-limit';
import type { GameState } from '../game/types.js';

export interface GameLimits {
  openGamesPerAccount: number;
  gamesPerHour: number;
}

export type Admission =
  { ok: true; release(): void } | { ok: false; reason: 'open' | 'rate'; message: string };

/** The window of `gamesPerHour`. */
export const GAMES_WINDOW_MS = 60 * 60 * 1000;

export class GameCreationPolicy {
  constructor(
    private readonly limits: GameLimits,
    /** Every game the account plays in, from the local replica. */
    private readonly gamesOf: (accountId: string) => GameState[],
    /** Counts new games per account over GAMES_WINDOW_MS. */
    private readonly hourly: Pick<Store, 'increment' | 'decrement'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether `accountId` may create a game now. An admission counts against the hourly rate;
   * call release() if the game was not created after all.
   */
  async admit(accountId: string): Promise<Admission> {
    const open = this.gamesOf(accountId).filter(
      (g) => g.createdBy === accountId && g.status !== 'finished',
    ).length;
    const max = this.limits.openGamesPerAccount;
    if (open >= max) {
      return {
        ok: false,
        reason: 'open',
        message: `You already have ${open} game${open === 1 ? '' : 's'} of your own waiting or in play (at most ${max}). Start, finish or leave one before you open another.`,
      };
    }
    const { totalHits, resetTime } = await this.hourly.increment(accountId);
    if (totalHits > this.limits.gamesPerHour) {
      const wait = (resetTime?.getTime() ?? this.now() + GAMES_WINDOW_MS) - this.now();
      const minutes = Math.max(1, Math.ceil(wait / 60_000));
      return {
        ok: false,
        reason: 'rate',
        message: `You have opened ${this.limits.gamesPerHour} games in the last hour, the most allowed. You can open another in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      };
    }
    return { ok: true, release: () => void this.hourly.decrement(accountId) };
  }
}
