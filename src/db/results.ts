// Finished games: recorded once however many nodes report them, read back as a player's
// record, recent games, the leaderboard, and the final state of a game for its page.

import { sql, type Kysely } from 'kysely';
import { accountRowId } from './accounts.js';
import { isTransactionConflict } from './errors.js';
import { LastKnown } from './last-known.js';
import type { DbLogger } from './logger.js';
import type { Database } from './schema.js';

export interface GameResult {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  winnerId: string | null;
  players: { accountId: string; won: boolean; eliminatedRound: number | null; dealt?: number }[];
  /** The game's last state (JSON-serialisable) and its schema, kept for its page. */
  final?: { schema: number; state: unknown };
}

/** A finished game's last state as stored, of any schema (the caller upgrades it). */
export interface FinalState {
  gameId: string;
  code: string;
  finishedAt: number;
  schema: number;
  state: unknown;
}

/**
 * A finished game as its result keeps it, without its board: for the page of a game whose final
 * state is no longer kept (FINAL_STATE_DAYS).
 */
export interface GameSummary {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  /** Whether the database still holds its final board (one this release may not read). */
  boardKept: boolean;
  /** Its heroes, the winner first, then those who lasted longer, then by name. */
  players: {
    username: string;
    won: boolean;
    /** The round they fell in; null for a hero still standing at the end. */
    eliminatedRound: number | null;
    dealt: number;
  }[];
}

/** How long finished games keep their final board, and how often the older ones are let go. */
export interface FinalStateRetention {
  /** Final boards of games finished longer ago than this (ms) are dropped; their results stay. */
  keepMs: number;
  /** Between two prunes (default 1 hour). */
  pruneIntervalMs?: number;
  /** Delay of the first prune after start (default 1 minute). */
  firstPruneMs?: number;
  /** Each prune that dropped boards, with how many. */
  onPruned?: (boards: number) => void;
}

/** Final boards dropped by one statement: each batch is a short write, however many are due. */
const PRUNE_BATCH = 200;

export interface PlayerRecord {
  played: number;
  won: number;
}

/** Where a player stands on the leaderboard: `place` among `of` heroes who finished a game. */
export interface Standing extends LeaderboardRow {
  place: number;
  of: number;
}

/** One page of the leaderboard. */
export interface LeaderboardPage {
  rows: (LeaderboardRow & { place: number })[];
  page: number;
  pages: number;
  /** Heroes on the whole leaderboard. */
  total: number;
}

/**
 * How long a node answers a page of the leaderboard from one read of it (ms): a game recorded
 * on another node shows within it; one recorded on this node, at once.
 */
export const LEADERBOARD_MS = 1_000;

/** Tries at writing one result when PostgreSQL gives its transaction up for another. */
const RECORD_ATTEMPTS = 3;

export interface LeaderboardRow {
  accountId: string;
  username: string;
  played: number;
  won: number;
  /** won / played, 0..1. */
  winRate: number;
}

export interface RecentGame {
  gameId: string;
  code: string;
  finishedAt: number;
  rounds: number;
  won: boolean;
  eliminatedRound: number | null;
  dealt: number;
  winnerUsername: string | null;
  /** The other players' usernames, in name order. */
  opponents: string[];
}

export class ResultsError extends Error {
  override readonly name = 'ResultsError';
  constructor(
    readonly code: 'UNKNOWN_ACCOUNT',
    message: string,
  ) {
    super(message);
  }
}

function rowId(id: string, gameId: string): number {
  const n = accountRowId(id);
  if (n === null) {
    throw new ResultsError(
      'UNKNOWN_ACCOUNT',
      `result of game ${gameId} names ${JSON.stringify(id)}, which is not an account id`,
    );
  }
  return n;
}

export class Results {
  /** Last read records and leaderboard, answered while the database is away. */
  readonly #records = new LastKnown<PlayerRecord>();
  readonly #dealt = new LastKnown<number>();
  readonly #recent = new LastKnown<RecentGame[]>();
  readonly #pages = new LastKnown<LeaderboardPage>({ max: 100 });
  readonly #standings = new LastKnown<Standing | null>();
  /** Leaderboard pages read in the last `LEADERBOARD_MS`, by page and size. */
  readonly #recentPages = new Map<string, { at: number; page: Promise<LeaderboardPage> }>();
  readonly #now: () => number;

