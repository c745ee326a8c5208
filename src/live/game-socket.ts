// One open game page: renders the viewer's partials from the local replica, pushes only
// those whose HTML changed, and turns validated messages into player commands.

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { LiveClose } from './close-codes.js';
import type { Partials } from './diff.js';
import type { GameFrames } from './game-frame.js';
import type { InboundBudget } from './inbound.js';
import { LiveSocket, type WireFormat } from './live-socket.js';
import { awaitsPlayer } from '../game/hold.js';
import type { SocialOp } from '../game/social.js';
import type { GameState, PlayerAction } from '../game/types.js';
import type { RateLimiterMemory } from 'rate-limiter-flexible';
import { parseLiveMessage } from './messages.js';
import { seenToken } from '../sessions/seen.js';
import type { GameSource, LiveWire } from './source.js';

/** A page never sends invalid messages; a client that sends this many in 10 s is cut off (1008). */
const MAX_INVALID_PER_WINDOW = 50;

export interface Viewer {
  id: string;
  username: string;
}

export interface LiveSocketDeps {
  source: GameSource;
  logger: Logger;
  metrics: Metrics;
  /** Every frame the viewer's pages send counts against their account's budget. */
  budget: InboundBudget;
  /** Limits table talk per player (a few lines every few seconds). */
  chatLimiter: RateLimiterMemory;
  now: () => number;
  csrfToken: string;
  frames: GameFrames;
  /** 'patch' for pages that rebuild partials from trees (this release's pages). */
  format?: WireFormat;
  /** The game the page was rendered for: its fixed board is already on it (patch format). */
  shownGame?: string | null;
  /** The page holds this release's template table (patch format: template-script.ts). */
  table?: boolean;
}

/**
 * Every partial of a game page for one viewer as HTML: what the page itself shows on its first
 * response (views/pages/game.ejs), and what a live update brings.
 */
export function renderGamePartials(
  state: GameState,
  viewer: string | null,
  csrfToken: string,
  frames: GameFrames,
  now: number,
): Partials {
  return frames.frame(state, now).html(viewer, csrfToken);
}

export class GameLiveSocket extends LiveSocket {
  constructor(
    wire: LiveWire,
    readonly code: string,
    readonly viewer: Viewer,
    private readonly deps: LiveSocketDeps,
  ) {
    super(wire, viewer.id, deps.budget, deps.format ?? 'html', deps.table ?? false);
  }

  protected onSlowReader(): void {
    this.deps.metrics.wsRejected.inc({ reason: 'slow-reader' });
    this.deps.logger.warn(
      { code: this.code, user: this.viewer.username },
      'cut a live socket whose page stopped reading its messages',
    );
  }

  protected onFlood(): void {
    this.deps.metrics.wsRejected.inc({ reason: 'flood' });
    this.deps.logger.warn(
      { code: this.code, user: this.viewer.username },
      'closed a live socket that flooded the server with messages',
    );
  }

  /**
   * Starts the page's live updates; `early` holds messages that arrived before the socket was set
   * up.
   */
  start(early: [unknown, boolean | undefined][] = []): void {
    // ws@8 says whether a frame was binary; ws@7 (under express-ws) does not, but hands text
    // frames over as strings and binary frames as Buffers.
    const receive = (data: unknown, isBinary: boolean | undefined): void =>
      void this.onMessage(
        data,
        isBinary === true || (isBinary === undefined && typeof data !== 'string'),
      ).catch((err: unknown) =>
        // Nothing on the way is meant to throw; if something does, it is this socket's message
        // that is lost (an action stays pending on the page, and is sent again on reconnect).
        this.deps.logger.error({ err, code: this.code }, 'a live message failed'),
      );
    this.wire.on('message', receive);
    this.wire.on('error', (err) =>
      this.deps.logger.debug({ err: err.message, code: this.code }, 'game socket error'),
    );
    this.listen(
      (l) => this.deps.source.watch(this.code, () => l(this.code)),
      () => true,
      0,
    );
    this.sendJson({ type: 'time', now: this.deps.now() });
    this.render();
    for (const [data, isBinary] of early) receive(data, isBinary);
  }

  /**
   * Status of the game this page last showed: a finished game dropped from the replica stays on
   * screen.
   */
  private shown: GameState['status'] | null = null;
  /** A spectator's page: the viewer has no seat in the game (as it is now, after the change). */
  protected override watching(): boolean {
    const state = this.deps.source.game(this.code);
    return !!state && !state.players.some((p) => p.id === this.viewer.id);
  }

  /** The game this page shows: the one it was rendered for, or else the first one it was sent. */
  private pageGame: string | null = null;
  /** Sent to its own game's page: nothing more to render (the page leaves). */
  private moved = false;

