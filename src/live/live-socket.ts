// What every live page socket shares: a subscription to store changes, coalesced renders,
// what the page holds (for diffing), and closing exactly once.
//
// Two wire formats. 'patch' (pages of this release ask for it: ?render=PATCH_RENDER): the trees
// of the partials, each template's fixed text sent once, then only what changed (patch.ts; the
// page rebuilds the HTML). 'html' (pages of an earlier release, scripts): every changed partial
// as a whole htmx 4 <hx-partial>.

import { diffPartials, partialsMessage, type Partials } from './diff.js';
import { LiveClose } from './close-codes.js';
import { pageHtml, Rendered, toHtml, type Dyn } from './html.js';
import {
  newPatchState,
  owedFor,
  patch,
  renderMessage,
  type PatchMessage,
  type PatchState,
  type Stream,
} from './patch.js';
import type { InboundBudget, Verdict } from './inbound.js';
import { RenderTurns } from './render-turns.js';
import type { LiveWire } from './source.js';

const OPEN = 1;
/**
 * Pings keep idle pages' connections open through proxies with idle timeouts (nginx's default is
 * 60 s) and find pages that vanished without a close (a sleeping laptop): no pong by the next
 * ping, and the socket is terminated. Every 10 s, so a proxy may give up on a connection silent
 * for longer (deploy/haproxy.cfg: 25 s): that is how a page whose node's host was lost, and so
 * never closed its socket, is sent to a live node within seconds.
 */
export const PING_MS = 10_000;
/**
 * Unsent bytes past which a page is taken to have stopped reading: hundreds of renders (a first
 * render is about 1 KB, an update a few hundred bytes), more than a page that reads at all ever
 * lets build up.
 */
export const MAX_UNSENT_BYTES = 1024 * 1024;

export type WireFormat = 'html' | 'patch';

/**
 * What a page of this release asks for as `?render=` to be sent trees. It names the version of
 * the tree messages the page's reader (public/js/live-render.js) understands: a page that names
 * another (`patch`, the release before items moved within a list were sent as references) is
 * sent whole partials, which every release's page applies, so pages left open through a rolling
 * update stay right on the new nodes until they are reloaded.
 */
export const PATCH_RENDER = 'patch2';

/** What every page of a game shows alike, and how this page sees it. */
export interface SharedPart {
  /** The game's stream (patch format): advanced once per state, whichever page renders first. */
  stream: Stream;
  /** The shared trees of one state: the same array for every page (the stream's key). */
  trees: readonly (readonly [string, Dyn])[];
  /** The page's viewer; its slots are filled from the page's own targets of those names. */
  seat: number;
}

/** The node's pages render after a change in coming turns, players' pages first. */
const renderTurns = new RenderTurns();

/** Renders of spectators' and lobby pages put off to a later turn (see render-turns.ts). */
export function rendersDeferred(): number {
  return renderTurns.deferred;
}

/** The HTML of trees shared by many sockets, made once (html format). */
const htmlOf = new WeakMap<Rendered, string>();
function htmlText(tree: Dyn): string {
  if (!(tree instanceof Rendered)) return toHtml(tree);
  let text = htmlOf.get(tree);
  if (text === undefined) {
    text = toHtml(tree);
    htmlOf.set(tree, text);
  }
  return text;
}

export abstract class LiveSocket {
  private sent: Partials | null = null;
  private patchState: PatchState | null = null;
  /** The stream this page follows, the version of it the page holds, and the seat it was told. */
  private stream: Stream | null = null;
  private streamHeld = -1;
  private seat: number | null = null;
  /** The last "seen" token this page was sent (see ../sessions/seen.ts). */
  private seenSent: string | undefined;
  private unsubscribe: (() => void) | null = null;
  /** A change waits to be rendered; `scheduled`: its render is on the event loop's queue. */
  private queued = false;
  private scheduled = false;
  private closed = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private answered = true;
  private admitted: Promise<unknown> = Promise.resolve();

  constructor(
    protected readonly wire: LiveWire,
    /** The account whose page this is: its frames count against the account's budget. */
    readonly account: string,
    private readonly budget: InboundBudget,
    protected readonly format: WireFormat = 'html',
    /** The page holds this release's template table (patch format: template-script.ts). */
    private readonly table = false,
  ) {}

  /** Called once when a flood closes the socket (for a log line). */
  protected abstract onFlood(): void;

  /**
   * Counts one inbound frame against the account's budget. On a flood the socket is closed
   * (1008) and the verdict is 'flood'; the caller handles the frame only on 'ok'. Verdicts
   * come back in the order the frames arrived, so replies keep that order too.
   */
  protected admit(): Promise<Verdict> {
    const next = this.admitted
      .then(() => this.budget.take(this.account))
      .then((verdict) => {
        if (verdict === 'flood' && !this.closed) {
          this.onFlood();
          this.close(LiveClose.policy, 'too many messages');
        }
        return verdict;
      });
    this.admitted = next.catch(() => undefined);
    return next;
  }

  /** Renders the page's partials now; called on connect and after store changes. */
  protected abstract render(): void;

  /**
   * Whether this page only watches (a spectator's, the lobby's): after a change it renders after
   * the players' pages.
   */
  protected watching(): boolean {
    return false;
  }

  protected listen(
    subscribe: (listener: (code: string) => void) => () => void,
    relevant: (code: string) => boolean,
    delayMs: number,
  ): void {
    this.wire.on('close', () => this.dispose());
    this.wire.on('pong', () => {
      this.answered = true;
    });
    // WebSocket-level pings are frames like any other (ws answers each with a pong).
    this.wire.on('ping', () => void this.admit());
    if (this.wire.ping) {
      this.pingTimer = setInterval(() => this.heartbeat(), PING_MS);
      this.pingTimer.unref();
    }
    this.unsubscribe = subscribe((code) => {
      if (relevant(code)) this.queueRender(delayMs);
    });
  }

