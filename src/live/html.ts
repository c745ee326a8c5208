// HTML as a tree of statics and dynamics (Phoenix LiveView's "Rendered"): a template's fixed
// text is known once per call site, and a render is only the values between those pieces. The
// first HTTP response turns a tree into a string (toHtml); a live socket sends a page only what
// changed in it (patch.ts), with each template's fixed text sent once per socket.
//
// `html` is a tagged template: html`<p class="x">${name}</p>`. Values are escaped exactly as
// EJS's <%= %> escapes them; a nested tree or a list of trees is inserted as it is.
//
// Two values let one tree serve every viewer of a game (game-frame.ts): a Mark ("this on the
// page of the hero in seat n, that elsewhere": the ring around your own token) and a Slot (a
// place filled from the page's own part: your reachable tiles inside the shared board). A
// Viewpoint resolves both, on the server for a first response and on the page for live ones.

import { TEMPLATE_TABLE } from './template-table.js';

/** The fixed text of one template call site: s.length is the number of values plus one. */
export interface Template {
  readonly id: number;
  readonly s: readonly string[];
}

/**
 * Escaped HTML text, a nested tree, a list of trees (written one after the other), or a value
 * that depends on who looks (Mark, Slot).
 */
export type Dyn = string | Rendered | readonly Rendered[] | Mark | Slot;

export class Rendered {
  constructor(
    readonly t: Template,
    readonly d: readonly Dyn[],
  ) {}
}

/** Who a mark is for: the hero of one seat (their colour, unique in a game), or any seated hero. */
export type Seat = number | 'seated';

/** `yes` on the page of the hero in seat `who` (any seated hero for 'seated'), `no` elsewhere. */
export class Mark {
  constructor(
    readonly who: Seat,
    readonly yes: Dyn,
    readonly no: Dyn,
  ) {}
}

/** A place in a shared tree that each page fills from its own part: its target `name`. */
export class Slot {
  constructor(readonly name: string) {}
}

/** Who looks, and what fills the slots of their page. `seat` -1: not a hero of the game. */
export interface Viewpoint {
  readonly seat: number;
  readonly slots?: ReadonlyMap<string, Dyn>;
}

const NOBODY: Viewpoint = Object.freeze({ seat: -1 });

/** A value of a template: text and numbers are escaped; null and undefined are nothing. */
export type Value = string | number | null | undefined | Dyn;

/** A template's value as a tree value: text escaped, trees and marks as they are. */
function dyn(v: Value): Dyn {
  return v instanceof Rendered || Array.isArray(v) || v instanceof Mark || v instanceof Slot
    ? (v as Dyn)
    : escape(v as string | number | null | undefined);
}

/**
 * `yes` for `me` true, `no` for false; for a seat, a Mark that the viewpoint resolves (the same
 * template serves a page's own view and a tree shared by every viewer).
 */
export function mark(me: boolean | Seat, yes: Value, no: Value): Dyn {
  if (me === true) return dyn(yes);
  if (me === false) return dyn(no);
  return new Mark(me, dyn(yes), dyn(no));
}

const templates = new WeakMap<TemplateStringsArray, Template>();
const byId: Template[] = [];

/** The id of each template of this release's table (template-table.ts), by its fixed text. */
const tableIds = new Map<string, number>(TEMPLATE_TABLE.map((s, id) => [s.join('\0'), id]));

/**
 * Templates of the table: their ids are the same on every node of a release (0 to TABLE_SIZE -
 * 1), and a page that holds the table (template-script.ts) is never sent their fixed text.
 */
export const TABLE_SIZE = TEMPLATE_TABLE.length;

/** Ids of templates missing from the table (the tests' own): this process's, past the table. */
let nextId = TABLE_SIZE;

/**
 * The template of a call site, created once per process: its id in the table, found by its
 * fixed text, or one of this process's own.
 */
function templateOf(strings: TemplateStringsArray): Template {
  let t = templates.get(strings);
  if (t === undefined) {
    t = { id: tableIds.get(strings.join('\0')) ?? nextId++, s: Object.freeze([...strings]) };
    byId[t.id] ??= t;
    templates.set(strings, t);
  }
  return t;
}

/** A template this process has rendered, by its id. */
export function templateById(id: number): Template | undefined {
  return byId[id];
}

const SPECIAL = /[&<>'"]/;
const SPECIAL_ALL = /[&<>'"]/g;
const ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
};
const entity = (c: string): string => ENTITY[c] ?? c;

/** Escapes text for HTML exactly as EJS's <%= %> does (null and undefined are the empty string). */
export function escape(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, entity) : value;
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Rendered {
  const d = new Array<Dyn>(values.length);
  for (let i = 0; i < values.length; i++) d[i] = dyn(values[i]);
  return new Rendered(templateOf(strings), d);
}

/** The tree as one HTML string, as `vp` sees it. */
export function toHtml(r: Dyn, vp: Viewpoint = NOBODY): string {
  if (typeof r === 'string') return r;
  if (Array.isArray(r)) {
    let out = '';
    for (const item of r as readonly Rendered[]) out += toHtml(item, vp);
    return out;
  }
  if (r instanceof Mark) return toHtml(seen(r, vp.seat) ? r.yes : r.no, vp);
  if (r instanceof Slot) {
    const fill = vp.slots?.get(r.name);
    return fill === undefined ? '' : toHtml(fill, vp);
  }
  const { t, d } = r as Rendered;
  let out = t.s[0] as string;
  for (let i = 0; i < d.length; i++) out += toHtml(d[i] as Dyn, vp) + (t.s[i + 1] as string);
  return out;
}

/** Whether the viewer in `seat` gets a mark's `yes`. */
function seen(m: Mark, seat: number): boolean {
  return m.who === 'seated' ? seat >= 0 : m.who === seat;
}

/**
 * Keeps trees that depend only on a small key, so a render reuses the very same object while
 * its inputs are unchanged (which also lets the differ skip it at once). Two generations: what
 * was not used since the last turn-over is dropped, so it stays bounded.
 */
export class Memo<T> {
  private current = new Map<string, T>();
  private previous = new Map<string, T>();

  constructor(private readonly limit = 512) {}

  get(key: string, make: () => T): T {
    let v = this.current.get(key);
    if (v !== undefined) return v;
    v = this.previous.get(key);
    if (v === undefined) v = make();
    this.current.set(key, v);
    if (this.current.size > this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    return v;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/**
 * A page's partials as HTML, by target: the shared trees as the viewer in `seat` sees them, and
 * the page's own; own targets named `host~part` fill the slots of that name rather than a
 * partial of their own.
 */
export function pageHtml(
  shared: Iterable<readonly [string, Dyn]>,
  own: Iterable<readonly [string, Dyn]>,
  seat: number,
  text: (tree: Dyn) => string = (tree) => toHtml(tree),
): Map<string, string> {
  const slots = new Map<string, Dyn>();
  const mine: (readonly [string, Dyn])[] = [];
  for (const entry of own) {
    if (entry[0].includes('~')) slots.set(entry[0], entry[1]);
    else mine.push(entry);
  }
  const vp: Viewpoint = { seat, slots };
  const out = new Map<string, string>();
  for (const [target, tree] of shared) out.set(target, toHtml(tree, vp));
  for (const [target, tree] of mine) out.set(target, text(tree));
  return out;
}
