// The release's template table as a script pages load once and cache: every page that holds it
// (and says so when it opens its live socket: ?templates=VERSION) is never sent a table
// template's fixed text, so a first render carries only values, and the message of a round in
// which something new appears (a hero falls, the game ends) carries no fixed text either.
//
// The script's address names its version, a hash of the table, so a browser may keep it for a
// year: a release whose templates changed has another address. A page whose table is not the
// node's (a page of another release, or whose script failed to load) does not name the node's
// version, and is sent each template's fixed text the first time it needs it, as before.
// A node answers any version's address with its own table (which names its own version), so a
// page whose request reached a node of the other release during a rolling update still gets a
// table, one that this node's own sockets will take as held.

import { createHash } from 'node:crypto';
import { TEMPLATE_TABLE } from './template-table.js';

/** The table's version: the first 12 hex digits of the SHA-256 of its JSON. */
export const TEMPLATES_VERSION = createHash('sha256')
  .update(JSON.stringify(TEMPLATE_TABLE))
  .digest('hex')
  .slice(0, 12);

/** Where pages load the table from. */
export const TEMPLATES_PATH = `/static/live/templates-${TEMPLATES_VERSION}.js`;

/** The addresses of every release's table. */
export const TEMPLATES_ROUTE = /^\/static\/live\/templates-[0-9a-f]{12}\.js$/;

/**
 * The script: a classic script with no DOM access that defines MinotaurTemplates, which the
 * page's reader (public/js/live-render.js) starts every connection with.
 */
export const TEMPLATES_SCRIPT =
  `// Minotaur's live templates, version ${TEMPLATES_VERSION}.\n` +
  `(function (root) {\n  root.MinotaurTemplates = ${JSON.stringify({ v: TEMPLATES_VERSION, s: TEMPLATE_TABLE })};\n` +
  `})(typeof window !== 'undefined' ? window : globalThis);\n`;

/** Whether a live socket's `?templates=` says the page holds this release's table. */
export function holdsTable(param: unknown): boolean {
  return param === TEMPLATES_VERSION;
}
