// Reads are local: the games of this node's replica as the pages show them (lifted to the
// current schema), lists for the lobby, and listeners told whenever a game changes. A page for
// a game the replica lacks or holds an older copy of reads the ledger first.

import type { Clock } from '../clock.js';
import { GAME_SCHEMA, type GameState } from '../game/index.js';
import { canRead, upgradeState } from '../game/upgrade.js';
import { isBehind, type Seen } from './seen.js';
import type { Logger } from '../log.js';
import { compareVersion } from '../replication/record.js';
import type { Replica } from '../replication/replica.js';
import type { ReplicaSync } from '../replication/sync.js';
import { recordOf, type GameRecord } from './game-record.js';
import type { Ledger } from './ledger.js';

export interface GameReadsDeps {
  /**
   * A game running on this node: its latest record, whether a peer or the database holds it,
   * and the record its pages may show meanwhile.
   */
  own(
    code: string,
  ): { record: GameRecord; confirmed: boolean; shown: GameRecord | null } | undefined;
  replica: Replica<GameState>;
  sync: ReplicaSync<GameState>;
  ledger: Ledger;
  /** Whether the writes of `rec`'s owner reach this node now (it runs here, or on a live peer). */
  hears(rec: GameRecord): boolean;
  clock: Clock;
  logger: Logger;
}

/**
 * How long a node asked for a game it does not hold yet waits for it (a game just created
 * elsewhere).
 */
const AWAIT_GAME_MS = 3000;

/**
 * The game in a record, lifted to the current schema; undefined for tombstones and schemas this
 * release cannot read.
 */
function readState(rec: GameRecord): GameState | undefined {
  if (!rec.state || !canRead(rec.schema)) return undefined;
  return rec.schema === GAME_SCHEMA ? rec.state : upgradeState(rec.state, rec.schema);
}

export class GameReads {
  readonly #d: GameReadsDeps;
  readonly #all = new Set<(code: string) => void>();
  readonly #byGame = new Map<string, Set<() => void>>();

  constructor(deps: GameReadsDeps) {
    this.#d = deps;
    deps.sync.onChange((key) => {
      // An owner's write no one else holds yet changes nothing pages show: they hear of it once
      // it is confirmed (changed()).
      const rec = deps.replica.get(key);
      const own = deps.own(key);
      if (own && !own.confirmed && rec && compareVersion(rec, own.record) === 0) return;
      this.changed(key);
    });
  }

