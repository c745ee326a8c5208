// Operator endpoints: health check (200 only when ready), Prometheus metrics, and the
// cluster views for accounts granted operator rights (npm run admin) or holders of ADMIN_TOKEN.

import { timingSafeEqual } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { ipKeyGenerator } from 'express-rate-limit';
import type { WebDeps } from './deps.js';
import { currentUser } from './user.js';

function tokenMatches(given: string | undefined, expected: string | null): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Wrong ADMIN_TOKEN bearers allowed per address per window; then every bearer is refused. */
export const TOKEN_GUESSES = 10;
const TOKEN_GUESS_WINDOW_S = 15 * 60;

function bearerOf(req: Request): string | undefined {
  const header = req.get('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

export function mountOpsRoutes(app: Express, deps: WebDeps): void {
  app.get('/health_check', (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    const state = deps.lifecycle.state;
    if (state === 'ready') res.status(200).type('text/plain').send('ok');
    else res.status(503).type('text/plain').send(state);
  });

  // At this exact path only: Express would also match /METRICS and /metrics/, which a proxy
  // rule that keeps /metrics from players (deploy/haproxy.cfg) need not know of.
  app.get('/metrics', async (req: Request, res: Response, next: NextFunction) => {
    if (req.path !== '/metrics') {
      next();
      return;
    }
    res.set('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  // Guessing the token: from an address that sent TOKEN_GUESSES wrong ones, no bearer is even
  // compared until the window has passed (the right one included, or the answer would tell).
  const guesses = new RateLimiterMemory({ points: TOKEN_GUESSES, duration: TOKEN_GUESS_WINDOW_S });
  app.use('/admin', async (req: Request, res: Response, next: NextFunction) => {
    const bearer = bearerOf(req);
    if (bearer === undefined) {
      next();
      return;
    }
    // An IPv6 client is counted by its /56, as the login limits count it: a host that holds
    // a whole network must not get ten more guesses per address it takes.
    const key = ipKeyGenerator(req.ip ?? 'unknown');
    const seen = await guesses.get(key);
    if (seen && seen.consumedPoints >= TOKEN_GUESSES) {
      deps.metrics.rateLimited.inc({ limit: 'admin-token' });
      res
        .status(429)
        .set('Retry-After', String(Math.ceil(seen.msBeforeNext / 1000)))
        .json({ error: 'too many wrong admin tokens from this address: try again later' });
      return;
    }
    if (!tokenMatches(bearer, deps.config.adminToken)) {
      await guesses.penalty(key, 1);
      // The path as the client sent it (req.path drops the /admin this is mounted on), without
      // its query string.
      deps.logger.warn({ ip: req.ip, path: req.originalUrl.split('?')[0] }, 'wrong admin token');
    }
    next();
  });

  // The cluster's JSON for the ADMIN_TOKEN bearer answers before the sessions, as health checks
  // do: from the start-up on, through a database outage. An operator's login is checked later.
  app.get('/admin/cluster.json', (req: Request, res: Response, next: NextFunction) => {
    if (adminAccess(req, deps) === 'token') clusterJson(res, deps);
    else next();
  });
}

function clusterJson(res: Response, deps: WebDeps): void {
  res.set('Cache-Control', 'no-store');
  res.json({
    node: deps.cluster.nodeId,
    state: deps.lifecycle.state,
    members: deps.cluster.members(),
    replication: deps.cluster.replication(),
    database: deps.cluster.database(),
  });
}

/**
 * The operators' JSON views for a login (the token's are answered earlier too): the cluster
 * and one game's replicated record. After the sessions, so that an operator's login opens them
 * as it opens the cluster page.
 */
export function mountAdminJson(app: Express, deps: WebDeps, read: (code: string) => unknown): void {
  app.get('/admin/cluster.json', (req: Request, res: Response) => {
    if (!adminAllowed(req, deps))
      return void res
        .status(403)
        .json({ error: 'admin only: log in as an admin or send the ADMIN_TOKEN bearer token' });
    clusterJson(res, deps);
  });

  // One game's full record (owner, epoch, seq, state). An operator's account may also be
  // playing: through a login, the moves chosen for the running round stay secret (only who has
  // chosen, and for which round); ADMIN_TOKEN, which no player holds, reads them too.
  app.get('/admin/games/:code.json', (req: Request, res: Response) => {
    const access = adminAccess(req, deps);
    if (!access) return void res.status(403).json({ error: 'admin only' });
    const code = String(req.params.code ?? '').toUpperCase();
    if (!/^[A-Z]{4}$/.test(code))
      return void res.status(400).json({ error: 'a game code is four letters' });
    const rec = read(code);
    if (!rec) return void res.status(404).json({ error: `no game ${code} in this node's replica` });
    res.set('Cache-Control', 'no-store');
    res.json(access === 'token' ? rec : withoutSecretMoves(rec));
  });
}

/** A record whose running round's chosen moves are reduced to "chosen, for round R". */
export function withoutSecretMoves(rec: unknown): unknown {
  const state = (
    rec as {
      state?: {
        status?: unknown;
        submitted?: Record<string, { round?: unknown } | null | undefined>;
      } | null;
    }
  ).state;
  if (!state || state.status !== 'playing' || !state.submitted) return rec;
  const submitted = Object.fromEntries(
    Object.entries(state.submitted).map(([player, action]) => [
      player,
      { round: action?.round, hidden: true },
    ]),
  );
  return { ...(rec as object), state: { ...state, submitted } };
}

/** Who may read operator views: the ADMIN_TOKEN bearer, an account granted rights, or nobody. */
export function adminAccess(req: Request, deps: WebDeps): 'token' | 'account' | null {
  if (tokenMatches(bearerOf(req), deps.config.adminToken)) return 'token';
  const user = req.res ? currentUser(req.res) : null;
  return user?.isAdmin ? 'account' : null;
}

export function adminAllowed(req: Request, deps: WebDeps): boolean {
  return adminAccess(req, deps) !== null;
}