  /**
   * Coalesces bursts of store changes into one render, in a coming turn (players' pages first:
   * render-turns.ts), after `delayMs` if given.
   */
  private queueRender(delayMs: number): void {
    if (this.closed) return;
    this.queued = true;
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.renderQueued();
    };
    if (delayMs > 0) setTimeout(() => renderTurns.add(run, this.watching()), delayMs).unref();
    else renderTurns.add(run, this.watching());
  }

  /** Renders now if a change waits for its render (which then finds nothing left to do). */
  private renderQueued(): void {
    if (!this.queued || this.closed) return;
    this.queued = false;
    this.render();
  }

  /**
   * Answers one of the page's own messages. The change it answers for is usually in the replica
   * already, its render queued for the next turn: it is rendered now instead, and the answer and
   * the update leave in one socket write (one syscall instead of two: the node's largest single
   * cost is a `writev` per message). Two WebSocket messages as before, in the same order.
   */
  protected reply(obj: Record<string, unknown>): void {
    const corked = this.cork();
    try {
      this.sendJson(obj);
      this.renderQueued();
    } finally {
      if (corked) this.wire.uncork?.();
    }
  }

  /**
   * Sends what differs from what this page holds, as one message; returns how many partials
   * changed.
   */
  protected push(
    trees: Iterable<readonly [string, Dyn]>,
    shared?: SharedPart,
    seen?: string,
  ): number {
    // A closed page is sent nothing, and reads no stream (it left it: dispose).
    if (this.closed) return 0;
    if (this.format === 'patch') {
      const st = (this.patchState ??= newPatchState(this.table));
      let parts: readonly PatchMessage[] | null = null;
      let extra = '';
      if (shared) {
        const { stream } = shared;
        if (stream !== this.stream) {
          this.stream?.leave(this.streamHeld);
          this.stream = stream;
          this.streamHeld = -1;
        }
        stream.advance(shared.trees);
        parts = stream.read(this.streamHeld);
        this.streamHeld = stream.version;
        if (shared.seat !== this.seat) {
          this.seat = shared.seat;
          extra = `"me":${shared.seat}`;
        }
      }
      const last = parts?.at(-1) ?? null;
      // Changes of the stream this page missed go first, each in a message of its own and in
      // order. A page without the table is sent the fixed text each part counts on with it.
      const missed: string[] = [];
      for (const part of parts ?? [])
        if (part !== last)
          missed.push(renderMessage(patch(st, [], owedFor(st, part))?.body ?? null, part.body));
      const own = patch(st, trees, owedFor(st, last));
      // What the page has now shown (a token it sends back when it reconnects), when it moved.
      if (seen !== undefined && seen !== this.seenSent) {
        this.seenSent = seen;
        extra = extra ? `${extra},"v":${JSON.stringify(seen)}` : `"v":${JSON.stringify(seen)}`;
      }
      if (own === null && parts === null && extra === '') return 0;
      const body = own === null ? extra || null : extra ? `${own.body},${extra}` : own.body;
      let count = own?.targets.length ?? 0;
      for (const part of parts ?? []) count += part.targets.length;
      // The page's update leaves in the same socket write as the changes it missed.
      const corked = missed.length > 0 && this.cork();
      try {
        for (const text of missed) this.send(text);
        this.send(renderMessage(body, last?.body ?? null));
      } finally {
        if (corked) this.wire.uncork?.();
      }
      return count;
    }
    // An older page: every partial as its viewer sees it (the shared trees' marks and slots
    // resolved for this page).
    const rendered = shared
      ? pageHtml(shared.trees, trees, shared.seat, htmlText)
      : new Map([...trees].map(([target, tree]) => [target, htmlText(tree)]));
    const { changed, next } = diffPartials(this.sent, rendered);
    this.sent = next;
    if (changed.length) this.send(partialsMessage(changed));
    return changed.length;
  }

  /**
   * Holds the socket's writes until the wire's `uncork()`, so the messages sent meanwhile leave
   * in one write; false when the socket is closed or cannot hold them.
   */
  private cork(): boolean {
    const { wire } = this;
    if (wire.readyState !== OPEN || !wire.cork) return false;
    wire.cork();
    return true;
  }

  protected send(text: string): void {
    const { wire } = this;
    if (wire.readyState !== OPEN) return;
    if ((wire.bufferedAmount ?? 0) > MAX_UNSENT_BYTES) {
      this.dropSlowReader();
      return;
    }
    wire.send(text);
  }

  /**
   * A page that stopped reading (a client that answers pings but never takes its messages) would
   * have every render queued for it in this node's memory: past MAX_UNSENT_BYTES the socket is
   * cut. A close frame would wait behind what is queued, so the TCP connection is ended; a page
   * that is only slow (a stalled mobile link) reconnects (1006) and is sent its state afresh.
   */
  private dropSlowReader(): void {
    this.onSlowReader();
    this.wire.terminate?.();
    this.dispose();
  }

  /** Called once when a page that stopped reading is cut (for a log line and a count). */
  protected abstract onSlowReader(): void;

  protected sendJson(obj: Record<string, unknown>): void {
    this.send(JSON.stringify(obj));
  }

  close(code: number, reason: string): void {
    try {
      this.wire.close(code, reason);
    } catch {
      /* already closing */
    }
    this.dispose();
  }

  private heartbeat(): void {
    if (!this.answered) {
      this.wire.terminate?.();
      this.dispose();
      return;
    }
    this.answered = false;
    try {
      this.wire.ping?.();
    } catch {
      /* closing */
    }
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.stream?.leave(this.streamHeld);
    this.stream = null;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
