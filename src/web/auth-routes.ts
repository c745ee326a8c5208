// Sign up, log in, log out (here, or on every other device), change the password. Passwords
// are hashed with scrypt (db/passwords) and hashed again at a login that finds them below the
// configured cost; login attempts are rate-limited per address and username, password changes
// per account; a session id is regenerated on login and on a password change, which also ends
// the account's other sessions.

import type { Express, NextFunction, Request, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { usernameKey, type Account } from '../db/accounts.js';
import type { WebDeps } from './deps.js';
import type { EndedSessions } from './ended-sessions.js';
import { passwordChecksPerAddress } from './password-gate.js';
import { formField } from './request.js';
import { SharedRateStore } from './shared-rate-store.js';
import { currentUser, type WebUser } from './user.js';

// A new name must already be in its normal form (no surrounding spaces, no full-width or
// compatibility letters): what the player typed is exactly what others see, and the
// account is found by its usernameKey however the name is typed at login.
const username = z
  .string({ error: 'Choose a username.' })
  .refine(
    (n) => n === n.normalize('NFKC').trim(),
    'Usernames cannot start or end with spaces or use special forms of letters.',
  )
  .pipe(
    z
      .string()
      .min(3, 'Usernames need at least 3 characters.')
      .max(20, 'Usernames can have at most 20 characters.')
      .regex(/^[A-Za-z0-9_-]+$/, 'Usernames may use letters, digits, - and _ only.'),
  );

const newPassword = z
  .string({ error: 'Choose a password.' })
  .min(8, 'Passwords need at least 8 characters.')
  .max(128, 'Passwords can have at most 128 characters.');

const signupForm = z.object({ username, password: newPassword });

const passwordForm = z
  .object({
    current: z
      .string({ error: 'Enter your current password.' })
      .min(1, 'Enter your current password.')
      .max(128, 'That is not your current password.'),
    password: newPassword,
    again: z
      .string({ error: 'Enter the new password a second time.' })
      .max(128, 'The new password and its repetition differ.'),
  })
  .refine((f) => f.again === f.password, 'The new password and its repetition differ.');

const loginForm = z.object({
  username: z
    .string({ error: 'Enter your username.' })
    .transform(usernameKey)
    .pipe(z.string().min(1, 'Enter your username.').max(64, 'Wrong username or password.')),
  password: z
    .string({ error: 'Enter your password.' })
    .min(1, 'Enter your password.')
    .max(128, 'Wrong username or password.'),
});

export function requireUser(req: Request, res: Response, next: NextFunction): void {
  if (currentUser(res)) {
    next();
    return;
  }
  if (req.method === 'GET') {
    res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  res.status(401).render('pages/error', {
    title: 'Log in',
    heading: 'Please log in',
    message: 'You need to be logged in to do that.',
  });
}

/**
 * The login or sign-up form again, refused with `error`: it keeps the name typed (at most 20
 * characters) and where the player was going (an invite's game).
 */
function refusedForm(
  req: Request,
  res: Response,
  status: number,
  mode: 'login' | 'signup',
  error: string,
): void {
  res.status(status).render('pages/auth', {
    title: mode === 'login' ? 'Log in' : 'Sign up',
    mode,
    error,
    username: (formField(req, 'username') ?? '').slice(0, 20),
    next: safeNext(req.query.next),
    csrfToken: req.csrfToken?.() ?? '',
  });
}

function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/[A-Za-z0-9/_-]*$/.test(value) && !value.startsWith('//')
    ? value
    : '/lobby';
}

/** Saves the session now (the login's), rather than as the answer goes. */
function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.save((err: unknown) => {
      if (err)
        reject(
          err instanceof Error ? err : new Error('could not save the session', { cause: err }),
        );
      else resolve();
    }),
  );
}

/**
 * Takes the request's session away: express-session then neither saves it nor sets its cookie
 * (a regenerated one, even empty, would be both), and nothing is left for the answer to wait on
 * (session-saved.ts).
 */
function forgetSession(req: Request): void {
  Reflect.deleteProperty(req, 'session');
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.regenerate((err: unknown) => {
      if (err)
        reject(
          err instanceof Error
            ? err
            : new Error('could not regenerate the session', { cause: err }),
        );
      else resolve();
    }),
  );
}

/**
 * Makes the logged-in session's form token. Called at login, in the same save as the login:
 * made lazily instead, by the first page the session loaded, pages loaded at once (several
 * tabs, right after logging in) would each make one and the last save would win, so a form
 * from the other pages would be refused as expired.
 */
export type IssueFormToken = (req: Request) => void;

/** Failed logins one address may make in 15 minutes, in multiples of LOGIN_RATE_LIMIT. */
export const ADDRESS_LOGINS_PER_NAME = 5;

