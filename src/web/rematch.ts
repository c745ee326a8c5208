// Opening the rematch of a finished game, or finding the one a group-mate opened. Two players
// may call for it at the same moment: the owner of the finished game keeps only the first
// rematch it is told of, and the slower caller drops the game it opened and joins that one.

import type { Logger } from '../log.js';
import type { Games } from './deps.js';
import type { Admission } from './game-limits.js';

export type RematchOutcome =
  { ok: true; code: string } | { ok: false; message: string; refused?: 'open' | 'rate' };

/**
 * How long a caller who lost the race waits for the winner's rematch to reach this node's replica.
 */
const CATCH_UP_MS = 2000;

export async function openRematch(
  games: Games,
  code: string,
  user: { id: string; name: string },
  logger: Logger,
  /** The account's game limits, as for a new game in the lobby: a rematch is a new game. */
  admit: () => Promise<Admission>,
): Promise<RematchOutcome> {
  const old = games.game(code);
  if (!old || old.status !== 'finished' || !old.players.some((p) => p.id === user.id)) {
    return {
      ok: false,
      message: 'That game cannot be played again from here: start a new one in the lobby.',
    };
  }
  // The group's rematch, unless everybody who joined it left before it started: then this call
  // opens another in its place.
  let replaces: string | undefined;
  if (old.rematch) {
    if (!(await abandoned(games, old.rematch.code))) return { ok: true, code: old.rematch.code };
    replaces = old.rematch.code;
  }
  const admission = await admit();
  if (!admission.ok) return { ok: false, message: admission.message, refused: admission.reason };
  const created = await games.create({ id: user.id, name: user.name });
  if (!created.ok || !created.code) {
    admission.release();
    return {
      ok: false,
      message: created.message ?? 'Could not open a rematch right now. Try again in a moment.',
    };
  }
  admission.created(created.code);
  const claim = await games.execute(code, {
    kind: 'social',
    playerId: user.id,
    op: { type: 'offer-rematch', code: created.code, ...(replaces ? { replaces } : {}) },
  });
  if (claim.ok) {
    const group = {
      code,
      players: old.players.map((p) => p.id),
      colors: old.players.map((p) => p.color),
    };
    const marked = await games.execute(created.code, {
      kind: 'social',
      playerId: user.id,
      op: { type: 'mark-rematch', of: group },
    });
    // Unmarked, it is still a good game for the group: the host starts it instead of it starting by
    // itself.
    if (!marked.ok)
      logger.warn(
        { game: created.code, reason: marked.code },
        `rematch ${created.code} of ${code} could not be marked`,
      );
    return { ok: true, code: created.code };
  }
  // Someone else's rematch came first: drop ours (nobody is left in it, and it does not count
  // against the account's games an hour) and go to theirs.
  admission.release();
  const left = await games.execute(created.code, { kind: 'leave', playerId: user.id });
  if (!left.ok)
    logger.warn(
      { game: created.code, reason: left.code },
      `could not drop the unused rematch ${created.code}`,
    );
  const theirs = await rematchPointer(games, code, CATCH_UP_MS);
  return theirs ? { ok: true, code: theirs } : { ok: false, message: claim.message };
}

/**
 * Whether the game `code` was left by everybody before it started: finished with nobody in it,
 * or gone (dropped at once, then). A game opened a moment ago on another node may not have
 * reached this one yet: it counts as gone only if it does not arrive within CATCH_UP_MS.
 */
async function abandoned(games: Games, code: string): Promise<boolean> {
  const game = games.game(code) ?? (await games.awaitGame(code, CATCH_UP_MS));
  // Not shown here, and not resuming nor out of sight while the database cannot be read.
  if (!game) return (await games.pending(code)) === null;
  return game.status === 'finished' && game.players.length === 0;
}

/**
 * The rematch code recorded on `code`, waiting up to `timeoutMs` for it to reach the local replica.
 */
function rematchPointer(games: Games, code: string, timeoutMs: number): Promise<string | null> {
  const now = games.game(code)?.rematch?.code;
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const stop = games.watch(code, () => {
      const found = games.game(code)?.rematch?.code;
      if (found) finish(found);
    });
    const timer = setTimeout(function rematchNotSeen() {
      finish(null);
    }, timeoutMs);
    function finish(result: string | null): void {
      clearTimeout(timer);
      stop();
      resolve(result);
    }
  });
}
