// Games kept in the database when no peer can adopt them (the last node stopping), resumed by
// the next node that starts on it. Versions are ordered like the replicated store's records:
// by epoch, then owner (byte-wise), then seq, and compared by the database inside the write,
// so two nodes writing the same game at once leave the right row whatever the timing.

import {
  CompiledQuery,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type OnConflictDatabase,
  type OnConflictTables,
  type Selectable,
  type SqlBool,
} from 'kysely';
import { jsonText } from '../json-text.js';
import type { GameState } from '../game/types.js';
import type { DbLogger } from './logger.js';
import type { Database, SnapshotsTable } from './schema.js';

export interface SnapshotVersion {
  epoch: number;
  owner: string;
  seq: number;
}

export interface Snapshot extends SnapshotVersion {
  code: string;
  gameId: string;
  schema: number;
  state: GameState;
  /**
   * When the game's owner wrote this version (ms); kept as `updatedAt`, so a copy read back is that
   * very write. Default: now.
   */
  at?: number;
}

export interface StoredSnapshot extends Snapshot {
  updatedAt: number;
}

/** A saved game without its state: what a node checks every few seconds for every game. */
export interface SnapshotHead extends SnapshotVersion {
  code: string;
  gameId: string;
  schema: number;
  updatedAt: number;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly code: 'CLAIM_NOT_NEWER' | 'CLAIM_OTHER_GAME',
    message: string,
  ) {
    super(message);
  }
}

function newer(a: SnapshotVersion, b: SnapshotVersion): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.owner !== b.owner) return a.owner > b.owner;
  return a.seq > b.seq;
}

