// The page's reader of live render messages (public/js/live-render.js), loaded as the browser
// runs it: the very same script, which defines globalThis.MinotaurLive. Tests, bots and the
// benchmarks' clients read what a node sends through it, so they read what a page reads.

import { TEMPLATES_VERSION } from '../../src/live/template-script.js';
import { TEMPLATE_TABLE } from '../../src/live/template-table.js';

export interface LivePageApi {
  /** Applies one render message; returns [target, html] of every partial it changed. */
  apply(text: string): [string, string][];
  /** Applies one render message; returns the targets it changed. */
  update(text: string): string[];
  /** The HTML of one partial the page holds. */
  partial(target: string): string;
  /** The HTML of one tree. */
  html(tree: unknown): string;
  /** The page's own trees, by target. */
  trees: Record<string, unknown>;
  /** The token of the last render (what the page sends back as ?seen= when it reconnects). */
  seen?: string;
  /** The version of the table the page holds (its socket's ?templates=), or null. */
  tableVersion(): string | null;
}

/** The release's templates as the page's script defines them (src/live/template-script.ts). */
export interface TemplateTable {
  v: string;
  s: readonly (readonly string[])[];
}

export interface LivePageClass {
  /** `table`: the templates the page holds from its cached script, or none. */
  new (table?: TemplateTable | null): LivePageApi;
  /** The tree messages this reader understands: what its page asks for as ?render=. */
  FORMAT: string;
  /** True for a message this reader handles. */
  isRender(text: string): boolean;
  /** The <hx-partial> elements of changed partials, as a node of the html format sends them. */
  partials(changed: [string, string][]): string;
}

await import(new URL('../../public/js/live-render.js', import.meta.url).href);

/** This release's table, as a page that loaded its script holds it. */
export const RELEASE_TABLE: TemplateTable = { v: TEMPLATES_VERSION, s: TEMPLATE_TABLE };

export const LivePage = (globalThis as unknown as { MinotaurLive: { LivePage: LivePageClass } })
  .MinotaurLive.LivePage;

/**
 * A message as the page hands it to htmx: a render message, applied to `page`, becomes the
 * <hx-partial> elements of the partials it changed (what a node sends a page of the release
 * before); any other message as it came.
 */
export function shownBy(page: LivePageApi, text: string): string {
  return LivePage.isRender(text) ? LivePage.partials(page.apply(text)) : text;
}
