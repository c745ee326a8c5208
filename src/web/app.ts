// The HTTP and WebSocket front door: security middleware, sessions, CSRF, static files and
// the route groups. Knows nothing about clusters beyond what WebDeps hands it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants as zlibConstants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import expressWs from 'express-ws';
import session from 'express-session';
import helmet from 'helmet';
import cookieParser from 'cookie-parser';
import compression from 'compression';
import { csrfSync } from 'csrf-sync';
import { outageClass } from '../db/errors.js';
import { doubleCsrf } from 'csrf-csrf';
import { holdEarlyFrames } from '../live/early.js';
import { deflateOptions, PlayerWire } from './live-wire.js';
import { MAX_FRAME_BYTES } from '../live/messages.js';
import type { WebDeps } from './deps.js';
import { mountAuthRoutes } from './auth-routes.js';
import { EndedSessions } from './ended-sessions.js';
import { mountGameRoutes } from './game-routes.js';
import { mountPlayerRoutes } from './player-routes.js';
import { mountAdminJson, mountOpsRoutes } from './ops-routes.js';
import { originAllowed } from './origin.js';
import { saveSessionBeforeAnswering } from './session-saved.js';
import { formField, RUNS_HEADER, sessionOf } from './request.js';
import { currentUser, type WebUser } from './user.js';
import { PATCH_RENDER } from '../live/live-socket.js';
import { TEMPLATES_PATH, TEMPLATES_ROUTE, TEMPLATES_SCRIPT } from '../live/template-script.js';
import { Assets, IMMUTABLE, REVALIDATE } from './assets.js';
import { HashingBusy } from './password-gate.js';

declare module 'express-session' {
  interface SessionData {
    userId?: string;
    flash?: { kind: 'info' | 'error'; message: string };
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VIEWS_DIR = join(root, 'views');
const PUBLIC_DIR = join(root, 'public');
const HTMX_DIR = join(root, 'node_modules', 'htmx.org', 'dist');
/** htmx and its socket extension, by their addresses under /static. */
const VENDOR = {
  '/vendor/htmx.min.js': join(HTMX_DIR, 'htmx.min.js'),
  '/vendor/hx-ws.min.js': join(HTMX_DIR, 'ext', 'hx-ws.min.js'),
};
/** The files of public/ that pages name (views/partials/head.ejs). */
const PAGE_FILES = ['/css/minotaur.css', '/favicon.svg', '/js/live-render.js', '/js/minotaur.js'];
/** A game page's live socket, and its game code (validated again by the route). */
const GAME_LIVE_PATH = /^\/games\/([A-Za-z]{4})\/live$/;

/** The game whose live socket an upgrade's URL asks for, if it is one. */
function liveGameOf(url: string | undefined): string | undefined {
  return GAME_LIVE_PATH.exec((url ?? '').split('?')[0] ?? '')?.[1]?.toUpperCase();
}

export interface WebServer {
  app: express.Express;
  server: Server;
  /** The HTTP requests being answered (upgraded sockets are not requests any more). */
  requests: RequestsInProgress;
}

/**
 * Counts the requests a server is answering, so that a stopping node can keep listening (its
 * health check answering 503) until they are answered.
 */
export class RequestsInProgress {
  #count = 0;
  #waiters = new Set<() => void>();

  constructor(server: Server) {
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.#count++;
      res.once('close', () => {
        this.#count--;
        if (this.#count > 0) return;
        for (const wake of this.#waiters) wake();
        this.#waiters.clear();
      });
    });
  }

  /** True once no request is in progress, false if some still are after `ms`. */
  settled(ms: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, ms);
      this.#waiters.add(wake);
    });
  }
}

/**
 * A win rate as the profile and the leaderboard show it, in whole percent: rounded, except that
 * only a player who won every game reads 100 % and only one who won none reads 0 % (199 wins of
 * 200 read 99 %, not 100 %).
 */
export function winRate(won: number, played: number): string {
  if (played <= 0) return '—';
  const percent = Math.round((won / played) * 100);
  const shown = won === played ? 100 : won === 0 ? 0 : Math.min(99, Math.max(1, percent));
  return `${shown}%`;
}

/**
 * A form field's `aria-describedby` attribute naming the elements that explain it (its rules, the
 * form's error), or nothing when none applies; falsy ids are skipped. Ids are the views' own.
 */
export function describedBy(ids: readonly (string | false | null | undefined)[]): string {
  const named = ids.filter((id): id is string => Boolean(id));
  return named.length ? ` aria-describedby="${named.join(' ')}"` : '';
}

