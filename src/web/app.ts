// The HTTP and WebSocket front door: security middleware, sessions, CSRF, static files and
// the route groups. Knows nothing about clusters beyond what WebDeps hands it.

import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import expressWs from 'express-ws';
import session from 'express-session';
import helmet from 'helmet';
import { csrfSync } from 'csrf-sync';
import type { WebDeps } from './deps.js';
import { mountAuthRoutes } from './auth-routes.js';
import { mountGameRoutes } from './game-routes.js';
import { mountPlayerRoutes } from './player-routes.js';
import { mountGameInspector, mountOpsRoutes } from './ops-routes.js';
import { originAllowed } from './origin.js';

declare module 'express-session' {
  interface SessionData {
    userId?: string;
    flash?: { kind: 'info' | 'error'; message: string };
  }
}

export interface WebUser {
  id: string;
  username: string;
  isAdmin: boolean;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VIEWS_DIR = join(root, 'views');
const PUBLIC_DIR = join(root, 'public');
const HTMX_DIR = join(root, 'node_modules', 'htmx.org', 'dist');

export interface WebServer {
  app: express.Express;
  server: Server;
}

export function createWebServer(deps: WebDeps): WebServer {
  const { config, logger } = deps;
  const app = express();
  const server = createServer(app);
  // Longer than load balancers' idle timeouts, so they never reuse a connection the node is closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const meshPath = deps.meshPath ?? '/_cluster/mesh';

  expressWs(app as never, server, {
    wsOptions: {
      // Mesh messages carry whole game records; player messages are limited again in the live layer.
      maxPayload: 1024 * 1024,
      verifyClient: (info: { origin: string; req: import('node:http').IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
        const path = (info.req.url ?? '').split('?')[0];
        if (path === meshPath) return done(true);
        // Draining or still joining: refuse before the handshake. A load balancer retries the
        // upgrade on another node, and a browser reconnects (htmx treats 1006 as retryable).
        if (!deps.isReady()) {
          deps.metrics.wsRejected.inc({ reason: deps.isDraining() ? 'draining' : 'not-ready' });
          return done(false, 503, 'Service Unavailable');
        }
        if (!originAllowed(info.origin, info.req.headers.host, config.allowedOrigins)) {
          deps.metrics.wsRejected.inc({ reason: 'origin' });
          logger.warn({ origin: info.origin || null, path }, 'refused a WebSocket upgrade from a foreign origin');
          return done(false, 403, 'Origin not allowed');
        }
        done(true);
      },
    } as never,
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

  app.use('/static/vendor/htmx.min.js', (_req, res) => res.sendFile(join(HTMX_DIR, 'htmx.min.js'), { maxAge: '1d' }));
  app.use('/static/vendor/hx-ws.min.js', (_req, res) => res.sendFile(join(HTMX_DIR, 'ext', 'hx-ws.min.js'), { maxAge: '1d' }));
  app.use('/static', express.static(PUBLIC_DIR, { maxAge: '1h', index: false }));

  // Operator endpoints come before sessions: health checks must be cheap and stateless.
  mountOpsRoutes(app, deps);

  app.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
  app.use(
    session({
      name: 'minotaur.sid',
      secret: config.secretKeyBase,
      store: deps.sessionStore,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, maxAge: 30 * 24 * 3600 * 1000 },
    }),
  );

  const csrf = csrfSync({
    getTokenFromRequest: (req) => (req.body && typeof req.body._csrf === 'string' ? req.body._csrf : undefined),
    errorConfig: { statusCode: 403, message: 'Invalid or missing form token', code: 'EBADCSRFTOKEN' },
  });

  app.use(async (req: Request, res: Response, next: NextFunction) => {
    res.locals.version = config.version;
    res.locals.nodeId = config.nodeId;
    res.locals.title = '';
    res.locals.user = null;
    res.locals.flash = null;
    const userId = req.session?.userId;
    if (userId) {
      const account = deps.accounts.findById(userId);
      if (account) res.locals.user = { id: account.id, username: account.username, isAdmin: account.isAdmin || config.adminUsers.includes(account.username.toLowerCase()) } satisfies WebUser;
      else delete req.session.userId;
    }
    if (req.session?.flash) {
      res.locals.flash = req.session.flash;
      delete req.session.flash;
    }
    res.locals.csrfToken = req.method === 'GET' && req.session ? csrf.generateToken(req) : '';
    next();
  });

  app.use(csrf.csrfSynchronisedProtection);

  mountAuthRoutes(app, deps);
  mountGameRoutes(app as unknown as expressWs.Application, deps);
  mountPlayerRoutes(app, deps);
  mountGameInspector(app, deps, (code) => deps.cluster.record(code));

  if (deps.acceptMesh) {
    const accept = deps.acceptMesh;
    (app as unknown as expressWs.Application).ws(meshPath, (ws, req) => accept(ws as never, req));
  }

  app.use((req: Request, res: Response) => {
    res.status(404).render('pages/error', { title: 'Not found', heading: 'Lost in the labyrinth', message: `There is nothing at ${req.path}.` });
  });

  app.use((err: Error & { code?: string; status?: number; statusCode?: number }, req: Request, res: Response, _next: NextFunction) => {
    if (err.code === 'EBADCSRFTOKEN') {
      logger.info({ path: req.path }, 'refused a form post without a valid CSRF token');
      res.status(403).render('pages/error', {
        title: 'Form expired',
        heading: 'That form has expired',
        message: 'The form was missing its security token or it had expired. Go back, reload the page and try again.',
        user: res.locals.user ?? null,
        csrfToken: '',
      });
      return;
    }
    const status = err.status ?? err.statusCode ?? 500;
    if (status >= 500) logger.error({ err, path: req.path }, 'request failed');
    res.status(status).render('pages/error', {
      title: 'Error',
      heading: status === 413 ? 'Too much' : status < 500 ? 'That did not work' : 'Something went wrong',
      message: status === 413 ? 'That request was too large.' : status < 500 ? 'The request was not understood.' : 'We could not finish that request. Please try again.',
      user: res.locals.user ?? null,
      csrfToken: '',
    });
  });

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

  return { app, server };
}
