// The live differ: what a page must be sent to turn the trees it holds into the trees just
// rendered, as one message. Pure: it takes the page's state (what it holds) and updates it in
// step with what the page will do on receipt (public/js/live-render.js applies the message).
//
// A message is JSON: {"type":"render","t":{templates},"p":{target: change}}.
//   - "t": the fixed text of each template the page has not been sent yet, by id;
//   - a change is a string (new text), a full tree {"t":id,"d":[…]}, a list of full trees, or a
//     diff: {"d":{index: change}} of a tree with the same template, {"n":length,"d":{…}} of a list,
//     or {"n":length,"a":change} of a list whose every item changed alike (the round number in
//     each of twelve buttons is sent once); in a list diff, {"=":j} is "the change of item j",
//     and {"<":j,"l":n} is "the n items from index j of the list held before" (items that
//     moved: n is 1 when absent);
//   - a long text the page was sent before is {"$":id}; the first time, {"$":id,"v":text} (a
//     tile's outline comes back as the Minotaur and the heroes move about).
//   - "k":1 on a change: before applying it, the page keeps the value it replaces (per path);
//     "p":1: the change applies to that kept value instead of the current one. A panel that
//     alternates (the move buttons, then "submitted", then the buttons of the next round) is
//     sent as the few values that differ from the last time it was shown.
//   - a Mark is {"@":seat,"y":full,"n":full} (seat: a number, or "seated"), a Slot {"s":name};
//     both are always sent whole (they are small).
// Unchanged parts cost nothing: trees reused from a cache are the same objects, compared by
// identity before anything else.
//
// Templates of the release's table (template-table.ts) have the same ids on every node, and a
// page that holds the table (template-script.ts) starts with all of them known: it is never sent
// their fixed text. A stream counts on its pages holding the table; a page that does not is sent
// the fixed text of the table's templates each part uses (PatchMessage.used) with its own
// message, the first time it needs it.
//
// A Stream is one differ shared by every page of a game on a node: it is advanced once per
// state, and its change text goes as it is to every page that holds its previous version
// ({"type":"render",…,"g":{"t":…,"p":…}}; the page keeps the stream's trees, texts and kept
// values apart from its own). A page that is not in step gets the stream's whole state instead
// ("g":{"r":1,"t":…,"w":[texts],"k":{path:tree},"p":{target:tree}}).

import { Mark, Rendered, Slot, TABLE_SIZE, templateById, type Dyn, type Template } from './html.js';

export interface PatchState {
  /** The tree of each target the page holds. */
  readonly trees: Map<string, Dyn>;
  /** Long texts the page keeps, by id. */
  readonly words: Map<string, number>;
  /** Values the page kept when they were replaced, by path. */
  readonly kept: Map<string, Dyn>;
  /** Templates whose fixed text the page has, besides those below `base`. */
  readonly known: Set<number>;
  /** The page holds the fixed text of every template whose id is below this (the table's). */
  readonly base: number;
}

/** What a page holds before its first message: nothing, or (`table`) the release's templates. */
export function newPatchState(table = false): PatchState {
  return {
    trees: new Map(),
    words: new Map(),
    kept: new Map(),
    known: new Set(),
    base: table ? TABLE_SIZE : 0,
  };
}

/** A change, as JSON text (the differ writes the message as it goes: no objects to serialise). */
export type Change = string;

interface Run {
  st: PatchState;
  /** Templates sent in full in this message that the page does not know yet. */
  statics: Record<number, readonly string[]> | null;
  /** A snapshot: long texts are looked up, never added. */
  frozen?: boolean;
  /** A stream's: the table's templates the message uses are listed (null: not listed). */
  used: Set<number> | null;
}

export interface PatchMessage {
  /** The message's members: "t":{…},"p":{…}. */
  body: string;
  /** The targets it changes. */
  targets: string[];
  /** A stream's part: the table's templates it uses, whose fixed text it does not carry. */
  used?: readonly number[];
}

