// Failure detection as a pure state machine: time, heartbeats and link events in, verdicts out.
// No sockets and no timers: the mesh (and the cluster simulator) call tick() every heartbeat
// period and act on what it returns.
//
// A peer is declared down after `downAfterMs` of silence, or when its link stayed closed for
// `reconnectGraceMs`. Our own stalls (SIGSTOP, a long GC pause) are detected from late ticks:
// silence measured across a stall is ours, not the peers', so verdicts are held; and a stall
// long enough for peers to have declared us down makes us "suspect" until every peer has
// echoed a heartbeat we sent after it.

export interface FailureDetectorOptions {
  heartbeatMs: number;
  downAfterMs: number;
  /** How long a peer whose link closed may take to come back before it is declared down. */
  reconnectGraceMs: number;
}

export type Verdict =
  | { kind: 'down'; peer: string; reason: string }
  /** Our own event loop stalled for `ms`: peers may have declared us down meanwhile. */
  | { kind: 'stalled'; ms: number }
  /** Every peer completed a heartbeat round trip since the last stall. */
  | { kind: 'trusted' };

export interface Heartbeat {
  /** Our time when we sent it. */
  t: number;
  /** The latest of the peer's heartbeat times we received, echoed back. */
  ack?: number;
}

interface PeerTrack {
  lastSeen: number;
  /** Silence is counted from max(lastSeen, graceFrom); moved forward after our own stalls. */
  graceFrom: number;
  /** Set while the peer has no open link. */
  linkLostAt: number | undefined;
  /** Latest heartbeat time (peer's clock) we received: echoed back as `ack`. */
  theirT: number | undefined;
  /** Latest of our heartbeat times the peer echoed: it heard us at or after this. */
  ackedAt: number;
}

export class FailureDetector {
  readonly #opts: FailureDetectorOptions;
  readonly #peers = new Map<string, PeerTrack>();
  #lastTickAt: number | undefined;
  #stallEndedAt: number | undefined;
  #stallMs = 0;
  #suspect = false;

  constructor(options: FailureDetectorOptions) {
    const { heartbeatMs, downAfterMs, reconnectGraceMs } = options;
    if (!(heartbeatMs > 0)) throw new RangeError(`invalid heartbeatMs ${heartbeatMs}`);
    if (!(downAfterMs > 2 * heartbeatMs)) {
      throw new RangeError(
        `downAfterMs (${downAfterMs}) must exceed two heartbeats (${2 * heartbeatMs})`,
      );
    }
    if (!(reconnectGraceMs >= 0))
      throw new RangeError(`invalid reconnectGraceMs ${reconnectGraceMs}`);
    this.#opts = { heartbeatMs, downAfterMs, reconnectGraceMs };
  }

  /** The first tick is due one heartbeat after `now`. */
  start(now: number): void {
    this.#lastTickAt = now;
  }

  stop(): void {
    this.#lastTickAt = undefined;
  }

  /** A link to the peer is up (new peer, or a restored link). */
  linkUp(peer: string, now: number): void {
    const track = this.#peers.get(peer);
    if (track === undefined) {
      this.#peers.set(peer, {
        lastSeen: now,
        graceFrom: now,
        linkLostAt: undefined,
        theirT: undefined,
        ackedAt: Number.NEGATIVE_INFINITY,
      });
      return;
    }
    track.lastSeen = now;
    track.graceFrom = now;
    track.linkLostAt = undefined;
  }

  /** The peer's link closed; it has `reconnectGraceMs` to come back. */
  linkLost(peer: string, now: number): void {
    const track = this.#peers.get(peer);
    if (track !== undefined && track.linkLostAt === undefined) track.linkLostAt = now;
  }

  /** Forget a peer (declared down, or said goodbye). */
  remove(peer: string): Verdict[] {
    if (!this.#peers.delete(peer)) return [];
    return this.#checkTrusted();
  }

  has(peer: string): boolean {
    return this.#peers.has(peer);
  }

  /** Any message from the peer. */
  heard(peer: string, now: number): void {
    const track = this.#peers.get(peer);
    if (track !== undefined) track.lastSeen = now;
  }

  /** A heartbeat from the peer (after heard()). */
  heartbeat(peer: string, beat: Heartbeat): Verdict[] {
    const track = this.#peers.get(peer);
    if (track === undefined) return [];
    track.theirT = beat.t;
    if (beat.ack !== undefined && beat.ack > track.ackedAt) track.ackedAt = beat.ack;
    return this.#checkTrusted();
  }

  /** The heartbeat to send the peer now. */
  beat(peer: string, now: number): Heartbeat {
    const theirT = this.#peers.get(peer)?.theirT;
    return theirT === undefined ? { t: now } : { t: now, ack: theirT };
  }

  /** Call every heartbeat period: detects our own stalls and silent or lost peers. */
  tick(now: number): Verdict[] {
    const verdicts: Verdict[] = [];
    const gap = this.#lastTickAt === undefined ? 0 : now - this.#lastTickAt;
    this.#lastTickAt = now;
    // A late tick means we could not read sockets either: silence measured across it is ours.
    const late = gap > 2 * this.#opts.heartbeatMs;
    if (gap >= this.#stallThresholdMs()) {
      this.#stallEndedAt = now;
      this.#stallMs = gap;
      this.#suspect = true;
      verdicts.push({ kind: 'stalled', ms: gap });
    }
    for (const [peer, track] of this.#peers) {
      if (late) {
        track.graceFrom = now;
        if (track.linkLostAt !== undefined) track.linkLostAt = now;
        continue;
      }
      if (track.linkLostAt !== undefined && now - track.linkLostAt >= this.#opts.reconnectGraceMs) {
        verdicts.push({ kind: 'down', peer, reason: 'connection lost' });
        continue;
      }
      const silence = now - Math.max(track.lastSeen, track.graceFrom);
      if (silence > this.#opts.downAfterMs)
        verdicts.push({ kind: 'down', peer, reason: `silent for ${silence} ms` });
    }
    return verdicts;
  }

  /**
   * True when we may have been paused long enough for peers to declare us down (and adopt our
   * work) and have not yet completed a heartbeat round trip with every peer since. Includes a
   * stall still in progress from the detector's point of view: after a pause, other overdue
   * timers can run before the tick that records it.
   */
  isSuspect(now: number): boolean {
    if (this.#lastTickAt !== undefined && now - this.#lastTickAt >= this.#stallThresholdMs())
      return true;
    return this.#stallEndedAt !== undefined && !this.heardFromPeersSince(this.#stallEndedAt);
  }

  /** Every known peer echoed a heartbeat we sent at or after `t`. */
  heardFromPeersSince(t: number): boolean {
    for (const track of this.#peers.values()) if (track.ackedAt < t) return false;
    return true;
  }

  get lastStallAt(): number | undefined {
    return this.#stallEndedAt;
  }

  get lastStallMs(): number {
    return this.#stallMs;
  }

  #checkTrusted(): Verdict[] {
    if (
      !this.#suspect ||
      this.#stallEndedAt === undefined ||
      !this.heardFromPeersSince(this.#stallEndedAt)
    )
      return [];
    this.#suspect = false;
    return [{ kind: 'trusted' }];
  }

  /** A gap between ticks this long means peers may have declared us down. */
  #stallThresholdMs(): number {
    return Math.max(2 * this.#opts.heartbeatMs, this.#opts.downAfterMs - this.#opts.heartbeatMs);
  }
}