export function createWebServer(deps: WebDeps): WebServer {
  const { config, logger } = deps;
  const app = express();
  // The tree messages this release's pages read (live-socket.ts), in their live sockets' URLs:
  // the same for every page, so set once.
  app.locals.liveRender = PATCH_RENDER;
  // The release's template table, a script every page loads (template-script.ts).
  app.locals.templatesPath = TEMPLATES_PATH;
  // The addresses of the other files every page loads, each naming its version (assets.ts).
  const assets = new Assets(
    { ...VENDOR, ...Object.fromEntries(PAGE_FILES.map((f) => [f, join(PUBLIC_DIR, f)])) },
    config.env !== 'development',
  );
  app.locals.asset = (path: string): string => assets.url(path);
  app.locals.winRate = winRate;
  app.locals.describedBy = describedBy;
  const server = createServer(app);
  const requests = new RequestsInProgress(server);
  // Longer than load balancers' idle timeouts, so they never reuse a connection the node is
  // closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const { lifecycle, mesh } = deps;

  // Two WebSocket servers on one port, chosen by path before the handshake: the mesh accepts
  // whole game records (its own server, with its own frame limit), a player's page never needs
  // more than a few KiB, and ws enforces its frame limit per server (an over-size frame closes
  // the socket with 1009 before it is buffered). express-ws's server is attached to a server
  // that never listens; the real one hands it only the player paths.
  const live = expressWs(app, createServer(), {
    wsOptions: {
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: deflateOptions(config.liveCompression),
      verifyClient: (
        info: { origin: string; req: IncomingMessage },
        done: (ok: boolean, code?: number, message?: string) => void,
      ) => {
        const path = (info.req.url ?? '').split('?')[0];
        // Draining or still joining: refuse before the handshake. A load balancer retries the
        // upgrade on another node, and a browser reconnects (htmx treats 1006 as retryable).
        const state = lifecycle.state;
        if (state !== 'ready') {
          deps.metrics.wsRejected.inc({
            reason: state === 'draining' || state === 'stopped' ? 'draining' : 'not-ready',
          });
          return done(false, 503, 'Service Unavailable');
        }
        if (!originAllowed(info.origin, info.req.headers.host, config.allowedOrigins)) {
          deps.metrics.wsRejected.inc({ reason: 'origin' });
          logger.warn(
            { origin: info.origin || null, path },
            'refused a WebSocket upgrade from a foreign origin',
          );
          return done(false, 403, 'Origin not allowed');
        }
        // A game run on a node alive beyond a network cut: this node could show none of its
        // moves. The load balancer retries the upgrade on another node (503), one that reaches
        // the game's owner.
        const game = liveGameOf(info.req.url);
        if (game === undefined) return done(true);
        deps.games.ownerBeyondCut(game).then(
          (beyond) => {
            if (!beyond) return done(true);
            deps.metrics.wsRejected.inc({ reason: 'owner-beyond-cut' });
            done(false, 503, 'Service Unavailable');
          },
          () => done(true),
        );
      },
    },
  });
  const players = live.getWss();
  // The handshake's answer names the game when this node runs it (see RUNS_HEADER).
  players.on('headers', (headers: string[], req: IncomingMessage) => {
    const code = liveGameOf(req.url);
    if (code !== undefined && deps.games.runsHere(code)) headers.push(`${RUNS_HEADER}: ${code}`);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (mesh && path === mesh.path) return mesh.handleUpgrade(req, socket, head);
    players.handleUpgrade(req, socket, head, (ws) => {
      // ws emits 'error' for a malformed frame, then closes the socket; an error with no
      // listener would throw and stop the process. A route adds its own listener once it takes
      // the socket; this one hears what comes before (the session is still being read) and
      // after a route refused it.
      ws.on('error', (err: Error) => logger.debug({ err: err.message }, 'player socket error'));
      const wire = new PlayerWire(ws, config.liveCompression, MAX_FRAME_BYTES);
      holdEarlyFrames(wire);
      players.emit('connection', wire, req);
    });
  });

  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
          ...(config.cookieSecure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      hsts: config.cookieSecure,
    }),
  );

  // Scripts, styles and the template table go compressed to a browser that accepts it (about a
  // quarter of their size on a page's first visit). Pages do not: they carry the CSRF token
  // beside text a request can choose (a name, a query), which is what BREACH reads from the
  // sizes of compressed responses over TLS.
  // Brotli at quality 5: smaller than gzip for these files (htmx 13.1 against 13.4 KB) for about
  // 2.6 ms of one thread-pool thread; the library's 4 is larger than gzip. A request for a range
  // of bytes gets them as they are: the library would compress the slice under a Content-Range
  // that counts the file's own bytes.
  app.use(
    '/static',
    compression({
      brotli: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } },
      filter: (req, res) => req.headers.range === undefined && compression.filter(req, res),
    }),
  );
  // Each file for a year at the address of its version, else checked again (assets.ts).
  app.use('/static', (req, res, next) => {
    res.set('Cache-Control', assets.cacheControl(req.path, req.query.v));
    next();
  });
  for (const [path, file] of Object.entries(VENDOR))
    app.use(`/static${path}`, (_req, res) => res.sendFile(file, { cacheControl: false }));
  // Its address names its version: a browser keeps it until a release changes the templates.
  // Another release's address (a page of the other release, during a rolling update) gets this
  // node's table, which names its own version, checked again next time (template-script.ts).
  app.get(TEMPLATES_ROUTE, (req, res) => {
    res
      .type('text/javascript')
      .set('Cache-Control', req.path === TEMPLATES_PATH ? IMMUTABLE : REVALIDATE)
      .send(TEMPLATES_SCRIPT);
  });
  app.use('/static', express.static(PUBLIC_DIR, { cacheControl: false, index: false }));

  // What every page template needs, set before anything that can fail (a session store
  // that cannot reach the database still gets a proper error page).
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.locals.version = config.version;
    res.locals.nodeId = config.nodeId;
    res.locals.title = '';
    res.locals.user = null;
    res.locals.flash = null;
    res.locals.csrfToken = '';
    next();
  });

  // Operator endpoints come before sessions: health checks must be cheap and stateless.
  mountOpsRoutes(app, deps);

  // Until the database answers and is migrated there is nothing to serve: say so, briefly.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (lifecycle.state !== 'starting') {
      next();
      return;
    }
    res.status(503).set('Retry-After', '2').render('pages/error', {
      title: 'Starting',
      heading: 'Starting up',
      message: 'This server is still starting. Try again in a moment.',
      user: null,
      csrfToken: '',
    });
  });

  app.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
  // Anonymous visitors get no session row: nothing is stored for them until they sign up or
  // log in. Their forms (sign-up, log-in) are protected by a signed double-submit cookie
  // instead of a token kept in the session.
  app.use(
    session({
      name: 'minotaur.sid',
      secret: config.secretKeyBase,
      store: deps.sessionStore,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: {
        httpOnly: true,
        sameSite: 'lax',
        secure: config.cookieSecure,
        maxAge: 30 * 24 * 3600 * 1000,
      },
    }),
  );
  app.use(saveSessionBeforeAnswering(logger));

  app.use(cookieParser());

  const formToken = (req: Request): string | undefined => formField(req, '_csrf');
  // Logged-in players: the synchroniser token, kept in their session.
  const csrf = csrfSync({
    getTokenFromRequest: formToken,
    errorConfig: {
      statusCode: 403,
      message: 'Invalid or missing form token',
      code: 'EBADCSRFTOKEN',
    },
  });
  // Anonymous visitors: an HMAC-signed token in a cookie that the form must repeat.
  const anonymousCsrf = doubleCsrf({
    getSecret: () => config.secretKeyBase,
    getSessionIdentifier: () => 'anonymous',
    cookieName: config.cookieSecure ? '__Host-minotaur.csrf' : 'minotaur.csrf',
    cookieOptions: { sameSite: 'lax', path: '/', secure: config.cookieSecure, httpOnly: true },
    getCsrfTokenFromRequest: formToken,
    errorConfig: {
      statusCode: 403,
      message: 'Invalid or missing form token',
      code: 'EBADCSRFTOKEN',
    },
  });
  const signedIn = (req: Request): boolean => typeof sessionOf(req)?.userId === 'string';

  app.use(async (req: Request, res: Response, next: NextFunction) => {
    const session = sessionOf(req);
    const userId = session?.userId;
    if (session && userId) {
      const account = await deps.accounts.findById(userId);
      if (account)
        res.locals.user = {
          id: account.id,
          username: account.username,
          isAdmin: account.isAdmin,
        } satisfies WebUser;
      else delete session.userId;
    }
    if (session?.flash) {
      res.locals.flash = session.flash;
      delete session.flash;
    }
    res.locals.csrfToken = '';
    if (req.method === 'GET') {
      res.locals.csrfToken = signedIn(req)
        ? csrf.generateToken(req)
        : anonymousCsrf.generateCsrfToken(req, res);
    }
    next();
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    if (signedIn(req)) csrf.csrfSynchronisedProtection(req, res, next);
    else anonymousCsrf.doubleCsrfProtection(req, res, next);
  });

  const endedSessions = new EndedSessions(
    deps.hub,
    deps.sessionStore,
    deps.accountsChannel,
    logger,
  );
  mountAuthRoutes(app, deps, (req) => void csrf.generateToken(req, true), endedSessions);
  mountGameRoutes(live.app, deps);
  mountPlayerRoutes(app, deps);
  mountAdminJson(app, deps, (code) => deps.cluster.record(code));

  app.use((req: Request, res: Response) => {
    res.status(404).render('pages/error', {
      title: 'Not found',
      heading: 'Lost in the labyrinth',
      message: `There is nothing at ${req.path}.`,
    });
  });

  app.use(
    (
      err: Error & { code?: string; status?: number; statusCode?: number },
      req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      if (err.code === 'EBADCSRFTOKEN') {
        logger.info({ path: req.path }, 'refused a form post without a valid CSRF token');
        res.status(403).render('pages/error', {
          title: 'Form expired',
          heading: 'That form has expired',
          message:
            'The form was missing its security token or it had expired. Go back, reload the page and try again.',
          user: currentUser(res),
          // The session's own token, so that this page's Log out works (a form from another tab,
          // made before a login or a password change gave the session a new one, lands here).
          csrfToken: signedIn(req) ? csrf.generateToken(req) : '',
        });
        return;
      }
      if (err instanceof HashingBusy && !res.headersSent) {
        deps.metrics.rateLimited.inc({ limit: 'hashing' });
        logger.debug({ path: req.path }, 'refused a password check: too many waiting');
        tryAgain(
          res,
          'Busy for a moment',
          'Many people are logging in right now. Go back and try again in a few seconds.',
        );
        return;
      }
      // The database cannot be reached: a passing outage, not a bug (games go on from memory).
      // The outage itself is logged once by the storage layer, not once per request.
      const unreachable = outageClass(err) !== null;
      if (res.headersSent) {
        // Too late for a page (a store write that failed after the answer went out).
        logger.debug({ err: err.message, path: req.path }, 'error after the response was sent');
        return;
      }
      const status = unreachable ? 503 : (err.status ?? err.statusCode ?? 500);
      if (unreachable) {
        logger.debug({ err: err.message, path: req.path }, 'request failed: database unreachable');
        tryAgain(
          res,
          'Back in a moment',
          'We cannot reach our records right now. Running games go on; try this page again in a moment.',
        );
        return;
      }
      if (status >= 500) logger.error({ err, path: req.path }, 'request failed');
      res.status(status).render('pages/error', {
        title: 'Error',
        heading:
          status === 413 ? 'Too much' : status < 500 ? 'That did not work' : 'Something went wrong',
        message:
          status === 413
            ? 'That request was too large.'
            : status < 500
              ? 'The request was not understood.'
              : 'We could not finish that request. Please try again.',
        user: currentUser(res),
        csrfToken: '',
      });
    },
  );

  app.set('view engine', 'ejs');
  app.set('views', VIEWS_DIR);
  app.engine('ejs', (path: string, options: object, cb: (e: unknown, s?: string) => void) => {
    try {
      const name = path.slice(VIEWS_DIR.length + 1).replace(/\.ejs$/, '');
      cb(null, deps.renderer.render(name, options as Record<string, unknown>));
    } catch (e) {
      cb(e);
    }
  });

  watchSessions(endedSessions, config.sessionCheckMs, server);
  return { app, server, requests };
}

/** Every SESSION_CHECK_MS: this node's pages of ended sessions reconnect (ended-sessions.ts). */
function watchSessions(ended: EndedSessions, checkMs: number, server: Server): void {
  const timer = setInterval(() => void ended.check(), checkMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));
}

/** A passing refusal: 503, come back in five seconds. */
function tryAgain(res: Response, heading: string, message: string): void {
  res
    .status(503)
    .set('Retry-After', '5')
    .render('pages/error', {
      title: 'Try again',
      heading,
      message,
      user: currentUser(res),
      csrfToken: '',
    });
}