  protected render(): void {
    if (this.isClosed || this.moved) return;
    const state = this.deps.source.game(this.code);
    if (!state && this.shown === 'finished') return;
    const shows = this.deps.shownGame ?? this.pageGame;
    if (state && shows && state.id !== shows) {
      // Its code now holds another game (the page's game ended and was let go, and a new one
      // took the code): the page goes to its own game's page, not into the new game.
      this.sendJson({
        type: 'redirect',
        to: `/games/${this.code}?game=${encodeURIComponent(shows)}`,
      });
      this.moved = true;
      return;
    }
    if (state) this.pageGame ??= state.id;
    if (!state) {
      if (this.deps.source.unreadable(this.code)) {
        // A newer release runs this game now: reconnect (through the load balancer) to it.
        this.close(LiveClose.restart, 'game moved to a newer release');
        return;
      }
      // Closed while waiting (nobody started it in time): the lobby says so.
      this.sendJson({
        type: 'redirect',
        to: this.shown === 'open' ? `/lobby?closed=${this.code}` : '/lobby',
      });
      return;
    }
    if (state.status === 'finished' && state.players.length === 0) {
      // Everybody left before it started: nothing to show but the lobby (the game goes at once).
      this.sendJson({ type: 'redirect', to: `/lobby?closed=${this.code}` });
      return;
    }
    this.announcePresence(state);
    const end = this.deps.metrics.renderSeconds.startTimer();
    // The countdown's first text uses the time of the state's first render on this node; the
    // page's clock takes over within a frame (it counts from data-deadline against the server's
    // time).
    const { frames } = this.deps;
    const page = frames.frame(state, this.deps.now()).page(this.viewer.id, this.deps.csrfToken);
    let own = page.own;
    // The page was rendered with this game's fixed board, which never changes: it needs no copy.
    if (this.format === 'patch' && this.deps.shownGame === state.id)
      own = own.filter(([target]) => target !== 'game-board-tiles');
    this.shown = state.status;
    const rec = this.deps.source.shownRecord(this.code);
    const sent = this.push(
      own,
      { stream: frames.stream(state), trees: page.shared, seat: page.seat },
      rec && seenToken(rec.epoch, state),
    );
    end();
    if (sent) this.deps.metrics.partialsSent.inc(sent);
  }
  /** The hold (by its end time) this page already told the game it is back for. */
  private announced: number | null = null;

  /** A round held after an outage waits for this player: their page is open, so say so. */
  private announcePresence(state: GameState): void {
    if (!awaitsPlayer(state, this.viewer.id) || this.announced === state.hold?.until) return;
    this.announced = state.hold?.until ?? null;
    void this.deps.source
      .execute(this.code, { kind: 'present', playerId: this.viewer.id })
      .then((r) => {
        if (!r.ok) this.announced = null;
      });
  }

  private invalid = { count: 0, since: 0 };

  /** Counts an invalid message in the current 10 s window; returns the count. */
  private strike(): number {
    const now = this.deps.now();
    if (now - this.invalid.since > 10_000) this.invalid = { count: 0, since: now };
    return ++this.invalid.count;
  }

  private async onMessage(data: unknown, isBinary: boolean): Promise<void> {
    const verdict = await this.admit();
    if (verdict === 'flood') return;
    const parsed = parseLiveMessage(data, isBinary);
    if (!parsed.ok) {
      this.deps.metrics.wsRejected.inc({ reason: parsed.code });
      const strikes = this.strike();
      if (strikes <= 5)
        this.deps.logger.info(
          { code: this.code, user: this.viewer.username, reason: parsed.code },
          'refused a live message',
        );
      if (strikes > MAX_INVALID_PER_WINDOW) {
        this.deps.logger.warn(
          { code: this.code, user: this.viewer.username },
          'closed a live socket that kept sending invalid messages',
        );
        this.close(LiveClose.policy, 'too many invalid messages');
        return;
      }
      this.sendJson({ type: 'error', code: parsed.code, message: parsed.message });
      return;
    }
    const msg = parsed.message;
    if (verdict === 'slow') {
      // Over the account's budget: refused, and an action may be sent again a moment later.
      this.deps.metrics.wsRejected.inc({ reason: 'rate-limited' });
      this.sendJson({
        type: 'error',
        code: 'rate-limited',
        ...(msg.type === 'act' ? { actionId: msg.actionId } : {}),
        ...(msg.type === 'say' ? { unsaid: msg.text } : {}),
        retry: true,
        message: 'Slow down: too many messages at once.',
      });
      return;
    }
    if (msg.type === 'ping') {
      this.sendJson({ type: 'time', now: this.deps.now() });
      return;
    }
    if (msg.type === 'say' || msg.type === 'react') {
      await this.talk(
        msg.type === 'say' ? { type: 'say', text: msg.text } : { type: 'react', emote: msg.emote },
      );
      return;
    }
    const action: PlayerAction = {
      id: msg.actionId,
      round: msg.round,
      kind: msg.kind,
      ...(msg.dir ? { dir: msg.dir } : {}),
    };
    const result = await this.deps.source.execute(this.code, {
      kind: 'act',
      playerId: this.viewer.id,
      action,
    });
    this.deps.metrics.actions.inc({
      result: result.ok ? (result.duplicate ? 'duplicate' : 'accepted') : result.code,
    });
    if (result.ok) {
      this.reply({ type: 'ack', actionId: msg.actionId, duplicate: result.duplicate });
    } else {
      this.sendJson({
        type: 'error',
        actionId: msg.actionId,
        code: result.code,
        message: result.message,
        ...(result.retry ? { retry: true } : {}),
        ...(result.code === 'stale-round' ? { quiet: true } : {}),
      });
    }
  }

  private async talk(op: SocialOp): Promise<void> {
    // A line refused goes back to the page, which puts it back in the box it cleared.
    const unsaid = op.type === 'say' ? { unsaid: op.text } : {};
    try {
      await this.deps.chatLimiter.consume(this.viewer.id);
    } catch {
      this.deps.metrics.wsRejected.inc({ reason: 'rate-limited' });
      this.sendJson({
        type: 'error',
        code: 'rate-limited',
        message: 'Easy there: wait a few seconds before saying more.',
        ...unsaid,
      });
      return;
    }
    const result = await this.deps.source.execute(this.code, {
      kind: 'social',
      playerId: this.viewer.id,
      op,
    });
    if (!result.ok)
      this.sendJson({ type: 'error', code: result.code, message: result.message, ...unsaid });
  }
}
