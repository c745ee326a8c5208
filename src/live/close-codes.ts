// Why the server closes a player's live socket, as WebSocket close codes: the one list the
// live sockets, the routes that refuse them and the drain use. The page reconnects on 1011 and
// 1012 only; every other code here means "do not retry" (htmx does not reconnect on 1008, 1009
// or the application range 4000–4999).

export const LiveClose = {
  /** Policy violation: a flood of frames, or of invalid messages. A page never does either. */
  policy: 1008,
  /** A frame over MAX_FRAME_BYTES: ws closes with it before the frame is buffered. */
  tooBig: 1009,
  /** Service Restart: the node is draining, or the game runs elsewhere now. Reconnect. */
  restart: 1012,
  /** The server could not open the page's game (an error it logged): the page reconnects. */
  serverError: 1011,
  /** No session on the upgrade: log in first (the page goes to the login). */
  unauthorised: 4401,
  /** No such game. */
  notFound: 4404,
  /** The account opened more live pages than it may hold; its oldest is closed. */
  tooManySockets: 4429,
} as const;

/**
 * The reason sent with `restart` to a page that saw more of the game than this node's copy holds
 * (src/sessions/seen.ts): the page comes back shortly, to this node or another.
 */
export const BEHIND_REASON = 'catching up with the game';
