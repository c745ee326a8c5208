// The signed-in account as the web layer keeps it for a request (res.locals.user): set by the
// session middleware in app.ts, read by every route that needs a player.

import type { Response } from 'express';

export interface WebUser {
  id: string;
  username: string;
  isAdmin: boolean;
}

/** The signed-in account of this response, or null for a visitor. */
export function currentUser(res: Response): WebUser | null {
  return (res.locals.user as WebUser | null | undefined) ?? null;
}