  /** Tells the listeners of `key` that what pages show of it changed. */
  changed(key: string): void {
    for (const l of this.#byGame.get(key) ?? []) this.#notify(l, key);
    for (const l of this.#all) this.#notify(l, key);
  }

  /**
   * The record pages may show in place of `rec` (see GameSession.shown): a write of this
   * node's run of the game newer than the last one a peer or the database held is not shown.
   */
  #visible(rec: GameRecord): GameRecord | null {
    const own = this.#d.own(rec.key);
    if (!own || own.confirmed) return rec;
    if (rec.owner !== own.record.owner || rec.epoch !== own.record.epoch) return rec;
    if (own.shown && compareVersion(rec, own.shown) <= 0) return rec;
    return own.shown;
  }

  game(code: string): GameState | undefined {
    const shown = this.record(code);
    return shown ? readState(shown) : undefined;
  }

  /** The record of `code` pages show (for tests and tools that need its version). */
  record(code: string): GameRecord | undefined {
    const rec = this.#d.replica.get(code);
    return (rec && this.#visible(rec)) ?? undefined;
  }

  unreadable(code: string): boolean {
    const rec = this.#d.replica.get(code);
    return !!rec?.state && !canRead(rec.schema);
  }

  /**
   * The game as a page should show it: at least the version the database holds. Every write a
   * player saw was saved there first, so a page opening on a node whose replica lags (a game
   * created a moment ago elsewhere, an owner cut off or just gone) never shows an earlier
   * state, nor "no such game". Without the database, waits briefly for the replica instead,
   * and shows no copy that may lag (see `#unsure`): the page is told to come back.
   */
  async awaitGame(code: string, timeoutMs = AWAIT_GAME_MS): Promise<GameState | undefined> {
    const row = await this.#d.ledger.row(code);
    if (row === 'unavailable' && this.#unsure(code)) return undefined;
    if (row && row !== 'unavailable') {
      const held = this.#d.replica.getAny(code);
      // A finished game this node no longer holds is shown from its result (read-only), not
      // revived.
      if (held ? compareVersion(held, row) < 0 : row.state.status !== 'finished') {
        this.#d.sync.absorb(recordOf(row));
      }
    }
    const now = this.game(code);
    if (now || row !== 'unavailable' || this.#d.replica.getAny(code)) return now;
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        unwatch();
        this.#d.clock.clearTimeout(timer);
        resolve(this.game(code));
      };
      const unwatch = this.watch(code, finish);
      const timer = this.#d.clock.setTimeout(finish, timeoutMs);
    });
  }

  /**
   * Whether this node shows `code` at least as far as a page saw it (`seen`, the token the page
   * sent back; it applies to the game `gameId` only, as a code may later name another game).
   * A copy that is behind (it missed the owner's last writes, and the database that would have
   * told could not be read) is waited for, up to `timeoutMs`; false if it is still behind then.
   */
  async caughtUp(
    code: string,
    seen: Seen,
    gameId: string | null,
    timeoutMs = AWAIT_GAME_MS,
  ): Promise<boolean> {
    const ok = (): boolean => {
      const rec = this.record(code);
      const state = rec && readState(rec);
      return (
        !state || (gameId !== null && state.id !== gameId) || !isBehind(rec.epoch, state, seen)
      );
    };
    if (ok()) return true;
    return new Promise((resolve) => {
      let done = false;
      // A change settles it only once the copy caught up; the timer settles it in any case (it
      // may fire a millisecond before the wall clock says the wait is over, and nothing may
      // change afterwards for a whole round).
      const finish = (timedOut: boolean): void => {
        if (done || (!timedOut && !ok())) return;
        done = true;
        unwatch();
        this.#d.clock.clearTimeout(timer);
        resolve(ok());
      };
      const unwatch = this.watch(code, () => finish(false));
      const timer = this.#d.clock.setTimeout(() => finish(true), timeoutMs);
    });
  }

  /**
   * Why a game this node does not show may still exist: 'resuming' while the ledger holds it
   * running (it is resuming or on its way), 'unreachable' while the ledger cannot be read and
   * this node knows nothing of it; null when it is not there.
   */
  async pending(code: string): Promise<'resuming' | 'unreachable' | null> {
    const row = await this.#d.ledger.row(code);
    if (row === 'unavailable')
      return !this.#d.replica.getAny(code) || this.#unsure(code) ? 'unreachable' : null;
    if (this.game(code)) return null;
    return row !== undefined && row.state.status !== 'finished' ? 'resuming' : null;
  }

  /**
   * True when this node's copy of a game in play may be older than what its players saw: its
   * owner's writes no longer reach us (gone, or cut off), and the database that would tell
   * cannot be read. A page shown that copy could see a round it already played come back.
   */
  #unsure(code: string): boolean {
    const rec = this.#d.replica.get(code);
    return rec?.state?.status === 'playing' && !this.#d.hears(rec);
  }

  #states(): GameState[] {
    const out: GameState[] = [];
    for (const rec of this.#d.replica.live()) {
      const shown = this.#visible(rec);
      const state = shown ? readState(shown) : undefined;
      if (state) out.push(state);
    }
    return out;
  }

  lobbyGames(): GameState[] {
    return this.#states().filter((g) => g.status === 'open' || g.status === 'playing');
  }

  gamesOf(playerId: string): GameState[] {
    return this.#states().filter((g) => g.players.some((p) => p.id === playerId));
  }

  /** Hears every game that changes (the lobby). */
  subscribe(listener: (code: string) => void): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /** Hears changes of one game only (a game page). */
  watch(code: string, listener: () => void): () => void {
    let set = this.#byGame.get(code);
    if (!set) {
      set = new Set();
      this.#byGame.set(code, set);
    }
    set.add(listener);
    return () => {
      const s = this.#byGame.get(code);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.#byGame.delete(code);
    };
  }

  #notify(listener: (code: string) => void, key: string): void {
    try {
      listener(key);
    } catch (err) {
      this.#d.logger.error({ err }, 'a game listener failed');
    }
  }
}
