// What a request carries, read as what it may really be: Express types a form body as `any`,
// and express-session leaves req.session unset while its store is disconnected (its typings
// say it is always there).

import type { Request } from 'express';

/** A field of a urlencoded form body: a string, or undefined when absent or not a string. */
export function formField(req: Request, name: string): string | undefined {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const value: unknown = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The response header naming the game a request was about when this node runs it: a load
 * balancer that learns it (deploy/haproxy.cfg, `stick store-response`) sends that game's page
 * and live socket to this node, so its actions need no hop and its pages stay on its side of a
 * network cut.
 */
export const RUNS_HEADER = 'X-Minotaur-Runs';

/** The request's session, or undefined when express-session could not load one. */
export function sessionOf(req: Request): Request['session'] | undefined {
  const session: Request['session'] | undefined = req.session;
  return session;
}
