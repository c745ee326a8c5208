// The players of a rehearsal: games opened through the load balancer (sign-up, create, join,
// start), one bot per player, a keeper that replaces finished games so every scenario happens
// under play, and logged-in HTTP load beside them.

import { Bot } from '../../test/support/bots.js';
import { waitFor } from '../../test/support/node-process.js';
import { Player, openStartedGame } from '../../test/support/player.js';
import type { LocalCluster } from './cluster.js';
import { HttpLoad, type Failure } from './load.js';
import { sleep } from './say.js';

export class Players {
  opened = 0;
  readonly setupFailures: Failure[] = [];
  load: HttpLoad | null = null;
  #keeping = false;
  #keeper: Promise<void> | null = null;

  constructor(
    private readonly cluster: LocalCluster,
    private readonly games: number,
    private readonly bots: number,
  ) {}

  get rig() {
    return this.cluster.rig;
  }

  playing(code: string): boolean {
    return this.rig.bots.some((b) => b.code === code && b.status !== 'finished' && b.status !== 'gone');
  }

  async #open(): Promise<string> {
    const tag = `${Date.now().toString(36).slice(-4)}${this.opened++}`;
    const url = this.cluster.url;
    const players = Array.from({ length: this.bots }, (_, i) => new Player(url, `r${tag}p${i}`, 'correct horse battery', this.cluster.net()));
    const code = await openStartedGame(players);
    const rec = await waitFor(
      async () => {
        const r = await this.rig.newest(code);
        return r.state.status === 'playing' && r.state.players.length === this.bots ? r : false;
      },
      5_000,
      `${code} to be playing with ${this.bots} players after create, join × ${this.bots - 1}, start (every answer was 303)`,
    );
    const bots = players.map((p) => new Bot({ name: p.username, code, player: p, playerId: rec.state.players.find((x) => x.name === p.username)!.id, backends: () => [url], defendRate: 0.8, delayMs: [400, 1800] }));
    this.rig.codes.push(code);
    this.rig.bots.push(...bots);
    for (const b of bots) b.start();
    return code;
  }

  async tryOpen(): Promise<string | null> {
    const at = Date.now();
    try {
      return await this.#open();
    } catch (err) {
      this.setupFailures.push({ at, path: 'new game', what: (err as Error).message });
      return null;
    }
  }

  /** Opens the first games, waits until every bot plays, and starts the HTTP load. */
  async start(httpWorkers: number): Promise<void> {
    await Promise.all(Array.from({ length: this.games }, () => this.tryOpen()));
    if (this.rig.codes.length === 0) throw new Error(`no game could be opened: ${this.setupFailures.map((f) => f.what).join('; ')}`);
    await waitFor(() => this.rig.bots.every((b) => b.currentRound >= 1), 15_000, 'every bot to see round 1');
    this.rig.sampler.start();
    // A game that ends is replaced by a new one, so every scenario happens under play. Bounded.
    this.#keeping = true;
    this.#keeper = (async () => {
      const active = new Set(this.rig.codes);
      while (this.#keeping && this.opened < this.games * 4) {
        for (const c of [...active]) {
          if (this.playing(c) || !this.#keeping) continue;
          active.delete(c);
          const code = await this.tryOpen();
          if (code) active.add(code);
        }
        await sleep(250);
      }
    })();
    const tag = Date.now().toString(36).slice(-4);
    const loaders = [new Player(this.cluster.url, `r${tag}load1`, 'correct horse battery', this.cluster.net()), new Player(this.cluster.url, `r${tag}load2`, 'correct horse battery', this.cluster.net())];
    for (const p of loaders) await p.signup();
    this.load = new HttpLoad(this.cluster.url, loaders.map((p) => p.cookie), () => ['/lobby', '/leaderboard', ...this.rig.codes.filter((c) => this.playing(c)).map((c) => `/games/${c}`)], this.cluster.net());
    this.load.start(httpWorkers);
  }

  /** Stops opening games and the load; the bots go on until the rig is quiesced. */
  async stop(): Promise<void> {
    this.#keeping = false;
    await this.#keeper;
    await this.load?.stop();
  }
}