export function mountAuthRoutes(
  app: Express,
  deps: WebDeps,
  issueFormToken: IssueFormToken,
  endedSessions: EndedSessions,
): void {
  const { accounts, passwords, logger, metrics, config, sessionStore } = deps;
  // Counted in the database every node shares: a limit holds across the cluster.
  const shared = { counters: deps.rateCounters, logger, now: () => deps.now() };

  const tooManyLogins =
    (limit: 'login' | 'login-address') =>
    (req: Request, res: Response): void => {
      metrics.rateLimited.inc({ limit });
      logger.warn({ ip: req.ip, limit }, 'login rate limit reached');
      refusedForm(
        req,
        res,
        429,
        'login',
        'Too many failed attempts. Wait a few minutes and try again.',
      );
    };
  const loginLimiter = rateLimit({
    store: new SharedRateStore('login:', shared),
    windowMs: 15 * 60 * 1000,
    limit: config.loginRateLimit,
    skipSuccessfulRequests: true,
    // Only a wrong name or password counts: not a login the node could not finish (503: a
    // full hashing queue, a session it could not save, a database away), nor one refused here.
    requestWasSuccessful: (_req, res) => res.statusCode !== 401 && res.statusCode !== 429,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // The client's address (the real one behind a trusted proxy, see TRUST_PROXY) and the
    // account the attempt is for, in the form login looks it up by: padding or re-casing the
    // name reaches the same account and so the same counter.
    keyGenerator: (req) =>
      `${ipKeyGenerator(req.ip ?? '')}|${usernameKey((formField(req, 'username') ?? '').slice(0, 256)).slice(0, 64)}`,
    handler: tooManyLogins('login'),
  });
  // And per address alone, whatever the name: a new name at each try (guessing one password
  // over many accounts, or only making the node hash) is not a new counter. Five times the
  // limit of one name, for the players who share an address (a school, a carrier's NAT).
  const loginAddressLimiter = rateLimit({
    store: new SharedRateStore('login-address:', shared),
    windowMs: 15 * 60 * 1000,
    limit: config.loginRateLimit * ADDRESS_LOGINS_PER_NAME,
    skipSuccessfulRequests: true,
    // Only a wrong name or password counts: not a login the node could not finish (503: a
    // full hashing queue, a session it could not save, a database away), nor one refused here.
    requestWasSuccessful: (_req, res) => res.statusCode !== 401 && res.statusCode !== 429,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    handler: tooManyLogins('login-address'),
  });

  // On each node, at most PASSWORD_CHECKS_PER_ADDRESS (by default a quarter of the password
  // checks' queue) from one address at a time.
  const checksPerAddress = passwordChecksPerAddress(config.passwordChecksPerAddress);

  const signupLimiter = rateLimit({
    store: new SharedRateStore('signup:', shared),
    windowMs: 60 * 60 * 1000,
    limit: Math.max(config.loginRateLimit * 3, 20),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) => {
      metrics.rateLimited.inc({ limit: 'signup' });
      refusedForm(req, res, 429, 'signup', 'Too many sign-ups from your address. Try again later.');
    },
  });

  app.get('/', (_req, res) => res.render('pages/home', { title: '' }));

  // Sent from a game that takes no more heroes (game-routes.ts): its invitation is to watch.
  app.use(['/login', '/signup'], (req, res, next) => {
    res.locals.watch = req.query.watch === '1';
    next();
  });

  app.get('/signup', (req, res) => {
    const next = safeNext(req.query.next);
    if (currentUser(res)) {
      res.redirect(next);
      return;
    }
    res.render('pages/auth', { title: 'Sign up', mode: 'signup', error: null, username: '', next });
  });

  app.post('/signup', checksPerAddress, signupLimiter, async (req, res, next) => {
    try {
      const parsed = signupForm.safeParse(req.body ?? {});
      const again = (status: number, error: string) =>
        refusedForm(req, res, status, 'signup', error);
      if (!parsed.success) {
        again(422, parsed.error.issues[0]?.message ?? 'Check the form.');
        return;
      }
      const hash = await passwords.hash(parsed.data.password);
      const created = await accounts.create(parsed.data.username, hash);
      if (!created.ok) {
        if (created.code === 'taken') again(409, 'That username is taken. Pick another.');
        else again(422, 'Usernames may use letters, digits, - and _ only.');
        return;
      }
      logger.info({ user: created.account.username }, 'account created');
      try {
        await regenerate(req);
        req.session.userId = created.account.id;
        issueFormToken(req);
        await saveSession(req);
      } catch (err) {
        // The account is stored: a page that said "try again" would send the player back to a
        // form that now answers that the name is taken. No session is kept: the browser is
        // as it was before the form, logged out.
        forgetSession(req);
        logger.error(
          { err, user: created.account.username },
          'account created, but its session could not be saved',
        );
        res
          .status(503)
          .set('Retry-After', '5')
          .render('pages/error', {
            title: 'Account created',
            heading: 'Account created',
            message: `Your account ${created.account.username} is created, but we could not log you in just now. Log in with it in a moment.`,
            user: null,
            action: {
              href: `/login?next=${encodeURIComponent(safeNext(req.query.next))}`,
              label: 'Log in',
            },
          });
        return;
      }
      res.redirect(303, safeNext(req.query.next));
    } catch (e) {
      next(e);
    }
  });

  app.get('/login', (req, res) => {
    if (currentUser(res)) {
      res.redirect(safeNext(req.query.next));
      return;
    }
    // A page whose live socket found its session ended (public/js/minotaur.js) comes here.
    if (req.query.ended === '1')
      res.locals.flash = {
        kind: 'info',
        message: 'Your session has ended. Log in to go back to where you were.',
      };
    res.render('pages/auth', {
      title: 'Log in',
      mode: 'login',
      error: null,
      username: '',
      next: safeNext(req.query.next),
      ended: req.query.ended === '1',
    });
  });

  app.post(
    '/login',
    checksPerAddress,
    loginAddressLimiter,
    loginLimiter,
    async (req, res, next) => {
      try {
        const parsed = loginForm.safeParse(req.body ?? {});
        const fail = (error: string) => {
          metrics.loginFailures.inc();
          refusedForm(req, res, 401, 'login', error);
        };
        if (!parsed.success) {
          fail(parsed.error.issues[0]?.message ?? 'Check the form.');
          return;
        }
        const account = await accounts.findByUsername(parsed.data.username);
        // Unknown usernames cost the same time as wrong passwords, so timing reveals nothing.
        const ok = account
          ? await passwords.verify(parsed.data.password, account.passwordHash)
          : await passwords.dummyVerify(parsed.data.password);
        if (!account || !ok) {
          fail('Wrong username or password.');
          return;
        }
        const stored = passwords.needsRehash(account.passwordHash)
          ? await rehash(account, parsed.data.password)
          : account.passwordHash;
        await regenerate(req);
        req.session.userId = account.id;
        issueFormToken(req);
        // A password change that came while this login checked the old password ended every
        // session of the account it found, but not this one, saved only now: the password is read
        // again once this session is saved, and a changed one ends it (a new, empty session).
        await saveSession(req);
        if ((await accounts.findById(account.id))?.passwordHash !== stored) {
          await regenerate(req);
          fail('Your password was changed just now. Log in with the new one.');
          return;
        }
        res.redirect(303, safeNext(req.query.next));
      } catch (e) {
        next(e);
      }
    },
  );

  /**
   * Stores the password just verified at the configured cost (an operator raised
   * PASSWORD_COST), unless the hash changed meanwhile; returns the hash the account then has,
   * as far as this login knows. The login goes on either way.
   */
  async function rehash(account: Account, password: string): Promise<string> {
    try {
      const hash = await passwords.hash(password);
      if (await accounts.setPasswordHash(account.id, hash, account.passwordHash)) {
        logger.info({ user: account.username }, 'password hashed again at the configured cost');
        return hash;
      }
    } catch (err) {
      logger.warn(
        { err, user: account.username },
        'could not store the password at the configured cost; tried again at the next login',
      );
    }
    return account.passwordHash;
  }

  const passwordLimiter = rateLimit({
    store: new SharedRateStore('password:', shared),
    windowMs: 15 * 60 * 1000,
    limit: config.loginRateLimit,
    // Only a wrong current password counts (a typo in the new one is not a guess).
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Per account: whoever holds a session cannot try current passwords faster than a login could.
    keyGenerator: (req, res) => currentUser(res)?.id ?? ipKeyGenerator(req.ip ?? ''),
    handler: (req, res) => {
      metrics.rateLimited.inc({ limit: 'password' });
      logger.warn({ user: currentUser(res)?.username }, 'password change rate limit reached');
      passwordPage(req, res, 429, 'Too many wrong passwords. Wait a few minutes and try again.');
    },
  });

  function passwordPage(req: Request, res: Response, status: number, error: string | null): void {
    res.status(status).render('pages/password', {
      title: 'Change your password',
      error,
      csrfToken: req.csrfToken?.() ?? (res.locals.csrfToken as string | undefined) ?? '',
    });
  }

  app.get('/account/password', requireUser, (req, res) => passwordPage(req, res, 200, null));

  app.post(
    '/account/password',
    requireUser,
    checksPerAddress,
    passwordLimiter,
    async (req, res, next) => {
      try {
        const user = currentUser(res) as WebUser;
        const parsed = passwordForm.safeParse(req.body ?? {});
        if (!parsed.success) {
          passwordPage(req, res, 422, parsed.error.issues[0]?.message ?? 'Check the form.');
          return;
        }
        const account = await accounts.findById(user.id);
        if (!account || !(await passwords.verify(parsed.data.current, account.passwordHash))) {
          passwordPage(req, res, 401, 'That is not your current password.');
          return;
        }
        // Said only once the current password is known right (before, it told whoever held the
        // session that the password they typed twice was the current one).
        if (parsed.data.password === parsed.data.current) {
          passwordPage(req, res, 422, 'That is your current password. Choose a new one.');
          return;
        }
        const hash = await passwords.hash(parsed.data.password);
        if (!(await accounts.setPasswordHash(account.id, hash, account.passwordHash))) {
          passwordPage(
            req,
            res,
            409,
            'Your password was changed from another page meanwhile. Try again.',
          );
          return;
        }
        // A new session id for this browser; every other session of the account ends, and its
        // live pages on every node reconnect (this browser's come back with its new session, the
        // others are refused: ended-sessions.ts).
        try {
          await regenerate(req);
        } catch (err) {
          // The new password is stored: a page that only said "try again" would send the player
          // back to a form that now refuses the password they typed as current.
          logger.error(
            { err, user: account.username },
            'password changed, but the session could not be renewed',
          );
          res.status(503).set('Retry-After', '5').render('pages/error', {
            title: 'Password changed',
            heading: 'Password changed',
            message:
              'Your new password is saved, but we could not finish just now: log in with the new password if you are asked to, then use Log out other devices on your profile.',
            user: null,
          });
          return;
        }
        req.session.userId = account.id;
        issueFormToken(req);
        let ended = 0;
        try {
          ended = await sessionStore.endSessionsOf(account.id, req.sessionID);
          req.session.flash = {
            kind: 'info',
            message: ended
              ? 'Password changed. You are logged out everywhere else.'
              : 'Password changed.',
          };
        } catch (err) {
          logger.warn({ err, user: account.username }, 'could not end the other sessions');
          req.session.flash = {
            kind: 'error',
            message:
              'Password changed, but your other devices could not be logged out just now. Change it again in a few minutes to log them out.',
          };
        }
        logger.info({ user: account.username, sessionsEnded: ended }, 'password changed');
        // Once this browser has its new session cookie, so that its own pages come back with it.
        res.once('finish', () => void endedSessions.ended(account.id));
        res.redirect(303, `/players/${encodeURIComponent(account.username)}`);
      } catch (e) {
        next(e);
      }
    },
  );

  // Ending sessions writes to the shared database and sends every node a message: a few times in
  // a quarter of an hour is what a player needs; more is only load.
  const logoutOthersLimiter = rateLimit({
    store: new SharedRateStore('logout-others:', shared),
    windowMs: 15 * 60 * 1000,
    limit: config.loginRateLimit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req, res) => currentUser(res)?.id ?? ipKeyGenerator(req.ip ?? ''),
    handler: (_req, res) => {
      metrics.rateLimited.inc({ limit: 'logout-others' });
      logger.warn(
        { user: currentUser(res)?.username },
        'log out other devices: rate limit reached',
      );
      res.status(429).render('pages/error', {
        title: 'Too many tries',
        heading: 'Too many tries',
        message:
          'Your other devices were logged out a moment ago. Wait a few minutes before doing it again.',
      });
    },
  });

  // A shared computer left logged in: every other session of the account ends, and its pages
  // on every node are sent to reconnect.
  app.post('/account/logout-others', requireUser, logoutOthersLimiter, async (req, res, next) => {
    try {
      const user = currentUser(res) as WebUser;
      const ended = await sessionStore.endSessionsOf(user.id, req.sessionID);
      const reconnected = await endedSessions.ended(user.id);
      logger.info(
        { user: user.username, sessionsEnded: ended, pagesReconnected: reconnected },
        'other sessions logged out',
      );
      req.session.flash = {
        kind: 'info',
        message:
          ended === 0
            ? 'You were not logged in anywhere else.'
            : `Logged out on ${ended} other ${ended === 1 ? 'device' : 'devices'}.`,
      };
      res.redirect(303, `/players/${encodeURIComponent(user.username)}`);
    } catch (e) {
      next(e);
    }
  });

  // The browser's other pages (tabs, on any node) go to the login page too.
  app.post('/logout', (req, res, next) => {
    const account = currentUser(res)?.id;
    // A visitor who is not logged in has no session to end: ending one would store a tombstone
    // for whatever id the cookie named, one row per post.
    if (account === undefined) {
      res.clearCookie('minotaur.sid');
      res.redirect(303, '/');
      return;
    }
    const sid = req.sessionID;
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie('minotaur.sid');
      // This session's own pages on this node reconnect even if the database then cannot say.
      res.once('finish', () => void endedSessions.ended(account, [sid]));
      res.redirect(303, '/');
    });
  });
}
