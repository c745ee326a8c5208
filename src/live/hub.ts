// Keeps track of this node's open live sockets so a draining node can close them, in
// rounds, with 1012 (Service Restart) — the code that makes htmx reconnect elsewhere —, so
// the pages of a game run beyond a network cut can reconnect to a node that reaches it, so
// one account cannot hold more than its share of them, and so a page whose session has ended
// (a password change, a logout elsewhere) goes through the upgrade's login check again.

import { LiveClose } from './close-codes.js';

export interface Closable {
  close(code: number, reason: string): void;
  readonly isClosed: boolean;
  /** The account whose page this is, when the socket counts against a per-account cap. */
  readonly account?: string;
  /** The game the page shows, for a game's page. */
  readonly code?: string;
}

export class LiveHub {
  private readonly sockets = new Set<Closable>();
  /** Each account's sockets, oldest first (a reconnect wave admits thousands at once). */
  private readonly byAccount = new Map<string, Set<Closable>>();
  /** The session each socket was opened with. */
  private readonly sessionOf = new WeakMap<Closable, string>();

  add(socket: Closable): void {
    this.sockets.add(socket);
  }

  /**
   * Adds a socket of an account that may hold at most `cap` open on this node; past the cap
   * its oldest sockets are closed (4429), so the page the player just opened is the one that
   * works. Returns how many were closed.
   */
  admit(socket: Closable & { account: string }, cap: number, sessionId?: string): number {
    this.add(socket);
    if (sessionId !== undefined) this.sessionOf.set(socket, sessionId);
    let mine = this.byAccount.get(socket.account);
    if (!mine) this.byAccount.set(socket.account, (mine = new Set()));
    mine.add(socket);
    for (const s of mine) if (s.isClosed) mine.delete(s);
    let closed = 0;
    for (const s of mine) {
      if (mine.size <= cap) break;
      s.close(LiveClose.tooManySockets, `too many open pages (at most ${cap})`);
      this.remove(s);
      closed++;
    }
    return closed;
  }

  remove(socket: Closable): void {
    this.sockets.delete(socket);
    if (socket.account === undefined) return;
    const mine = this.byAccount.get(socket.account);
    if (!mine?.delete(socket) || mine.size > 0) return;
    this.byAccount.delete(socket.account);
  }

  get size(): number {
    for (const s of this.sockets) if (s.isClosed) this.remove(s);
    return this.sockets.size;
  }

  /**
   * Closes with 1012 the sockets whose session `live` does not name any more (asked once, for
   * every session of the open sockets): each page reconnects, and its upgrade is refused (4401)
   * unless the browser holds a live session by then (the new one of a password change does).
   * With `account`, only that account's sockets are looked at. Returns how many were closed.
   */
  async closeEnded(
    live: (sessionIds: readonly string[]) => Promise<ReadonlySet<string>>,
    account?: string,
  ): Promise<number> {
    const bySession = new Map<string, Closable[]>();
    for (const s of this.sockets) {
      const sid = this.sessionOf.get(s);
      if (sid === undefined || s.isClosed) continue;
      if (account !== undefined && s.account !== account) continue;
      const list = bySession.get(sid);
      if (list) list.push(s);
      else bySession.set(sid, [s]);
    }
    if (bySession.size === 0) return 0;
    const alive = await live([...bySession.keys()]);
    let closed = 0;
    for (const [sid, sockets] of bySession) {
      if (alive.has(sid)) continue;
      for (const s of sockets) {
        if (s.isClosed) continue;
        s.close(LiveClose.restart, 'session ended');
        this.remove(s);
        closed++;
      }
    }
    return closed;
  }

  /** Closes the pages of these games with 1012, so that they reconnect; returns how many. */
  closeGames(codes: ReadonlySet<string>, reason: string): number {
    let closed = 0;
    for (const s of this.sockets) {
      if (s.code === undefined || !codes.has(s.code)) continue;
      this.remove(s);
      if (s.isClosed) continue;
      s.close(LiveClose.restart, reason);
      closed++;
    }
    return closed;
  }

  /**
   * Closes every socket with 1012, `batch` at a time with `pauseMs` between batches, so the
   * reconnect wave does not land on the surviving nodes all in the same millisecond.
   */
  async closeAll(batch = 200, pauseMs = 20, reason = 'node restarting'): Promise<number> {
    let closed = 0;
    const all = [...this.sockets];
    for (let i = 0; i < all.length; i += batch) {
      for (const s of all.slice(i, i + batch)) {
        s.close(LiveClose.restart, reason);
        this.remove(s);
        closed++;
      }
      if (i + batch < all.length) await new Promise((r) => setTimeout(r, pauseMs));
    }
    return closed;
  }
}
