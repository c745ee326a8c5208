// The files every page loads (stylesheet, icon, htmx and its socket extension, the game's
// scripts), at addresses that name their content: `/static/js/minotaur.js?v=<hash>`. A browser
// keeps such a file for a year and never asks again; a release that changes the file changes
// its address, so a page of the new release never runs a script cached from the one before
// (whose reader might not understand the new release's live messages).
//
// Any node serves any address's file as it has it: during a rolling update, a page of the old
// release can ask a new node for `?v=<old hash>` (or the reverse). Only an address whose version
// is the file this node holds is marked immutable; any other (no version, or another one) is
// served with `no-cache`, so the browser checks it again (by ETag) before using it another time.
// In development (NODE_ENV unset or `development`) nothing is kept for a year: files edited
// while the node runs change without changing the addresses it printed at start.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A version: the first 12 hex digits of the SHA-256 of the file's bytes. */
function versionOf(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
}

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

export class Assets {
  /** Each file's version, by its address under /static (e.g. `/js/minotaur.js`). */
  private readonly versions = new Map<string, string>();
  /** The address pages name for each, made once (every page names them all). */
  private readonly urls = new Map<string, string>();

  /**
   * `files`: the file behind each address under /static; read once, here (files a node
   * serves do not change while it runs, except on a developer's machine: `keep` false).
   */
  constructor(
    files: Readonly<Record<string, string>>,
    private readonly keep: boolean,
  ) {
    for (const [path, file] of Object.entries(files)) {
      const v = versionOf(file);
      this.versions.set(path, v);
      this.urls.set(path, `/static${path}?v=${v}`);
    }
  }

  /** The address a page names for the file at `path` under /static. */
  url(path: string): string {
    const url = this.urls.get(path);
    if (url === undefined) throw new Error(`not a versioned asset: ${path}`);
    return url;
  }

  /**
   * The Cache-Control of an answer for `path` under /static asked with `?v=` `asked` (whatever
   * the query held: only one string that is this node's version counts).
   */
  cacheControl(path: string, asked: unknown): string {
    return this.keep && typeof asked === 'string' && this.versions.get(path) === asked
      ? IMMUTABLE
      : REVALIDATE;
  }
}
