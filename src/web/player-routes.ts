// Players' public pages: profiles (/players/:name) with record and recent games, the
// leaderboard, and the sign-up form's check whether a username is still free.

import type { Express, Request, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import type { WebUser } from './user.js';
import type { WebDeps } from './deps.js';
import { pageParam } from '../live/lobby-socket.js';

const profileName = z.string().min(1).max(64);
/** Heroes listed on the leaderboard. */
const LEADERBOARD_ROWS = 20;

export function mountPlayerRoutes(app: Express, deps: WebDeps): void {
  const { accounts, results, games } = deps;

  app.get('/leaderboard', async (req: Request, res: Response) => {
    const user = res.locals.user as WebUser | null;
    const [board, read] = await Promise.all([
      results.leaderboardPage(pageParam(req.query.page), LEADERBOARD_ROWS),
      // The player's own line is a part the page can do without: while the database is away,
      // a node that has not read it yet shows the table alone.
      user ? results.standingOf(user.id).catch(() => null) : null,
    ]);
    // When the player is on this page, their line is their row of it, so the page agrees with
    // itself (a page may be up to LEADERBOARD_MS older than the player's own read).
    const row = user ? board.rows.find((r) => r.accountId === user.id) : undefined;
    const standing = row ? { ...row, of: board.total } : read;
    const record = standing ?? (user ? await results.recordFor(user.id).catch(() => null) : null);
    const first = board.rows[0]?.place ?? 1;
    res.render('pages/leaderboard', {
      title: board.page > 1 ? `Leaderboard, page ${board.page}` : 'Leaderboard',
      board,
      record,
      // The player's own line, above or below the table when they stand on another page.
      mine:
        standing && (standing.place < first || standing.place >= first + board.rows.length)
          ? { ...standing, above: standing.place < first }
          : null,
      standing,
      // The page the player stands on.
      minePage: standing ? Math.ceil(standing.place / LEADERBOARD_ROWS) : null,
    });
  });

  app.get('/players/:name', async (req: Request, res: Response) => {
    const parsed = profileName.safeParse(req.params.name);
    const account = parsed.success ? await accounts.profileByName(parsed.data) : null;
    if (!account) {
      res.status(404).render('pages/error', {
        title: 'Not found',
        heading: 'No such hero',
        message: `Nobody here goes by ${parsed.success ? parsed.data : 'that name'}.`,
      });
      return;
    }
    if (account.username !== req.params.name) {
      res.redirect(301, `/players/${encodeURIComponent(account.username)}`);
      return;
    }
    const [record, dealt, recent, standing] = await Promise.all([
      results.recordFor(account.id),
      results.dealtBy(account.id),
      results.recentFor(account.id, 15),
      results.standingOf(account.id),
    ]);
    const user = res.locals.user as WebUser | null;
    res.render('pages/profile', {
      title: account.username,
      hero: { username: account.username, since: account.createdAt, self: user?.id === account.id },
      record,
      standing,
      dealt,
      recent,
      playing: games
        .gamesOf(account.id)
        .filter((g) => g.status !== 'finished')
        .map((g) => ({ code: g.code, status: g.status, round: g.round })),
    });
  });

  // The sign-up form asks before it submits, so a taken name is caught without a failed request.
  const checkLimiter = rateLimit({
    windowMs: 60_000,
    limit: 60,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
  });
  app.get('/signup/available', checkLimiter, async (req: Request, res: Response) => {
    const name =
      typeof req.query.username === 'string' ? req.query.username.trim().slice(0, 64) : '';
    res.set('Cache-Control', 'no-store');
    res.json({
      username: name,
      available: name.length > 0 && (await accounts.findByUsername(name)) === null,
    });
  });
}
