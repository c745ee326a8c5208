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
// link. A database away skips a check.

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

/** Which of these sessions are still live (the shared session store). */
export type LiveSessions = (sessionIds: readonly string[]) => Promise<ReadonlySet<string>>;

export class EndedSessions {
  private running = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly live: LiveSessions,
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
   * that acts on it is told. Returns how many of this node's pages (0 when the database cannot
   * say: the periodic check comes anyway).
   */
  async ended(account: string): Promise<number> {
    for (const peer of this.channel.peers())
      if (peer.caps.includes(SESSION_NOTICES_CAPABILITY))
        this.channel.send(peer.id, { type: 'sessions-ended', account });
    return this.reconnect(account);
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

  /** This node's pages of ended sessions (of `account` only, if given) reconnect. */
  private async reconnect(account?: string, toldBy?: string): Promise<number> {
    try {
      const closed = await this.hub.closeEnded(this.live, account);
      if (closed > 0)
        this.logger.info(
          { sockets: closed, ...(toldBy !== undefined && { toldBy }) },
          `${closed} live pages of ended sessions sent to reconnect`,
        );
      return closed;
    } catch (err) {
      this.logger.debug({ err }, 'could not check the sessions of live pages; at the next check');
      return 0;
    }
  }
}
