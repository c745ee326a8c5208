// Lobby, game pages (live, or the final board of a finished game kept in SQLite) and their
// live sockets, rematches, and the operators' cluster page.

import type { NextFunction, Request, Response } from 'express';
import type expressWs from 'express-ws';
import { z } from 'zod';
import { BEHIND_REASON, LiveClose } from '../live/close-codes.js';
import { GameLiveSocket } from '../live/game-socket.js';
import { InboundBudget } from '../live/inbound.js';
import { LobbyFeed, LobbyLiveSocket, lobbyPage, pageParam } from '../live/lobby-socket.js';
import { openGamesHtml } from '../live/lobby-templates.js';
import { GameFrames } from '../live/game-frame.js';
import { renderGamePartials } from '../live/game-socket.js';
import { pagePartials } from '../live/game-templates.js';
import { toHtml } from '../live/html.js';
import { keepFrames, takeEarlyFrames } from '../live/early.js';
import { parseSeen, seenToken } from '../sessions/seen.js';
import type { LiveWire } from '../live/source.js';
import { PATCH_RENDER, type WireFormat } from '../live/live-socket.js';
import { holdsTable } from '../live/template-script.js';
import { gameView } from '../live/view-model.js';
import { GAME_SCHEMA, type GameState } from '../game/types.js';
import type { GameSummary } from '../db/results.js';
import { canRead, upgradeState } from '../game/upgrade.js';
import { requireUser } from './auth-routes.js';
import type { WebDeps } from './deps.js';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { GAMES_WINDOW_MS, GameCreationPolicy, type Admission } from './game-limits.js';
import { SharedRateStore } from './shared-rate-store.js';
import { adminAllowed } from './ops-routes.js';
import { openRematch } from './rematch.js';
import { formField, RUNS_HEADER, sessionOf } from './request.js';
import type { WebUser } from './user.js';

const codeParam = z.string().regex(/^[A-Za-z]{4}$/);

/** The game code of the route, upper-cased; null after answering 404 for one that is not a code. */
function gameCodeOr404(req: Request, res: Response): string | null {
  const parsed = codeParam.safeParse(req.params.code);
  if (parsed.success) return parsed.data.toUpperCase();
  res.status(404).render('pages/error', {
    title: 'Not found',
    heading: 'No such game',
    message: 'Game codes are four letters.',
  });
  return null;
}

function flash(req: Request, kind: 'info' | 'error', message: string): void {
  req.session.flash = { kind, message };
}

/**
 * How long a game's page may wait, in all, for this node's copy of the game (a database that
 * does not answer, a copy behind what the player saw), after reading the game's row (at most
 * 3 s on PostgreSQL). Together, under the 6 s after which the balancer sends a page a node has
 * not begun to answer to another node (deploy/haproxy.cfg): past that, a waiting node would look
 * frozen, and a page no node can show at once would be sent from node to node until the
 * balancer gave up on it.
 */
const PAGE_WAIT_MS = 2000;

/** Games an account may wait in at once (seated, not yet started), its own included. */
export const WAITING_SEATS = 5;
/** Seats taken or left, and games started, per account per minute (on each node). */
export const SEAT_CHANGES_PER_MINUTE = 30;

/**
 * Game pages that found no game, per client address per minute (on each node). Each costs a few
 * database reads, and codes are short: past this, the address's game pages are refused for the
 * rest of the minute.
 */
export const UNKNOWN_CODES_PER_MINUTE = 30;

/** How much table talk an account may send: `lines` in any `seconds`. */
const TALK = { lines: 5, seconds: 10 } as const;