/** The render message of one or two bodies (the page's own, and a stream's). */
export function renderMessage(own: string | null, stream: string | null = null): string {
  return `{"type":"render"${own === null ? '' : `,${own}`}${stream === null ? '' : `,"g":{${stream}}`}}`;
}

/**
 * What brings the page from what it holds to `trees` (target → tree), or null when nothing
 * changed. Updates `st` as the page will update itself on receipt. `owed`: templates the page
 * needs for the stream's parts sent with this message, also sent if it does not have them.
 */
export function patch(
  st: PatchState,
  trees: Iterable<readonly [string, Dyn]>,
  owed?: Iterable<number>,
): PatchMessage | null {
  const run: Run = { st, statics: null, used: null };
  if (owed !== undefined)
    for (const id of owed) {
      const t = templateById(id);
      if (t !== undefined) know(run, t);
    }
  return patchRun(run, trees);
}

/** `patch` as the run says: a stream's run also lists the table's templates it uses. */
function patchRun(run: Run, trees: Iterable<readonly [string, Dyn]>): PatchMessage | null {
  const { st } = run;
  let changes = '';
  const targets: string[] = [];
  for (const [target, next] of trees) {
    const old = st.trees.get(target);
    const c = change(run, target, old, next);
    if (c === undefined) continue;
    changes += `${targets.length ? ',' : ''}${JSON.stringify(target)}:${c}`;
    st.trees.set(target, next);
    targets.push(target);
  }
  if (targets.length === 0 && run.statics === null) return null;
  const msg: PatchMessage = { body: `"t":{${staticsOf(run)}},"p":{${changes}}`, targets };
  if (run.used !== null && run.used.size > 0) msg.used = [...run.used];
  return msg;
}

/**
 * The table's templates that a stream's `part` uses and the page does not hold (a page without
 * the table: `patch` sends their fixed text with the page's own message), or undefined.
 */
export function owedFor(st: PatchState, part: PatchMessage | null): number[] | undefined {
  let owed: number[] | undefined;
  if (part?.used === undefined || st.base >= TABLE_SIZE) return owed;
  for (const id of part.used) if (id >= st.base && !st.known.has(id)) (owed ??= []).push(id);
  return owed;
}

/**
 * The template's fixed text goes with this message if the page has not been sent it; one of the
 * table's, which the page holds, is only listed (a stream's run).
 */
function know(run: Run, t: Template): void {
  const { st } = run;
  if (t.id < st.base) run.used?.add(t.id);
  else if (!st.known.has(t.id)) {
    st.known.add(t.id);
    (run.statics ??= {})[t.id] = t.s;
  }
}

function staticsOf(run: Run): string {
  // Most messages bring no new template: no object to list.
  if (run.statics === null) return '';
  let statics = '';
  for (const id in run.statics)
    statics += `${statics ? ',' : ''}"${id}":${JSON.stringify(run.statics[id])}`;
  return statics;
}

/**
 * Everything a page needs to hold exactly what `st` says it holds: every template, long text,
 * kept value and tree (a page that joins a stream, or fell behind it).
 */
export function snapshot(st: PatchState, used: Set<number> | null = null): string {
  const statics: Record<number, readonly string[]> = {};
  for (const id of st.known) {
    const t = templateById(id);
    if (t) statics[id] = t.s;
  }
  const run: Run = { st, statics, frozen: true, used };
  let kept = '';
  for (const [path, v] of st.kept)
    kept += `${kept ? ',' : ''}${JSON.stringify(path)}:${fullDyn(run, v)}`;
  let trees = '';
  for (const [target, v] of st.trees)
    trees += `${trees ? ',' : ''}${JSON.stringify(target)}:${fullDyn(run, v)}`;
  return `"r":1,"t":{${staticsOf(run)}},"w":${JSON.stringify([...st.words.keys()])},"k":{${kept}},"p":{${trees}}`;
}

