// Answers only once the session is saved. express-session writes a response's headers before
// an asynchronous store has saved the session it changed, so a redirect after logging in could
// reach another node (or this one) before the login exists in the database.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../log.js';
import { sessionOf } from './request.js';

/** The session's data as express-session compares it (the cookie aside). */
function fingerprint(session: object): string {
  return JSON.stringify(session, function (this: unknown, key, value: unknown) {
    return this === session && key === 'cookie' ? undefined : value;
  });
}

export function saveSessionBeforeAnswering(logger: Pick<Logger, 'warn'>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const loadedId = req.sessionID;
    const atStart = sessionOf(req);
    const loaded = atStart ? fingerprint(atStart) : null;
    // The original end(), typed by what it receives here (its overloads all end in a Response).
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let saving = false;
    res.end = function (this: Response, ...args: unknown[]) {
      const session = sessionOf(req);
      // Unchanged, or a fresh session nobody wrote to (never stored): nothing to wait for.
      const changed =
        session &&
        (req.sessionID !== loadedId
          ? fingerprint(session) !== '{}'
          : fingerprint(session) !== loaded);
      if (!changed || saving || res.headersSent) return end(...args);
      saving = true;
      session.save((err?: unknown) => {
        if (err && !res.headersSent) {
          logger.warn(
            { err: err instanceof Error ? err.message : err, path: req.path },
            'could not save a session; answered 503',
          );
          res.statusCode = 503;
          for (const h of ['Location', 'Content-Length', 'Content-Type', 'ETag'])
            res.removeHeader(h);
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.setHeader('Retry-After', '5');
          end('We could not save your session. Please try again in a moment.');
          return;
        }
        end(...args);
      });
      return this;
    } as typeof res.end;
    next();
  };
}
