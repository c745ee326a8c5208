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
  | {
      ok: true;
      /** The game was made, as `code`: it counts as open from now on. */
      created(code: string): void;
      /** No game was made after all: the admission counts for nothing. */
      release(): void;
    }
  | { ok: false; reason: 'open' | 'rate'; message: string };

/** The window of `gamesPerHour`. */
export const GAMES_WINDOW_MS = 60 * 60 * 1000;
/** How long an admission counts as an open game while its game is being made. */
const MAKING_MS = 30_000;
/** How long a game just made counts as open before the node's copy of the games shows it. */
const ARRIVING_MS = 10_000;

/** An admission not yet among the account's games: being made (no code yet), or just made. */
interface Reservation {
  code: string | null;
  until: number;
}

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
   * Admissions of this node not yet among the games, per account: requests that arrive
   * together would otherwise all count the same open games, and all be let in.
   */
  private readonly reserved = new Map<string, Reservation[]>();

  /**
   * Whether `accountId` may create a game now. An admission counts as an open game and against
   * the hourly rate; call created() once the game is made, release() if it was not.
   */
  async admit(accountId: string): Promise<Admission> {
    const games = this.gamesOf(accountId);
    const pending = this.pending(accountId, new Set(games.map((g) => g.code)));
    const open =
      games.filter((g) => g.createdBy === accountId && g.status !== 'finished').length +
      pending.length;
    const max = this.limits.openGamesPerAccount;
    if (open >= max) {
      return {
        ok: false,
        reason: 'open',
        message: `You already have ${open} game${open === 1 ? '' : 's'} of your own waiting or in play (at most ${max}). Start, finish or leave one before you open another.`,
      };
    }
    const mine: Reservation = { code: null, until: this.now() + MAKING_MS };
    pending.push(mine);
    this.reserved.set(accountId, pending);
    const drop = () => {
      const list = this.reserved.get(accountId) ?? [];
      const left = list.filter((r) => r !== mine);
      if (left.length > 0) this.reserved.set(accountId, left);
      else this.reserved.delete(accountId);
    };
    let counted: Awaited<ReturnType<typeof this.hourly.increment>>;
    try {
      counted = await this.hourly.increment(accountId);
    } catch (err) {
      drop();
      throw err;
    }
    const { totalHits, resetTime } = counted;
    if (totalHits > this.limits.gamesPerHour) {
      drop();
      const wait = (resetTime?.getTime() ?? this.now() + GAMES_WINDOW_MS) - this.now();
      const minutes = Math.max(1, Math.ceil(wait / 60_000));
      return {
        ok: false,
        reason: 'rate',
        message: `You have opened ${this.limits.gamesPerHour} games in the last hour, the most allowed. You can open another in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      };
    }
    return {
      ok: true,
      created: (code) => {
        // Made here, the game is in the node's copy already (and counts from there, until it
        // ends or everybody leaves it); made by a peer, it counts from here until it arrives.
        if (this.gamesOf(accountId).some((g) => g.code === code)) return drop();
        mine.code = code;
        mine.until = this.now() + ARRIVING_MS;
      },
      release: () => {
        drop();
        void this.hourly.decrement(accountId);
      },
    };
  }

  /** The account's reservations still counted (kept in the map), the others forgotten. */
  private pending(accountId: string, shown: Set<string>): Reservation[] {
    const now = this.now();
    // Accounts that never came back for theirs are forgotten too, now and then.
    if (this.reserved.size > 256)
      for (const [id, list] of this.reserved)
        if (list.every((r) => r.until <= now)) this.reserved.delete(id);
    const left = (this.reserved.get(accountId) ?? []).filter(
      (r) => r.until > now && (r.code === null || !shown.has(r.code)),
    );
    if (left.length > 0) this.reserved.set(accountId, left);
    else this.reserved.delete(accountId);
    return left;
  }
}