/**
 * One differ shared by the pages of a game: advanced once per state (`advance` with the same
 * trees object is a no-op), it tells each page what it needs from the version the page holds.
 * It keeps a change only while a page that reads it still needs it: once every page is in step
 * (usually the turn after the change), the change goes, and what it was made of dies young
 * instead of being copied into the garbage collector's old generation.
 */
export class Stream {
  private st = newPatchState(true);
  private last: unknown = undefined;
  private ver = 0;
  /** The latest changes pages may still need, oldest first: the last goes from version - 1 to
   * version. */
  private recent: PatchMessage[] = [];
  private whole: PatchMessage | null = null;
  /** How many reading pages hold each version (versions nobody holds are not listed). */
  private readonly holding = new Map<number, number>();

  get version(): number {
    return this.ver;
  }

  /** Brings the stream to `trees` (one object per game state: the same one again is no change). */
  advance(trees: Iterable<readonly [string, Dyn]>): void {
    if (trees === this.last) return;
    this.last = trees;
    // A page that joins is sent every long text the stream keeps: past a few hundred, the
    // stream starts over (its next change is the whole trees, with the texts they use).
    if (this.st.words.size >= STREAM_WORDS) this.st = newPatchState(true);
    const msg = patchRun({ st: this.st, statics: null, used: new Set() }, trees);
    if (msg === null) return;
    this.ver++;
    this.recent.push(msg);
    if (this.recent.length > STREAM_RECENT) this.recent.shift();
    this.whole = null;
  }

  /**
   * What a page that holds version `held` (-1: nothing yet) must be sent, as `since` says; the
   * page then holds the stream's version, and the stream keeps the changes for it from there.
   * A page that stops reading says so with `leave`.
   */
  read(held: number): readonly PatchMessage[] | null {
    const parts = this.since(held);
    if (held !== this.ver) {
      this.drop(held);
      this.holding.set(this.ver, (this.holding.get(this.ver) ?? 0) + 1);
      this.trim();
    }
    return parts;
  }

  /** A page that read this stream at version `held` reads it no more (closed, or moved on). */
  leave(held: number): void {
    this.drop(held);
    this.trim();
  }

  /**
   * The stream's parts of messages for a page that holds version `held` (-1: nothing yet), to
   * be applied in order, or null when it is in step; `targets` are those a part changes. A page
   * a few versions behind (a spectator's, rendered a few turns after the players': see
   * render-turns.ts) gets the changes it missed, one by one; one further behind, or new, gets
   * the stream's whole state.
   */
  private since(held: number): readonly PatchMessage[] | null {
    if (held === this.ver) return null;
    const behind = this.ver - held;
    if (held >= 0 && behind <= this.recent.length)
      return this.recent.slice(this.recent.length - behind);
    if (this.whole === null) {
      const used = new Set<number>();
      this.whole = { body: snapshot(this.st, used), targets: [...this.st.trees.keys()] };
      if (used.size > 0) this.whole.used = [...used];
    }
    return [this.whole];
  }

  private drop(held: number): void {
    const n = this.holding.get(held);
    if (n === undefined) return;
    if (n > 1) this.holding.set(held, n - 1);
    else this.holding.delete(held);
  }

  /** Lets go of the changes no reading page needs (those up to the oldest version held). */
  private trim(): void {
    const from = this.ver - this.recent.length;
    let needed = 0;
    for (let k = 0; k < this.recent.length; k++)
      if (this.holding.has(from + k)) {
        needed = this.recent.length - k;
        break;
      }
    if (needed < this.recent.length) this.recent = this.recent.slice(this.recent.length - needed);
  }
}

/**
 * Changes a stream keeps for pages that fell behind it: further behind, a page is sent the
 * stream's whole state (a first render's size) instead.
 */
export const STREAM_RECENT = 8;