export function mountGameRoutes(app: expressWs.Application, deps: WebDeps): void {
  const { games, renderer, logger, metrics, results, hub, config } = deps;
  // Every frame a player's pages send, on every socket, counts against one budget per account.
  const budget = new InboundBudget();
  // New games an hour are counted in the database every node shares.
  const clock = (): number => deps.now();
  const hourly = new SharedRateStore(
    'games:',
    { counters: deps.rateCounters, logger, now: clock },
    GAMES_WINDOW_MS,
  );
  const creation = new GameCreationPolicy(config.limits, (id) => games.gamesOf(id), hourly, clock);
  // Table talk: a burst of five lines, then about one every two seconds. The game page paces its
  // own lines by the same numbers (its chat form's data-talk), so a line over the limit stays in
  // its box instead of being sent to be refused.
  const chatLimiter = new RateLimiterMemory({ points: TALK.lines, duration: TALK.seconds });
  // Renders shared by every page of a game on this node; a game's are dropped once it leaves the
  // replica.
  const frames = new GameFrames();
  games.subscribe((code) => {
    if (!games.game(code)) frames.forget(code);
  });
  // The lobby's lists, kept once for every lobby page of this node.
  const lobbyFeed = new LobbyFeed(games);
  // Pages of games run beyond a network cut reconnect: the load balancer sends them to a node
  // that reaches the game's owner (this one refuses them meanwhile, web/app.ts).
  games.onBeyondCut((codes) => {
    const closed = hub.closeGames(new Set(codes), 'game runs beyond a network cut');
    if (closed === 0) return;
    metrics.liveMoved.inc(closed);
    logger.info(
      { sockets: closed, games: codes.length },
      `closed ${closed} pages of games whose node this one cannot reach (1012): they reconnect through the load balancer`,
    );
  });

  /** Tells the load balancer that this node runs the game (see RUNS_HEADER). */
  function tellRunner(res: Response, code: string): void {
    if (games.runsHere(code)) res.setHeader(RUNS_HEADER, code);
  }
  app.use('/games/:code', (req: Request, res: Response, next: NextFunction) => {
    const parsed = codeParam.safeParse(req.params.code);
    if (parsed.success) tellRunner(res, parsed.data.toUpperCase());
    next();
  });

  app.get('/lobby', requireUser, async (req: Request, res: Response) => {
    const user = res.locals.user as WebUser;
    // A waiting room's page sent here as its game closed (nobody started it, or everybody left).
    const closed =
      typeof req.query.closed === 'string' ? codeParam.safeParse(req.query.closed) : null;
    if (closed?.success && !res.locals.flash)
      res.locals.flash = {
        kind: 'info',
        message: `Game ${closed.data.toUpperCase()} closed before it started: nobody started it in time, or everybody left. Open a new one, or join one below.`,
      };
    const mine = games.gamesOf(user.id).filter((g) => g.status !== 'finished');
    // The place is a line the lobby can do without: while the database is away, a node that
    // has not read this player's place yet shows the record alone. The standing holds the
    // record; only a hero without one (no game finished, or the read failed) reads it apart.
    const standing = await results.standingOf(user.id).catch(() => null);
    const record = standing ?? (await results.recordFor(user.id));
    const lobby = lobbyPage(
      lobbyFeed.lists(),
      user.id,
      pageParam(req.query.page),
      pageParam(req.query.watch),
    );
    res.render('pages/lobby', {
      title: 'Lobby',
      lobby,
      openGames: openGamesHtml(lobby, String(res.locals.csrfToken ?? '')),
      myGames: mine,
      record,
      standing,
      // A code that found no game, back in its box to be corrected (joinAndRedirect).
      joinCode:
        typeof req.query.code === 'string' && codeParam.safeParse(req.query.code).success
          ? req.query.code.toUpperCase()
          : '',
    });
  });

  /** Whether `user` may open a game now (a new one or a rematch); a refusal is counted. */
  async function admitGame(user: WebUser): Promise<Admission> {
    const admission = await creation.admit(user.id);
    if (!admission.ok) {
      metrics.gamesRefused.inc({ reason: admission.reason });
      logger.info(
        { user: user.username, reason: admission.reason },
        'refused to create a game: limit reached',
      );
    }
    return admission;
  }

  app.post('/lobby/games', requireUser, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const user = res.locals.user as WebUser;
      const admission = await admitGame(user);
      if (!admission.ok) {
        flash(req, 'error', admission.message);
        res.redirect(303, '/lobby');
        return;
      }
      const out = await games.create({ id: user.id, name: user.username });
      if (!out.ok || !out.code) {
        admission.release();
        flash(
          req,
          'error',
          out.message ?? 'Could not create a game right now. Try again in a moment.',
        );
        res.redirect(303, '/lobby');
        return;
      }
      admission.created(out.code);
      tellRunner(res, out.code);
      res.redirect(303, `/games/${out.code}`);
    } catch (e) {
      next(e);
    }
  });

  // Taking or leaving a seat, or starting, is a write every node copies and a redraw of every
  // page that shows the game and of every lobby: a player does a few a minute by hand.
  const seatLimiter = rateLimit({
    windowMs: 60_000,
    limit: SEAT_CHANGES_PER_MINUTE,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => (res.locals.user as WebUser).id,
    handler: (_req, res) => {
      metrics.rateLimited.inc({ limit: 'seats' });
      res.status(429).render('pages/error', {
        title: 'Slow down',
        heading: 'Slow down',
        message:
          'You joined, left or started games many times in the last minute. Wait a moment and try again.',
      });
    },
  });

  app.post(
    '/lobby/join',
    requireUser,
    seatLimiter,
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const parsed = codeParam.safeParse(formField(req, 'code')?.trim() ?? '');
        if (!parsed.success) {
          flash(req, 'error', 'A game code is four letters, like KEPS.');
          res.redirect(303, '/lobby');
          return;
        }
        await joinAndRedirect(req, res, parsed.data.toUpperCase());
      } catch (e) {
        next(e);
      }
    },
  );

  async function joinAndRedirect(req: Request, res: Response, code: string): Promise<void> {
    const user = res.locals.user as WebUser;
    // A game created a moment ago on another node may not be in this node's replica yet: read
    // it as the game's page does (the database has it) before saying there is no such game.
    const game = games.game(code) ?? (await games.awaitGame(code));
    if (!game) {
      flash(
        req,
        'error',
        games.unreadable(code)
          ? `We cannot reach game ${code} right now. Try again in a moment.`
          : `There is no game ${code}. Check the code and try again.`,
      );
      res.redirect(303, `/lobby?code=${code}`);
      return;
    }
    if (game.players.some((p) => p.id === user.id) || game.status !== 'open') {
      res.redirect(303, `/games/${code}`);
      return;
    }
    const waiting = games.gamesOf(user.id).filter((g) => g.status === 'open').length;
    if (waiting >= WAITING_SEATS) {
      flash(
        req,
        'error',
        `You are already waiting in ${waiting} games (at most ${WAITING_SEATS}). Leave one, or start one, before you join another.`,
      );
      res.redirect(303, `/games/${code}`);
      return;
    }
    const result = await games.execute(code, {
      kind: 'join',
      player: { id: user.id, name: user.username },
    });
    if (!result.ok) flash(req, 'error', result.message);
    res.redirect(303, `/games/${code}`);
  }

  const gameCommand =
    (kind: 'join' | 'start' | 'leave') =>
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const code = gameCodeOr404(req, res);
        if (code === null) return;
        const user = res.locals.user as WebUser;
        if (kind === 'join') {
          await joinAndRedirect(req, res, code);
          return;
        }
        const result = await games.execute(code, { kind, playerId: user.id });
        if (!result.ok) flash(req, 'error', result.message);
        // Leaving lands on the lobby: say there what happened.
        else if (kind === 'leave') flash(req, 'info', `You left game ${code}.`);
        res.redirect(303, kind === 'leave' && result.ok ? '/lobby' : `/games/${code}`);
      } catch (e) {
        next(e);
      }
    };
  app.post('/games/:code/join', requireUser, seatLimiter, gameCommand('join'));
  app.post('/games/:code/start', requireUser, seatLimiter, gameCommand('start'));
  app.post('/games/:code/leave', requireUser, seatLimiter, gameCommand('leave'));

  // Lookups of codes that found no game, per client address, game pages and live sockets alike:
  // only misses count (a player's own pages, reloads and retries do not). Past the limit, codes
  // this node does not hold in memory are refused for the rest of the minute, as each costs
  // database reads and answers whether a game exists.
  const unknownCodes = new RateLimiterMemory({ points: UNKNOWN_CODES_PER_MINUTE, duration: 60 });
  const addressOf = (req: Request): string => ipKeyGenerator(req.ip ?? '');
  /** Seconds until the address of `req` may look up unknown codes again; 0 if it may now. */
  async function codesRefusedFor(req: Request): Promise<number> {
    const used = await unknownCodes.get(addressOf(req));
    return used && used.consumedPoints >= UNKNOWN_CODES_PER_MINUTE
      ? Math.max(1, Math.ceil(used.msBeforeNext / 1000))
      : 0;
  }
  /** One more code that found no game, from the address of `req`. */
  function missedCode(req: Request): void {
    // Rejected once the budget is spent: the count is what matters, not the answer.
    unknownCodes.consume(addressOf(req)).catch(() => undefined);
  }
  function refuseCodes(res: Response, wait: number): void {
    metrics.rateLimited.inc({ limit: 'game-codes' });
    res.status(429).set('Retry-After', String(wait)).render('pages/error', {
      title: 'Slow down',
      heading: 'Slow down',
      message:
        'Many game codes asked from your address in the last minute were not games. Wait a minute, then check the code and try again.',
    });
  }
  async function unknownCodeGate(req: Request, res: Response, next: NextFunction): Promise<void> {
    const code = typeof req.params.code === 'string' ? req.params.code.toUpperCase() : '';
    if (!games.game(code)) {
      const wait = await codesRefusedFor(req);
      if (wait > 0) {
        refuseCodes(res, wait);
        return;
      }
    }
    res.on('finish', () => {
      if (res.statusCode === 404) missedCode(req);
    });
    next();
  }

  app.get('/games/:code', unknownCodeGate, async (req: Request, res: Response) => {
    const parsed = codeParam.safeParse(req.params.code);
    if (!parsed.success) {
      res.status(404).render('pages/error', {
        title: 'Not found',
        heading: 'No such game',
        message: 'Game codes are four letters, like KEPS.',
      });
      return;
    }
    const code = parsed.data.toUpperCase();
    if (code !== req.params.code) {
      res.redirect(301, `/games/${code}${req.originalUrl.slice(req.path.length)}`);
      return;
    }
    const user = res.locals.user as WebUser | null;
    const wanted =
      typeof req.query.game === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(req.query.game)
        ? req.query.game
        : null;
    // An invite link opened logged out: sign up (or log in) first, then come straight back.
    // Only to a game there is: a wrong code in a link says so now, not after the sign-up.
    if (!user) {
      const live = await games.awaitGame(code, PAGE_WAIT_MS);
      // A game that is over is there for anyone with its link to see, account or not: its final
      // board and result, as its heroes see it afterwards.
      const current = live && (!wanted || live.id === wanted) ? live : null;
      // Codes are used again: without a game id, an earlier game of the code is looked up only
      // once this node can tell that no game of it runs (not while it starts, nor while the
      // game is held by a newer release), or the link of a game under way would show the last
      // one that ended.
      const settled =
        !!wanted ||
        (deps.lifecycle.state !== 'starting' &&
          deps.lifecycle.state !== 'joining' &&
          !games.unreadable(code));
      const over = current
        ? current.status === 'finished'
          ? current
          : null
        : settled
          ? await finishedGame(code, wanted)
          : null;
      if (over) {
        res.set('Cache-Control', 'no-store');
        showFinished(res, over, null);
        return;
      }
      if (!current && settled && (await showSummary(res, code, wanted, null))) return;
      const there = live ?? (await games.pending(code));
      if (!there) {
        res.status(404).render('pages/error', {
          title: 'Not found',
          heading: `No game ${code}`,
          message:
            'The code in the link may be wrong. Ask for the link again, or start a game of your own.',
        });
        return;
      }
      // A game that takes no more heroes (being played, or over) is there to be watched: the
      // sign-up says so, rather than inviting the visitor to join it.
      const watch = live?.status === 'open' ? '' : '&watch=1';
      res.redirect(`/signup?next=${encodeURIComponent(`/games/${code}`)}${watch}`);
      return;
    }
    // At most PAGE_WAIT_MS of waiting below in all, besides awaitGame's read of the game's row.
    const waitUntil = clock() + PAGE_WAIT_MS;
    // At least what the database holds (a game created a moment ago elsewhere, a lagging replica).
    let live = await games.awaitGame(code, PAGE_WAIT_MS);
    // A reload of a page that saw more of the game than this node's copy holds (its token, in a
    // cookie of the game's path: see sessions/seen.ts) waits for the copy, or comes back.
    const seen = parseSeen(req.cookies[`minotaur_seen_${code}`]);
    if (live && seen) {
      if (!(await games.caughtUp(code, seen, null, Math.max(0, waitUntil - clock())))) {
        logger.debug({ code, seen }, `page of ${code} behind what the player saw: retry`);
        oneMoment(
          res,
          code,
          1,
          'This server is catching up with the game. Reload the page in a second.',
        );
        return;
      }
      live = games.game(code) ?? live;
    }
    const state = live && (!wanted || live.id === wanted) ? live : undefined;
    if (
      !state &&
      !live &&
      !wanted &&
      (deps.lifecycle.state === 'starting' || deps.lifecycle.state === 'joining')
    ) {
      oneMoment(res, code, 1, 'This server is still starting. Reload the page in a second.');
      return;
    }
    if (!state && !wanted && games.unreadable(code)) {
      oneMoment(
        res,
        code,
        2,
        'This game has just moved to a newer version of Minotaur. Reload the page in a few seconds.',
      );
      return;
    }
    res.set('Cache-Control', 'no-store');
    if (state) {
      const now = deps.now();
      const frame = frames.frame(state, now);
      const g = gameView(state, user.id, frames.board(state), frame.shared);
      const partials = Object.fromEntries(
        renderGamePartials(state, user.id, String(res.locals.csrfToken ?? ''), frames, now),
      );
      // Marked by seat (the Minotaur's quarry reads "you" on its own page), as live updates are.
      partials['game-status'] = toHtml(frame.statusAt(now), {
        seat: state.players.find((p) => p.id === user.id)?.color ?? -1,
      });
      const rec = games.shownRecord(code);
      res.render('pages/game', {
        title: `Game ${code}`,
        g,
        gameId: state.id,
        seen: rec ? seenToken(rec.epoch, state) : '',
        partials,
        now,
        archived: false,
        talk: TALK,
      });
      return;
    }
    // Not running any more: show its final board and result from the database.
    const final = await finishedGame(code, wanted);
    const pending = !final && !wanted ? await games.pending(code) : null;
    if (pending) {
      // The game is being resumed, or the database cannot be read right now: not a 404.
      oneMoment(
        res,
        code,
        pending === 'resuming' ? 1 : 3,
        pending === 'resuming'
          ? 'This game is resuming after a restart. Reload the page in a second.'
          : 'This game cannot be reached right now: the server is waiting for its database. Reload the page in a few seconds.',
      );
      return;
    }
    if (!final && (await showSummary(res, code, wanted, user))) return;
    if (!final) {
      res.status(404).render('pages/error', {
        title: 'Not found',
        heading: `No game ${code}`,
        message: 'The code may be wrong, or the game was never played to the end.',
      });
      return;
    }
    showFinished(res, final, user.id);
  });

  /**
   * The page of a finished game whose final board is no longer kept (FINAL_STATE_DAYS): its
   * result, from the database. False if no result of that game was recorded, or the database
   * cannot say.
   */
  async function showSummary(
    res: Response,
    code: string,
    gameId: string | null,
    user: WebUser | null,
  ): Promise<boolean> {
    const game = await results.summary(code, gameId).catch(() => null);
    if (!game) return false;
    // Heroes who met the same fate share a place (1, 2, 2, 4).
    const fate = (p: GameSummary['players'][number]) => `${p.won}:${p.eliminatedRound}`;
    const players = game.players.map((p, _i, all) => ({
      ...p,
      place: all.findIndex((q) => fate(q) === fate(p)) + 1,
    }));
    res.set('Cache-Control', 'no-store');
    res.render('pages/result', {
      title: `Game ${code}`,
      game: { ...game, players },
      winner: game.players.find((p) => p.won)?.username ?? null,
      keptDays: config.finalStateDays,
      // A board kept but not shown: written by a newer release, or unreadable.
      boardKept: game.boardKept,
      user,
    });
    return true;
  }

  /** The page of a game that is over: its final board and result, nothing to act on. */
  function showFinished(res: Response, final: GameState, viewer: string | null): void {
    const g = { ...gameView(final, viewer), canRematch: false };
    const now = deps.now();
    res.render('pages/game', {
      title: `Game ${final.code}`,
      g,
      gameId: final.id,
      partials: pagePartials(g, now, String(res.locals.csrfToken ?? ''), true, viewer === null),
      now,
      archived: true,
    });
  }

  /**
   * The final state of a finished game kept in the database, lifted to the current schema; null if
   * none (or unreadable).
   */
  async function finishedGame(code: string, gameId: string | null): Promise<GameState | null> {
    const row = await (gameId ? results.finalById(gameId) : results.finalByCode(code)).catch(
      () => null,
    );
    if (!row || row.code !== code || !canRead(row.schema)) return null;
    try {
      const state =
        row.schema === GAME_SCHEMA ? (row.state as GameState) : upgradeState(row.state, row.schema);
      return state.status === 'finished' ? state : null;
    } catch (err) {
      logger.warn({ err, game: code }, `final state of game ${code} could not be read`);
      return null;
    }
  }

  app.post(
    '/games/:code/rematch',
    requireUser,
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const code = gameCodeOr404(req, res);
        if (code === null) return;
        const user = res.locals.user as WebUser;
        const out = await openRematch(
          games,
          code,
          { id: user.id, name: user.username },
          logger,
          () => admitGame(user),
        );
        if (!out.ok) {
          flash(req, 'error', out.message);
          res.redirect(
            303,
            games.game(code)?.players.some((p) => p.id === user.id) ? `/games/${code}` : '/lobby',
          );
          return;
        }
        const target = out.code;
        await joinAndRedirect(req, res, target);
      } catch (e) {
        next(e);
      }
    },
  );

  /** Game sockets per account accepted but not yet open (waiting for their game's copy). */
  const waitingSockets = new Map<string, number>();

  app.ws('/games/:code/live', (ws, req) => {
    const wire = ws as unknown as LiveWire;
    const user = req.res?.locals.user as WebUser | null | undefined;
    if (!user) {
      metrics.wsRejected.inc({ reason: 'unauthorised' });
      return wire.close(LiveClose.unauthorised, 'log in first');
    }
    // Upgrades reaching a node that is not ready (joining, draining) were refused with 503 in
    // verifyClient (web/app.ts), before the handshake.
    const parsed = codeParam.safeParse(req.params.code);
    // No game can have such a code: nothing to look up.
    if (!parsed.success) {
      metrics.wsRejected.inc({ reason: 'no-game' });
      missedCode(req);
      return wire.close(LiveClose.notFound, 'no such game');
    }
    const code = parsed.data.toUpperCase();
    if (games.unreadable(code))
      return wire.close(LiveClose.restart, 'game moved to a newer release');
    // Sockets still waiting for their game count against the account's cap too (they are not
    // in the hub yet): past it, this one is closed at once rather than held for seconds.
    const waiting = waitingSockets.get(user.id) ?? 0;
    if (waiting >= config.limits.socketsPerAccount) {
      metrics.wsRejected.inc({ reason: 'too-many-sockets' });
      return wire.close(LiveClose.tooManySockets, 'too many sockets waiting for their game');
    }
    waitingSockets.set(user.id, waiting + 1);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      const left = (waitingSockets.get(user.id) ?? 1) - 1;
      if (left > 0) waitingSockets.set(user.id, left);
      else waitingSockets.delete(user.id);
    };
    wire.on('close', uncount);
    // The first render shows at least what the database holds (see awaitGame); what the page
    // sends meanwhile is kept for the socket, within the same cap as before the route.
    const early = takeEarlyFrames(wire);
    const stopKeeping = keepFrames(wire, early);
    const seen = parseSeen(req.query.seen);
    const { shownGame } = liveFormat(req);
    const settle = async (): Promise<void> => {
      // An address past its unknown codes: only games this node holds are looked up.
      if (!games.game(code) && (await codesRefusedFor(req)) > 0) {
        stopKeeping();
        uncount();
        metrics.rateLimited.inc({ limit: 'game-codes' });
        metrics.wsRejected.inc({ reason: 'no-game' });
        if (wire.readyState === 1) wire.close(LiveClose.policy, 'too many unknown game codes');
        return;
      }
      const state = await games.awaitGame(code);
      // A page that saw more of the game than this node's copy holds keeps what it shows and
      // comes back shortly (see sessions/seen.ts), rather than seeing its rounds played again.
      const ok = !state || !seen || (await games.caughtUp(code, seen, shownGame));
      stopKeeping();
      uncount();
      if (wire.readyState !== 1) return;
      if (!ok) {
        metrics.wsRejected.inc({ reason: 'behind' });
        wire.close(LiveClose.restart, BEHIND_REASON);
        return;
      }
      if (!state) {
        metrics.wsRejected.inc({ reason: 'no-game' });
        // A game still resuming, or a database that cannot be read: close as a restart so the
        // page reconnects shortly.
        const pending = await games.pending(code);
        if (pending) wire.close(LiveClose.restart, `game ${pending}`);
        else {
          missedCode(req);
          wire.close(LiveClose.notFound, 'no such game');
        }
        return;
      }
      openGameSocket(wire, code, user, req, early);
    };
    // A step that throws (a saved row that cannot be read, a database error in `pending`) would
    // leave the page an open socket that nobody serves, drains or closes: it is closed as a
    // server error instead, which the page reconnects on.
    settle().catch((err: unknown) => {
      stopKeeping();
      uncount();
      logger.error({ err, game: code }, 'could not open a game socket');
      if (wire.readyState === 1) wire.close(LiveClose.serverError, 'could not open the game');
    });
  });

  function openGameSocket(
    wire: LiveWire,
    code: string,
    user: WebUser,
    req: Request,
    early: [unknown, boolean | undefined][] = [],
  ): void {
    if (!stillServing(wire)) return;
    const socket = new GameLiveSocket(
      wire,
      code,
      { id: user.id, username: user.username },
      {
        source: games,
        logger,
        metrics,
        budget,
        chatLimiter,
        now: () => deps.now(),
        frames,
        ...liveFormat(req),
        csrfToken: csrfTokenOf(req),
      },
    );
    admit(socket, user, req.sessionID);
    wire.on('close', () => hub.remove(socket));
    socket.start(early);
  }

  /** The session's CSRF token for a live socket's forms; '' when the session could not load. */
  function csrfTokenOf(req: Request): string {
    const token: unknown = sessionOf(req)?.csrfToken;
    return typeof token === 'string' ? token : '';
  }

  /**
   * The wire format the page asked for (?render=patch2&game=ID&templates=VERSION), validated like
   * any input: a table of another version (or none) is not held.
   */
  function liveFormat(req: Request): {
    format: WireFormat;
    shownGame: string | null;
    table: boolean;
  } {
    const format = req.query.render === PATCH_RENDER ? 'patch' : 'html';
    const shown =
      typeof req.query.game === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(req.query.game)
        ? req.query.game
        : null;
    return { format, shownGame: shown, table: holdsTable(req.query.templates) };
  }

  app.ws('/lobby/live', (ws, req) => {
    const wire = ws as unknown as LiveWire;
    // The lobby's page sends nothing but pings: frames that came early only count (below).
    const early = takeEarlyFrames(wire);
    const user = req.res?.locals.user as WebUser | null | undefined;
    if (!user) return wire.close(LiveClose.unauthorised, 'log in first');
    if (!stillServing(wire)) return;
    const { format, table } = liveFormat(req);
    const socket = new LobbyLiveSocket(
      wire,
      { id: user.id, username: user.username },
      lobbyFeed,
      logger,
      budget,
      csrfTokenOf(req),
      pageParam(req.query.page),
      format,
      pageParam(req.query.watch),
      table,
    );
    admit(socket, user, req.sessionID);
    wire.on('close', () => hub.remove(socket));
    socket.start(early.length);
  });

  /**
   * Whether a socket whose session or game was being read may be served now: not if the page
   * closed it meanwhile (its close has passed, so nothing would ever remove it from the hub, and
   * it would count against its account's cap), nor if the node began to drain meanwhile (the
   * drain's sweeps may have passed too: it is sent to reconnect elsewhere now).
   */
  function stillServing(wire: LiveWire): boolean {
    if (wire.readyState !== 1) return false;
    if (deps.lifecycle.state === 'ready') return true;
    metrics.wsRejected.inc({ reason: 'draining' });
    wire.close(LiveClose.restart, 'node draining');
    return false;
  }

  /**
   * Counts the socket against its account's cap, closing that account's oldest past it; the
   * session it was opened with is checked while it stays open (ended-sessions.ts).
   */
  function admit(socket: GameLiveSocket | LobbyLiveSocket, user: WebUser, sessionId: string): void {
    const closed = hub.admit(socket, config.limits.socketsPerAccount, sessionId);
    if (closed > 0) {
      metrics.wsRejected.inc({ reason: 'too-many-sockets' }, closed);
      logger.info(
        { user: user.username, closed },
        `closed ${closed} older live sockets of ${user.username}: at most ${config.limits.socketsPerAccount} per account`,
      );
    }
  }

  app.get('/admin/cluster', (req: Request, res: Response) => {
    if (!adminAllowed(req, deps)) {
      res.status(403).render('pages/error', {
        title: 'Forbidden',
        heading: 'Operators only',
        message: 'Log in with an admin account to see the cluster.',
      });
      return;
    }
    res.set('Cache-Control', 'no-store');
    res.render('pages/admin', { title: 'Cluster', c: clusterLocals(deps) });
  });

  app.get('/admin/cluster/members', (req: Request, res: Response) => {
    if (!adminAllowed(req, deps)) return void res.status(403).send('');
    res.set('Cache-Control', 'no-store');
    res.send(renderer.render('partials/admin-cluster', { c: clusterLocals(deps) }));
  });
}

function clusterLocals(deps: WebDeps) {
  return {
    nodeId: deps.cluster.nodeId,
    state: deps.lifecycle.state,
    members: deps.cluster.members(),
    replication: deps.cluster.replication(),
    database: deps.cluster.database(),
    now: deps.now(),
  };
}

/** A game page that cannot be shown yet: 503 "One moment", to be reloaded after `seconds`. */
function oneMoment(res: Response, code: string, seconds: number, message: string): void {
  res.set('Retry-After', String(seconds));
  res.status(503).render('pages/error', {
    title: `Game ${code}`,
    heading: 'One moment',
    message,
    retry: seconds,
  });
}
