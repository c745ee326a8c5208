// The signed-in account as the web layer keeps it for a request (res.locals.user): set by the
// session middleware in app.ts, read by every route that needs a player.

export interface WebUser {
  id: string;
  username: string;
  isAdmin: boolean;
}
