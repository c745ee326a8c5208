// What a player's pages may send: one budget per account for every inbound frame on every
// live socket of that account on this node (actions, clock pings, WebSocket pings, anything on
// the lobby socket), and a cap on how many sockets an account holds open.

import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Frames per second an account's pages may send. A page sends one action per round, a clock
 * ping now and then, and after a reconnect the few actions still unacknowledged.
 */
export const FRAMES_PER_SECOND = 20;
/** Past this many times the budget within one second, the socket is closed (1008). */
export const FLOOD_FACTOR = 3;

/** 'ok': handle it; 'slow': over the budget, refuse this frame; 'flood': close the socket. */
export type Verdict = 'ok' | 'slow' | 'flood';

export class InboundBudget {
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly perSecond = FRAMES_PER_SECOND) {
    this.limiter = new RateLimiterMemory({ points: perSecond, duration: 1 });
  }

  /** Counts one frame of `account`. */
  async take(account: string): Promise<Verdict> {
    try {
      await this.limiter.consume(account);
      return 'ok';
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      return res.consumedPoints > this.perSecond * FLOOD_FACTOR ? 'flood' : 'slow';
    }
  }
}
