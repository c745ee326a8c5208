// HTML as a tree of statics and dynamics (Phoenix LiveView's "Rendered"): a template's fixed
// text is known once per call site, and a render is only the values between those pieces. The
// first HTTP response turns a tree into a string (toHtml); a live socket sends a page only what
// changed in it (patch.ts), with each template's fixed text sent once per socket.
//
// `html` is a tagged template: html`<p class="x">${name}</p>`. Values are escaped exactly as
// EJS's <%= %> escapes them; a nested tree or a list of trees is inserted as it is.

/** The fixed text of one template call site: s.length is the number of values plus one. */
export interface Template {
  readonly id: number;
  readonly s: readonly string[];
}

/** Escaped HTML text, a nested tree, or a list of trees (written one after the other). */
export type Dyn = string | Rendered | readonly Rendered[];

export class Rendered {
  constructor(
    readonly t: Template,
    readonly d: readonly Dyn[],
  ) {}
}

/** A value of a template: text and numbers are escaped; null and undefined are nothing. */
export type Value = string | number | null | undefined | Rendered | readonly Rendered[];

const templates = new WeakMap<TemplateStringsArray, Template>();
let templateCount = 0;

/** The template of a call site, created once per process (ids are small integers, per process). */
function templateOf(strings: TemplateStringsArray): Template {
  let t = templates.get(strings);
  if (t === undefined) {
    t = { id: templateCount++, s: Object.freeze([...strings]) };
    templates.set(strings, t);
  }
  return t;
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
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    d[i] =
      v instanceof Rendered || Array.isArray(v)
        ? (v as Dyn)
        : escape(v as string | number | null | undefined);
  }
  return new Rendered(templateOf(strings), d);
}

/** The tree as one HTML string. */
export function toHtml(r: Dyn): string {
  if (typeof r === 'string') return r;
  if (Array.isArray(r)) {
    let out = '';
    for (const item of r as readonly Rendered[]) out += toHtml(item);
    return out;
  }
  const { t, d } = r as Rendered;
  let out = t.s[0] as string;
  for (let i = 0; i < d.length; i++) out += toHtml(d[i] as Dyn) + (t.s[i + 1] as string);
  return out;
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
