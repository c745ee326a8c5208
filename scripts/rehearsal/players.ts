// The players of a rehearsal: games opened through the load balancer (sign-up, create, join,
// start), one bot per player, a keeper that replaces finished games so every scenario happens
// under play, and logged-in HTTP load beside them.

import { Bot } from '../../test/support/bots.js';
import { waitFor } from '../../test/support/node-process.js';
import { Player, openStartedGame } from '../../test/support/player.js';
import type { Stage } from './cluster.js';
import { HttpLoad, brief, type Failure, type HttpLoadOptions } from './load.js';
import { sleep } from './say.js';

/**
 * A player that notes when its latest request left, so a failure is dated by the request that
 * failed.
 */
class DatedPlayer extends Player {
  constructor(
    private readonly sent: { at: number },
    ...args: ConstructorParameters<typeof Player>
  ) {
    super(...args);
  }

  override request(path: string, init?: RequestInit): Promise<Response> {
    this.sent.at = Date.now();
    return super.request(path, init);
  }
}

/** An error's message with its causes ("fetch failed: other side closed"). */
function withCauses(err: unknown): string {
  const parts: string[] = [];
  for (let e = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(': ') || String(err);
}

export interface PlayersOptions {
  /** Games kept playing. */
  games: number;
  /** Bots (players) per game. */
  bots: number;
  /** First letter of the players' names. */
  prefix?: string;
  /** A bot acts this long after it sees a round, uniform in [min, max] ms. */
  botDelayMs?: [number, number];
  /** How long a bot's WebSocket upgrade may take before it tries again. */
  connectTimeoutMs?: number;
  /** How long a started game may take to show up as playing with every player. */
  playingWithinMs?: number;
  /** How long the first bots may take to see round 1. */
  firstRoundWithinMs?: number;
  /** Most games opened in all (default 4 × games). */
  maxGames?: number;
  load?: HttpLoadOptions;
}

export class Players {
  opened = 0;
  readonly setupFailures: Failure[] = [];
  load: HttpLoad | null = null;
  #keeping = false;
  #keeper: Promise<void> | null = null;
  #opening = 0;
  readonly #o: Required<Omit<PlayersOptions, 'load'>> & { load: HttpLoadOptions };

  constructor(
    private readonly stage: Stage,
    options: PlayersOptions,
  ) {
    this.#o = {
      prefix: 'r',
      botDelayMs: [400, 1800],
      connectTimeoutMs: 2000,
      playingWithinMs: 5000,
      firstRoundWithinMs: 15_000,
      maxGames: options.games * 4,
      load: {},
      ...options,
    };
  }

  get rig() {
    return this.stage.rig;
  }

  playing(code: string): boolean {
    return this.rig.bots.some(
      (b) => b.code === code && b.status !== 'finished' && b.status !== 'gone',
    );
  }

  /** Games whose players still play (as the bots see them). */
  playingCodes(): string[] {
    return this.rig.codes.filter((c) => this.playing(c));
  }

  async #open(sent: { at: number }): Promise<string> {
    const o = this.#o;
    const tag = `${Date.now().toString(36).slice(-4)}${this.opened++}`;
    const url = this.stage.url;
    const players = Array.from(
      { length: o.bots },
      (_, i) =>
        new DatedPlayer(
          sent,
          url,
          `${o.prefix}${tag}p${i}`,
          'correct horse battery',
          this.stage.net(),
        ),
    );
    const code = await openStartedGame(players);
    const rec = await waitFor(
      async () => {
        const r = await this.rig.newest(code);
        return r.state.status === 'playing' && r.state.players.length === o.bots ? r : false;
      },
      o.playingWithinMs,
      `${code} to be playing with ${o.bots} players after create, join × ${o.bots - 1}, start (every answer was 303)`,
    );
    // As browsers: the release's template table, loaded once (the script every page names).
    // Every second bot holds it; the others are pages whose script did not load, in one game.
    const table = await players[0]!.templates();
    const bots = players.map(
      (p, i) =>
        new Bot({
          name: p.username,
          code,
          player: p,
          playerId: rec.state.players.find((x) => x.name === p.username)!.id,
          gameId: rec.state.id,
          ...(i % 2 === 0 ? { table } : {}),
          backends: () => [url],
          defendRate: 0.8,
          delayMs: o.botDelayMs,
          connectTimeoutMs: o.connectTimeoutMs,
        }),
    );
    this.rig.codes.push(code);
    this.rig.bots.push(...bots);
    for (const b of bots) b.start();
    return code;
  }

  async tryOpen(): Promise<string | null> {
    // Opening a game takes a dozen requests, seconds apart on a loaded machine: a failure is
    // dated by the request that failed, so that a scenario's window can cover it.
    const sent = { at: Date.now() };
    this.#opening++;
    try {
      return await this.#open(sent);
    } catch (err) {
      this.setupFailures.push({ at: sent.at, path: 'new game', what: brief(withCauses(err), 200) });
      return null;
    } finally {
      this.#opening--;
    }
  }

  /** Opens the first games, waits until every bot plays, and starts the HTTP load. */
  async start(httpWorkers: number): Promise<void> {
    const o = this.#o;
    await Promise.all(Array.from({ length: o.games }, () => this.tryOpen()));
    if (this.rig.codes.length === 0)
      throw new Error(
        `no game could be opened: ${this.setupFailures.map((f) => f.what).join('; ')}`,
      );
    await waitFor(
      () => this.rig.bots.every((b) => b.currentRound >= 1),
      o.firstRoundWithinMs,
      'every bot to see round 1',
    );
    this.rig.sampler.start();
    this.keep();
    const tag = Date.now().toString(36).slice(-4);
    const loaders = [
      new Player(
        this.stage.url,
        `${o.prefix}${tag}load1`,
        'correct horse battery',
        this.stage.net(),
      ),
      new Player(
        this.stage.url,
        `${o.prefix}${tag}load2`,
        'correct horse battery',
        this.stage.net(),
      ),
    ];
    for (const p of loaders) await p.signup();
    this.load = new HttpLoad(
      this.stage.url,
      loaders.map((p) => p.cookie),
      () => ['/lobby', '/leaderboard', ...this.playingCodes().map((c) => `/games/${c}`)],
      this.stage.net(),
      o.load,
    );
    this.load.start(httpWorkers);
  }

  /**
   * A game that ends is replaced by a new one, so every scenario happens under play (at most
   * maxGames in all).
   */
  keep(): void {
    if (this.#keeping) return;
    this.#keeping = true;
    this.#keeper = (async () => {
      while (this.#keeping && this.opened < this.#o.maxGames) {
        if (this.playingCodes().length + this.#opening < this.#o.games) void this.tryOpen();
        await sleep(250);
      }
    })();
  }

  /**
   * Waits (bounded) until the keeper has every game playing again, so a scenario starts under full
   * play.
   */
  async full(timeoutMs = 30_000): Promise<number> {
    await waitFor(
      () =>
        this.playingCodes().length >= this.#o.games ||
        this.opened >= this.#o.maxGames ||
        !this.#keeping,
      timeoutMs,
      `${this.#o.games} games playing`,
    ).catch(() => undefined);
    return this.playingCodes().length;
  }

  /** Stops replacing games and waits for the games being opened (each is bounded in time). */
  async pause(): Promise<void> {
    this.#keeping = false;
    await this.#keeper;
    await waitFor(() => this.#opening === 0, 60_000, 'the games being opened').catch(
      () => undefined,
    );
  }

  /** Stops opening games and the load; the bots go on until the rig is quiesced. */
  async stop(): Promise<void> {
    await this.pause();
    await this.load?.stop();
  }
}