/** Texts at least this long are kept by the page and sent again as a reference. */
const WORD_MIN = 24;
/** Long texts a page keeps at most (past that, they are sent as they are). */
const WORDS_MAX = 4096;
/** Long texts a stream keeps before it starts over. */
export const STREAM_WORDS = 256;

function text(run: Run, s: string): Change {
  if (s.length < WORD_MIN) return JSON.stringify(s);
  const { words } = run.st;
  const id = words.get(s);
  if (id !== undefined) return `{"$":${id}}`;
  if (words.size >= WORDS_MAX || run.frozen) return JSON.stringify(s);
  words.set(s, words.size);
  return `{"$":${words.size - 1},"v":${JSON.stringify(s)}}`;
}

function change(run: Run, path: string, old: Dyn | undefined, next: Dyn): Change | undefined {
  if (old === next) return undefined;
  if (typeof next === 'string') return text(run, next);
  if (next instanceof Mark)
    return old instanceof Mark && old.who === next.who && old.yes === next.yes && old.no === next.no
      ? undefined
      : fullDyn(run, next);
  if (next instanceof Slot)
    return old instanceof Slot && old.name === next.name ? undefined : fullDyn(run, next);
  const { kept } = run.st;
  if (Array.isArray(next)) {
    const list = next as readonly Rendered[];
    const held = Array.isArray(old) ? (old as readonly Rendered[]) : null;
    let base: readonly Rendered[] = held ?? [];
    let flags = '';
    if (held !== null && held.length > 0 && list.length === 0) {
      // Emptied: the page keeps what it showed, for when it comes back.
      flags = ',"k":1';
      kept.set(path, held);
    } else if (base.length === 0 && list.length > 0 && kept.size > 0) {
      const prev = kept.get(path);
      if (Array.isArray(prev) && prev.length > 0) {
        flags = ',"p":1';
        base = prev as readonly Rendered[];
      }
    }
    const changed = flags !== '' || held === null || list.length !== base.length;
    const items: (Change | undefined)[] = [];
    // Items that are trees the page holds at another index (a chat line moved up, a lobby row
    // moved down): from[i] is that index, or -1.
    let from: number[] | null = null;
    let count = 0;
    let shift = 1;
    for (let i = 0; i < list.length; i++) {
      const item = list[i] as Rendered;
      // The same tree is no change: skipped before its path is even built (most items are).
      if (base[i] === item) {
        items.push(undefined);
        continue;
      }
      // Only in place of a tree of the same template (or past the end of the list held): a
      // placeholder that takes another template's place (no token, no reachable tile) is a
      // switch the page keeps the replaced tree for, and comes back to it by its path.
      const was = base[i];
      const j = was === undefined || was.t === item.t ? movedFrom(base, item, i, shift) : -1;
      if (j >= 0) {
        from ??= new Array<number>(list.length).fill(-1);
        from[i] = j;
        shift = j - i;
        items.push(undefined);
        count++;
        continue;
      }
      const c = change(run, `${path}.${i}`, was, item);
      items.push(c);
      if (c !== undefined) count++;
    }
    if (count === 0) return changed ? `{"n":${list.length}${flags}}` : undefined;
    if (from === null && count > 1 && count === list.length && items.every((c) => c === items[0]))
      return `{"n":${list.length},"a":${items[0]}${flags}}`;
    let d = '';
    for (let i = 0; i < items.length; i++) {
      const j = from === null ? -1 : (from[i] as number);
      if (j >= 0) {
        // A run of items that keep their order is one reference: {"<":first,"l":length}.
        let run = 1;
        while (i + run < items.length && from?.[i + run] === j + run) run++;
        d += `${d ? ',' : ''}"${i}":{"<":${j}${run > 1 ? `,"l":${run}` : ''}}`;
        i += run - 1;
        continue;
      }
      const c = items[i];
      if (c === undefined) continue;
      const k = count > 1 ? sameAs(items, i) : -1;
      d += `${d ? ',' : ''}"${i}":${k < 0 ? c : `{"=":${k}}`}`;
    }
    return `{"n":${list.length},"d":{${d}}${flags}}`;
  }
  const node = next as Rendered;
  if (old instanceof Rendered && old.t === node.t) {
    const d = dynsDiff(run, path, old, node);
    return d === null ? undefined : `{"d":{${d}}}`;
  }
  const keepOld = old instanceof Rendered || Array.isArray(old);
  const prev = kept.size === 0 ? undefined : kept.get(path);
  if (prev instanceof Rendered && prev.t === node.t) {
    if (keepOld) kept.set(path, old);
    return `{"d":{${dynsDiff(run, path, prev, node) ?? ''}},"p":1${keepOld ? ',"k":1' : ''}}`;
  }
  if (keepOld) kept.set(path, old);
  return full(run, node, keepOld ? ',"k":1' : '');
}