export class Snapshots {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { now?: () => number; logger?: DbLogger } = {},
  ) {}

  /**
   * Saves the game unless a row for its code holds an equal or newer version; true if written.
   * One statement: the insert, or the update only where the stored version is older.
   */
  async save(snapshot: Snapshot): Promise<boolean> {
    return this.upsert(snapshot, (eb) =>
      eb(
        eb.refTuple('excluded.epoch', 'excluded.owner', 'excluded.seq'),
        '>',
        eb.refTuple('snapshots.epoch', 'snapshots.owner', 'snapshots.seq'),
      ),
    );
  }

  /**
   * Saves several games in one statement (each at most once), with save()'s rule for each;
   * returns the codes written. Group commit: an owner's writes of one moment cost one round
   * trip and one transaction instead of one each.
   */
  async saveMany(snapshots: readonly Snapshot[]): Promise<Set<string>> {
    const written = new Set<string>();
    for (let i = 0; i < snapshots.length; i += SAVE_MANY_ROWS) {
      const chunk = snapshots.slice(i, i + SAVE_MANY_ROWS);
      const rows = chunk.map((s) => this.row(s));
      const sql = this.saveManySql(rows.length);
      const { rows: out } = await this.db.executeQuery<{ code: string }>(
        CompiledQuery.raw(sql, rows.flatMap(rowValues)),
      );
      for (const r of out) written.add(r.code);
    }
    return written;
  }

  /**
   * The SQL of saveMany for `n` rows, built once per size: building and compiling the query
   * took about 7 % of a busy node's time (a save per action), the statement itself about 5 %.
   */
  private saveManySql(n: number): string {
    let sql = this.saveManyCache.get(n);
    if (sql !== undefined) return sql;
    const probe = Array.from({ length: n }, (_, i) => this.row(probeSnapshot(i)));
    const compiled = this.db
      .insertInto('snapshots')
      .values(probe)
      .onConflict((oc) =>
        oc
          .column('code')
          .doUpdateSet(REPLACE_ALL)
          .where((eb) =>
            eb(
              eb.refTuple('excluded.epoch', 'excluded.owner', 'excluded.seq'),
              '>',
              eb.refTuple('snapshots.epoch', 'snapshots.owner', 'snapshots.seq'),
            ),
          ),
      )
      .returning('code')
      .compile();
    // The parameters must be the rows' values, row by row, in ROW_COLUMNS order.
    const expected = probe.flatMap(rowValues);
    if (
      compiled.parameters.length !== expected.length ||
      compiled.parameters.some((v, i) => v !== expected[i])
    )
      throw new Error('saveMany: the compiled upsert does not take its rows in column order');
    sql = compiled.sql;
    if (this.saveManyCache.size >= SAVE_MANY_SIZES) this.saveManyCache.clear();
    this.saveManyCache.set(n, sql);
    return sql;
  }

  private readonly saveManyCache = new Map<number, string>();

  /**
   * Compare-and-set: writes `next` only if there is no row for `code` or the stored version is
   * at most `base` (the version the caller read); true if written. Of several nodes claiming
   * from the same base, exactly one wins. `next` must be newer than `base`.
   */
  async claim(code: string, base: SnapshotVersion, next: Snapshot): Promise<boolean> {
    if (next.code !== code)
      throw new SnapshotError(
        'CLAIM_OTHER_GAME',
        `a claim of ${code} cannot write a snapshot of ${next.code}`,
      );
    if (!newer(next, base)) {
      throw new SnapshotError(
        'CLAIM_NOT_NEWER',
        `a claim of ${code} must write a newer version than its base (${base.epoch}/${base.owner}/${base.seq})`,
      );
    }
    return this.upsert(next, (eb) =>
      eb(
        eb.refTuple('snapshots.epoch', 'snapshots.owner', 'snapshots.seq'),
        '<=',
        eb.tuple(base.epoch, base.owner, base.seq),
      ),
    );
  }

  async get(code: string): Promise<StoredSnapshot | null> {
    const row = await this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('code', '=', code)
      .executeTakeFirst();
    return row ? this.parse(row) : null;
  }

  /** Every saved game, state parsed. Rows whose state cannot be parsed are skipped and logged. */
  async all(): Promise<StoredSnapshot[]> {
    const rows = await this.db.selectFrom('snapshots').selectAll().orderBy('code').execute();
    return rows.map((r) => this.parse(r)).filter((s): s is StoredSnapshot => s !== null);
  }

  /**
   * Every saved game's version, without its state: what a node checks every five seconds for
   * games no live node runs. Reading and parsing every state instead cost 10 ms of CPU per check
   * at 200 games and 42 ms at 1,000 (this: 1 and 4 ms).
   */
  async heads(): Promise<SnapshotHead[]> {
    const rows = await this.db
      .selectFrom('snapshots')
      .select(['code', 'game_id', 'owner', 'epoch', 'seq', 'schema', 'updated_at'])
      .orderBy('code')
      .execute();
    return rows.map((r) => ({
      code: r.code,
      gameId: r.game_id,
      owner: r.owner,
      epoch: r.epoch,
      seq: r.seq,
      schema: r.schema,
      updatedAt: r.updated_at,
    }));
  }

  /** Removes the snapshot of `code` only if it is still of game `gameId`; true if removed. */
  async remove(code: string, gameId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('snapshots')
      .where('code', '=', code)
      .where('game_id', '=', gameId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  private row(snap: Snapshot): SnapshotRow {
    return {
      code: snap.code,
      game_id: snap.gameId,
      owner: snap.owner,
      epoch: snap.epoch,
      seq: snap.seq,
      schema: snap.schema,
      state: jsonText(snap.state),
      updated_at: Math.round(snap.at ?? (this.options.now ?? Date.now)()),
    };
  }

  private async upsert(snap: Snapshot, replaceWhen: ReplaceWhen): Promise<boolean> {
    const r = await this.db
      .insertInto('snapshots')
      .values(this.row(snap))
      .onConflict((oc) => oc.column('code').doUpdateSet(REPLACE_ALL).where(replaceWhen))
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  private parse(row: Selectable<SnapshotsTable>): StoredSnapshot | null {
    let state: GameState;
    try {
      state = JSON.parse(row.state) as GameState;
    } catch (err) {
      this.options.logger?.warn(
        { err, code: row.code },
        `snapshot of game ${row.code} is unreadable; skipped`,
      );
      return null;
    }
    return {
      code: row.code,
      gameId: row.game_id,
      owner: row.owner,
      epoch: row.epoch,
      seq: row.seq,
      schema: row.schema,
      state,
      updatedAt: row.updated_at,
    };
  }
}

/**
 * Rows per statement of saveMany (8 parameters each: far below SQLite's and PostgreSQL's
 * limits).
 */
const SAVE_MANY_ROWS = 500;

/** Statement sizes of saveMany kept (a group commit is usually a few rows). */
const SAVE_MANY_SIZES = 64;

/** The columns of a snapshot row, in the order row() writes them. */
const ROW_COLUMNS = [
  'code',
  'game_id',
  'owner',
  'epoch',
  'seq',
  'schema',
  'state',
  'updated_at',
] as const satisfies readonly (keyof SnapshotRow)[];

function rowValues(row: SnapshotRow): unknown[] {
  return ROW_COLUMNS.map((c) => row[c]);
}

/** A snapshot as its row. */
type SnapshotRow = SnapshotsTable;

/** A snapshot whose row values are all distinct (to check the compiled parameters' order). */
function probeSnapshot(i: number): Snapshot {
  return {
    code: `probe-code-${i}`,
    gameId: `probe-game-${i}`,
    owner: `probe-owner-${i}`,
    epoch: 1_000_000 + i * 8,
    seq: 1_000_001 + i * 8,
    schema: 1_000_002 + i * 8,
    state: { probe: i } as unknown as GameState,
    at: 1_000_003 + i * 8,
  };
}

/** An upsert that replaces the stored row replaces all of it. */
const REPLACE_ALL = (
  eb: ExpressionBuilder<OnConflictDatabase<Database, 'snapshots'>, OnConflictTables<'snapshots'>>,
) => ({
  game_id: eb.ref('excluded.game_id'),
  owner: eb.ref('excluded.owner'),
  epoch: eb.ref('excluded.epoch'),
  seq: eb.ref('excluded.seq'),
  schema: eb.ref('excluded.schema'),
  state: eb.ref('excluded.state'),
  updated_at: eb.ref('excluded.updated_at'),
});

/** When an existing row is replaced: a condition over the stored row and the `excluded` one. */
type ReplaceWhen = (
  eb: ExpressionBuilder<OnConflictDatabase<Database, 'snapshots'>, OnConflictTables<'snapshots'>>,
) => Expression<SqlBool>;
