// Live pages whose session has ended. A page keeps its socket for as long as it stays open,
// while the session it was opened with can end meanwhile, on any node: a password change and
// "log out other devices" end the account's other sessions, a logout its own, an operator's
// password reset all of them. Such pages are sent to reconnect (1012), where the upgrade checks
// the browser's session again (4401 sends the page to the login).
//
// Two ways they are found. The node that ended sessions checks that account's pages at once and
// tells its peers which account it was, over the mesh; each peer checks that account's pages
// against the database the moment it hears. And every SESSION_CHECK_MS each node asks the
// database about all its pages' sessions (one query per 500), which catches what no node was
// told: an operator's reset, a peer of an older release (only peers that advertise the
// capability are told: an older one would drop the message as unknown), a notice lost with a
// link. A database away skips a check, except for the sessions a node ended itself (a logout's
// own): their pages there reconnect at once all the same.
//
// Both also drop what this node kept of ended sessions to answer while the database is away
// (db/last-known.ts), pages or not: a cookie logged out on one node must not log in on another
// for the length of an outage that follows.

import { z } from 'zod';
import type { ClusterLogger, MeshChannel } from '../cluster/types.js';
import type { LiveHub } from '../live/hub.js';

export const ACCOUNTS_CHANNEL = 'accounts';
/** Advertised in the mesh hello by nodes that act on notices of ended sessions. */
export const SESSION_NOTICES_CAPABILITY = 'session-notices';

const noticeSchema = z
  .object({
    type: z.literal('sessions-ended'),
    account: z.string().min(1).max(64),
  })
  .strict();

/** The shared session store, as far as ended sessions go. */
export interface SessionsView {
  /** Which of these sessions are still live. */
  liveOf(sessionIds: readonly string[]): Promise<ReadonlySet<string>>;
  /**
   * Drops this node's kept copies of ended sessions (of `account` only, if given); returns how
   * many.
   */
  forgetEnded(account?: string): Promise<number>;
}

export class EndedSessions {
  private running = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly sessions: SessionsView,
    private readonly channel: MeshChannel,
    private readonly logger: ClusterLogger,
  ) {
    channel.onMessage((from, body) => {
      const parsed = noticeSchema.safeParse(body);
      if (!parsed.success) {
        logger.warn(
          { peer: from, issue: parsed.error.issues[0]?.message },
          'dropped an invalid notice of ended sessions',
        );
        return;
      }
      void this.reconnect(parsed.data.account, from);
    });
  }

  /**
   * Sessions of `account` ended here: this node's pages of them reconnect now, and every peer
   * that acts on it is told. `endedHere` names sessions known to have ended (a logout's own):
   * their pages reconnect whatever the database answers, even nothing. Returns how many of this
   * node's pages (0 when the database cannot say and none is known: the periodic check comes
   * anyway).
   */
  async ended(account: string, endedHere: readonly string[] = []): Promise<number> {
    for (const peer of this.channel.peers())
      if (peer.caps.includes(SESSION_NOTICES_CAPABILITY))
        this.channel.send(peer.id, { type: 'sessions-ended', account });
    return this.reconnect(account, undefined, endedHere);
  }

  /** The periodic check: every open page whose session ended reconnects. Returns how many. */
  async check(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      return await this.reconnect();
    } finally {
      this.running = false;
    }
  }

  /**
   * This node's pages of ended sessions (of `account` only, if given) reconnect, and what it
   * kept of those sessions is dropped.
   */
  private async reconnect(
    account?: string,
    toldBy?: string,
    endedHere: readonly string[] = [],
  ): Promise<number> {
    const by = toldBy !== undefined && { toldBy };
    try {
      const forgotten = await this.sessions.forgetEnded(account);
      if (forgotten > 0)
        this.logger.info(
          { forgotten, ...by },
          `dropped this node's copies of ${forgotten} ended sessions`,
        );
    } catch (err) {
      this.logger.debug({ err }, 'could not check the kept sessions; at the next check');
    }
    const known = new Set(endedHere);
    const live = async (sids: readonly string[]): Promise<ReadonlySet<string>> => {
      try {
        const alive = new Set(await this.sessions.liveOf(sids));
        for (const sid of known) alive.delete(sid);
        return alive;
      } catch (err) {
        if (known.size === 0) throw err;
        this.logger.debug({ err }, 'could not check the sessions of live pages; at the next check');
        return new Set(sids.filter((sid) => !known.has(sid)));
      }
    };
    try {
      const closed = await this.hub.closeEnded(live, account);
      if (closed > 0)
        this.logger.info(
          { sockets: closed, ...by },
          `${closed} live pages of ended sessions sent to reconnect`,
        );
      return closed;
    } catch (err) {
      this.logger.debug({ err }, 'could not check the sessions of live pages; at the next check');
      return 0;
    }
  }
}