/** How far from its index a moved item is looked for in the list the page holds. */
const MOVE_REACH = 4;

/**
 * The index at which the page's list `base` holds `item` itself, near index `i` (a few items
 * inserted or removed before it: the offset found for the item before is tried first), or -1.
 * Trees kept in a cache (chat lines, lobby rows) are the same objects when they move.
 */
function movedFrom(base: readonly Rendered[], item: Rendered, i: number, shift: number): number {
  if (base.length === 0) return -1;
  if (shift !== 0 && base[i + shift] === item) return i + shift;
  for (let d = 1; d <= MOVE_REACH; d++) {
    if (d !== shift && base[i + d] === item) return i + d;
    if (-d !== shift && base[i - d] === item) return i - d;
  }
  return -1;
}

/**
 * The first earlier item changed exactly like item `i` (sent as a reference to it), or -1. Only
 * changes longer than a reference are worth one; lengths are compared before texts, so two
 * changes are compared only when they may be the same (the texts are not hashed).
 */
function sameAs(items: readonly (Change | undefined)[], i: number): number {
  const c = items[i] as Change;
  if (c.length <= 8) return -1;
  for (let j = 0; j < i; j++) {
    const e = items[j];
    if (e !== undefined && e.length === c.length && e === c) return j;
  }
  return -1;
}

/** The changed values of a tree, as JSON members ("index":change), or null. */
function dynsDiff(run: Run, path: string, old: Rendered, next: Rendered): string | null {
  let d: string | null = null;
  for (let i = 0; i < next.d.length; i++) {
    const v = next.d[i] as Dyn;
    if (old.d[i] === v) continue;
    // A text (the most common value) needs no path: it is sent as it is, or as a reference.
    const c = typeof v === 'string' ? text(run, v) : change(run, `${path}.${i}`, old.d[i], v);
    if (c !== undefined) d = `${d === null ? '' : `${d},`}"${i}":${c}`;
  }
  return d;
}

function full(run: Run, node: Rendered, flags = ''): Change {
  const { t } = node;
  know(run, t);
  let d = '';
  for (let i = 0; i < node.d.length; i++) d += `${i ? ',' : ''}${fullDyn(run, node.d[i] as Dyn)}`;
  return `{"t":${t.id},"d":[${d}]${flags}}`;
}

function fullDyn(run: Run, v: Dyn): Change {
  if (typeof v === 'string') return text(run, v);
  if (v instanceof Mark)
    return `{"@":${JSON.stringify(v.who)},"y":${fullDyn(run, v.yes)},"n":${fullDyn(run, v.no)}}`;
  if (v instanceof Slot) return `{"s":${JSON.stringify(v.name)}}`;
  if (Array.isArray(v)) {
    let items = '';
    for (let i = 0; i < v.length; i++)
      items += `${i ? ',' : ''}${full(run, (v as readonly Rendered[])[i] as Rendered)}`;
    return `[${items}]`;
  }
  return full(run, v as Rendered);
}