  #pruneTimer: NodeJS.Timeout | null = null;
  #firstPrune: NodeJS.Timeout | null = null;
  #pruning: Promise<number> | null = null;
  #stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    now: () => number = Date.now,
    private readonly options: { retention?: FinalStateRetention; logger?: DbLogger } = {},
  ) {
    this.#now = now;
    const retention = options.retention;
    if (retention) {
      const every = retention.pruneIntervalMs ?? 60 * 60 * 1000;
      this.#pruneTimer = setInterval(() => this.#pruneOnTimer(), every);
      this.#pruneTimer.unref();
      this.#firstPrune = setTimeout(
        () => this.#pruneOnTimer(),
        Math.min(retention.firstPruneMs ?? 60_000, every),
      );
      this.#firstPrune.unref();
    }
  }

  /**
   * Drops the final boards of games finished before `before` (ms), in short batches; returns how
   * many. Their results (record, standings, recent games) stay, and so does a summary page.
   */
  async pruneFinalStates(before: number): Promise<number> {
    let dropped = 0;
    for (;;) {
      const due = this.db
        .selectFrom('results')
        .select('game_id')
        .where('final_state', 'is not', null)
        .where('finished_at', '<', Math.floor(before))
        .limit(PRUNE_BATCH);
      if (this.#stopped) return dropped;
      // Rows another node dropped meanwhile (its batch picked them too) are left out: each
      // board is counted once.
      const r = await this.db
        .updateTable('results')
        .set({ final_state: null, final_schema: null })
        .where('game_id', 'in', due)
        .where('final_state', 'is not', null)
        .executeTakeFirst();
      const n = Number(r.numUpdatedRows);
      dropped += n;
      if (n < PRUNE_BATCH) return dropped;
      // Between batches, the node's other work (SQLite runs on its thread) and other writers.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Stops the prune timer, and a prune under way before its next batch. */
  stop(): void {
    this.#stopped = true;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    if (this.#firstPrune) clearTimeout(this.#firstPrune);
    this.#pruneTimer = null;
    this.#firstPrune = null;
  }

  #pruneOnTimer(): void {
    const retention = this.options.retention;
    if (!retention || this.#pruning) return;
    const before = this.#now() - retention.keepMs;
    this.#pruning = this.pruneFinalStates(before);
    this.#pruning.then(
      (n) => {
        if (n === 0) return;
        retention.onPruned?.(n);
        this.options.logger?.info(
          { boards: n, before: new Date(before).toISOString() },
          `dropped the final boards of ${n} games finished before ${new Date(before).toISOString()}`,
        );
      },
      // A busy or unreachable database is tried again at the next tick; a prune is never urgent.
      (err: unknown) => this.options.logger?.warn({ err }, 'prune of final boards failed'),
    );
    void this.#pruning.finally(() => (this.#pruning = null)).catch(() => undefined);
  }

  /**
   * Records a finished game; true if this call recorded it, false if it was already there.
   * A game everyone left before it started is no result and is not recorded.
   */
  async record(result: GameResult): Promise<boolean> {
    if (result.players.length === 0) return false;
    const winner = result.winnerId === null ? null : rowId(result.winnerId, result.gameId);
    const players = result.players.map((p) => ({ ...p, rowId: rowId(p.accountId, result.gameId) }));
    // A transaction PostgreSQL gave up for another (a deadlock with an operator's statement,
    // say: the standings' trigger itself takes its rows in account order) is run again; the
    // result is written once either way.
    for (let attempt = 1; ; attempt++) {
      try {
        const recorded = await this.db.transaction().execute(async (trx) => {
          const inserted = await trx
            .insertInto('results')
            .values({
              game_id: result.gameId,
              code: result.code,
              finished_at: result.finishedAt,
              rounds: result.rounds,
              winner_account_id: winner,
              final_schema: result.final?.schema ?? null,
              final_state: result.final ? JSON.stringify(result.final.state) : null,
            })
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst();
          // Another node recorded this game first: its players are in, count nothing twice.
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
          if (players.length > 0) {
            await trx
              .insertInto('result_players')
              .values(
                players.map((p) => ({
                  game_id: result.gameId,
                  account_id: p.rowId,
                  won: p.won ? 1 : 0,
                  eliminated_round: p.eliminatedRound,
                  dealt: p.dealt ?? 0,
                  finished_at: result.finishedAt,
                })),
              )
              .onConflict((oc) => oc.doNothing())
              .execute();
          }
          return true;
        });
        // The leaderboard shows it at once on this node.
        if (recorded) this.#recentPages.clear();
        return recorded;
      } catch (err) {
        if (attempt >= RECORD_ATTEMPTS || !isTransactionConflict(err)) throw err;
      }
    }
  }

  /** The last state of the latest finished game with this code, if it was kept. */
  async finalByCode(code: string): Promise<FinalState | null> {
    const row = await this.finals()
      .where('code', '=', code)
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return parseFinal(row);
  }

  /** The last state of one finished game, if it was kept. */
  async finalById(gameId: string): Promise<FinalState | null> {
    return parseFinal(await this.finals().where('game_id', '=', gameId).executeTakeFirst());
  }

  /**
   * A finished game as its result keeps it (its board or not), by id, or else the latest of
   * that code; null if none was recorded.
   */
  async summary(code: string, gameId: string | null): Promise<GameSummary | null> {
    let q = this.db
      .selectFrom('results')
      .select((eb) => [
        'game_id as gameId',
        'code',
        'finished_at as finishedAt',
        'rounds',
        eb('final_state', 'is not', null).as('boardKept'),
      ]);
    q = gameId
      ? q.where('game_id', '=', gameId)
      : q.where('code', '=', code).orderBy('finished_at', 'desc').limit(1);
    const game = await q.executeTakeFirst();
    if (!game || game.code !== code) return null;
    const rows = await this.db
      .selectFrom('result_players as rp')
      .innerJoin('accounts as a', 'a.id', 'rp.account_id')
      .select([
        'a.username as username',
        'rp.won as won',
        'rp.eliminated_round as eliminatedRound',
        'rp.dealt as dealt',
      ])
      .where('rp.game_id', '=', game.gameId)
      .execute();
    const lasted = (p: { eliminatedRound: number | null }) =>
      p.eliminatedRound ?? Number.MAX_SAFE_INTEGER;
    const players = rows
      .map((p) => ({ ...p, won: p.won === 1 }))
      .sort(
        (a, b) =>
          Number(b.won) - Number(a.won) ||
          lasted(b) - lasted(a) ||
          a.username.localeCompare(b.username),
      );
    return { ...game, boardKept: Boolean(game.boardKept), players };
  }

  private finals() {
    return this.db
      .selectFrom('results')
      .select([
        'game_id as gameId',
        'code',
        'finished_at as finishedAt',
        'final_schema as schema',
        'final_state as state',
      ])
      .where('final_state', 'is not', null);
  }

  /** Damage a player dealt to other heroes over all recorded games. */
  async dealtBy(accountId: string): Promise<number> {
    const id = accountRowId(accountId);
    if (id === null) return 0;
    return this.#dealt.read(String(id), async () => (await this.#totals(id))?.dealt ?? 0);
  }

  /** Games a player finished and won, from their standing (one row, however many games). */
  async recordFor(accountId: string): Promise<PlayerRecord> {
    const id = accountRowId(accountId);
    if (id === null) return { played: 0, won: 0 };
    return this.#records.read(String(id), async () => {
      const row = await this.#totals(id);
      return { played: row?.played ?? 0, won: row?.won ?? 0 };
    });
  }

  #totals(id: number) {
    return this.db
      .selectFrom('standings')
      .select(['played', 'won', 'dealt'])
      .where('account_id', '=', id)
      .executeTakeFirst();
  }

  /**
   * Page `page` (from 1; past the last, the last) of the leaderboard, `size` heroes a page, each
   * with their place: most wins first; among equal wins, fewer games played first, then by name.
   * Reads one page of the standings' index, however many games were recorded.
   */
  leaderboardPage(page: number, size: number): Promise<LeaderboardPage> {
    // A page asked for many times a second is read once: it is the one read a page view makes
    // that costs more than a lookup (a sort of the ties by name), ~0.3 ms on SQLite.
    const key = `${page}:${size}`;
    const kept = this.#recentPages.get(key);
    if (kept && this.#now() - kept.at < LEADERBOARD_MS) return kept.page;
    if (this.#recentPages.size >= 1_000) this.#recentPages.clear();
    const read = { at: this.#now(), page: this.#readPage(page, size) };
    this.#recentPages.set(key, read);
    // A failed read is not kept: the next view asks again.
    read.page.catch(() => {
      if (this.#recentPages.get(key) === read) this.#recentPages.delete(key);
    });
    return read.page;
  }

  #readPage(page: number, size: number): Promise<LeaderboardPage> {
    return this.#pages.read(`${page}:${size}`, async () => {
      let at = Math.max(1, Math.floor(page));
      // The page and how many heroes there are, in one statement; a page past the last is
      // read again as the last.
      let rows = await this.#page(at, size);
      const total = rows[0]?.total ?? (await this.#heroes());
      const pages = Math.max(1, Math.ceil(total / size));
      if (at > pages) {
        at = pages;
        rows = await this.#page(at, size);
      }
      const first = (at - 1) * size;
      return {
        rows: rows.map((r, i) => ({ ...leaderboardRow(r), place: first + i + 1 })),
        page: at,
        pages,
        total,
      };
    });
  }

  #page(page: number, size: number) {
    return this.db
      .selectFrom('standings as s')
      .innerJoin('accounts as a', 'a.id', 's.account_id')
      .select((eb) => [
        's.account_id as accountId',
        'a.username as username',
        's.played',
        's.won',
        eb
          .selectFrom('standings')
          .select((c) => c.fn.countAll<number>().as('n'))
          .$asScalar()
          .as('total'),
      ])
      .orderBy('s.won', 'desc')
      .orderBy('s.played', 'asc')
      .orderBy('a.username', 'asc')
      .limit(size)
      .offset((page - 1) * size)
      .execute();
  }

  /**
   * The player's place on the leaderboard (1 for the first) among how many heroes it ranks,
   * with the totals it ranks them by; null for a player with no finished game. The place is a
   * count of the heroes ahead, over the standings' index; all of it is one statement.
   */
  async standingOf(accountId: string): Promise<Standing | null> {
    const id = accountRowId(accountId);
    if (id === null) return null;
    return this.#standings.read(String(id), async () => {
      // Ahead: more wins; as many wins in fewer games; as many of both, a name before it.
      const found = await sql<{
        accountId: number;
        username: string;
        played: number;
        won: number;
        ahead: number;
        heroes: number;
      }>`select s.account_id as "accountId", a.username as "username", s.played as "played",
          s.won as "won",
          (select count(*) from standings o where o.won > s.won)
          + (select count(*) from standings o where o.won = s.won and o.played < s.played)
          + (select count(*) from standings o join accounts oa on oa.id = o.account_id
              where o.won = s.won and o.played = s.played and oa.username < a.username)
            as "ahead",
          (select count(*) from standings) as "heroes"
        from standings s join accounts a on a.id = s.account_id
        where s.account_id = ${id}`.execute(this.db);
      const row = found.rows[0];
      return row ? { ...leaderboardRow(row), place: row.ahead + 1, of: row.heroes } : null;
    });
  }

  /** Heroes on the leaderboard: every one who finished a game. */
  async #heroes(): Promise<number> {
    const row = await this.db
      .selectFrom('standings')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async recentFor(accountId: string, limit = 10): Promise<RecentGame[]> {
    const id = accountRowId(accountId);
    if (id === null) return [];
    return this.#recent.read(`${id}:${limit}`, () => this.#recentFor(id, limit));
  }

  async #recentFor(id: number, limit: number): Promise<RecentGame[]> {
    const rows = await this.db
      .selectFrom('result_players as rp')
      .innerJoin('results as r', 'r.game_id', 'rp.game_id')
      .leftJoin('accounts as w', 'w.id', 'r.winner_account_id')
      .select([
        'r.game_id as gameId',
        'r.code as code',
        'r.finished_at as finishedAt',
        'r.rounds as rounds',
        'rp.won as won',
        'rp.eliminated_round as eliminatedRound',
        'rp.dealt as dealt',
        'w.username as winnerUsername',
      ])
      .where('rp.account_id', '=', id)
      // The first rows of the index of a hero's games by time (migration 008).
      .orderBy('rp.finished_at', 'desc')
      .orderBy('rp.game_id')
      .limit(limit)
      .execute();
    if (rows.length === 0) return [];
    // The other players of those games, in one query.
    const others = await this.db
      .selectFrom('result_players as o')
      .innerJoin('accounts as a', 'a.id', 'o.account_id')
      .select(['o.game_id as gameId', 'a.username as username'])
      .where(
        'o.game_id',
        'in',
        rows.map((r) => r.gameId),
      )
      .where('o.account_id', '!=', id)
      .orderBy('a.username')
      .execute();
    return rows.map((r) => ({
      ...r,
      won: r.won === 1,
      opponents: others.filter((o) => o.gameId === r.gameId).map((o) => o.username),
    }));
  }
}

function leaderboardRow(r: {
  accountId: number;
  username: string;
  played: number;
  won: number;
}): LeaderboardRow {
  const { played, won } = r;
  return {
    accountId: String(r.accountId),
    username: r.username,
    played,
    won,
    winRate: played > 0 ? won / played : 0,
  };
}

function parseFinal(
  row:
    | {
        gameId: string;
        code: string;
        finishedAt: number;
        schema: number | null;
        state: string | null;
      }
    | undefined,
): FinalState | null {
  if (!row || row.state === null || row.schema === null) return null;
  try {
    return {
      gameId: row.gameId,
      code: row.code,
      finishedAt: row.finishedAt,
      schema: row.schema,
      state: JSON.parse(row.state) as unknown,
    };
  } catch {
    return null;
  }
}
