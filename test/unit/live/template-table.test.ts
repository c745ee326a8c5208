// The release's template table (src/live/template-table.ts, written by `npm run templates`):
// every html`` template of src/ is in it, so pages that hold it are never sent fixed text, and
// a template's id is the same on every node that runs this release.

import { describe, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { extractTemplates } from '../../../scripts/template-table.js';
import { html, TABLE_SIZE } from '../../../src/live/html.js';
import { statusPartial, intentOf } from '../../../src/live/game-templates.js';
import { TEMPLATE_TABLE } from '../../../src/live/template-table.js';
import {
  holdsTable,
  TEMPLATES_PATH,
  TEMPLATES_ROUTE,
  TEMPLATES_SCRIPT,
  TEMPLATES_VERSION,
} from '../../../src/live/template-script.js';
import { gameView } from '../../../src/live/view-model.js';
import { playedGame } from './corpus.js';

describe('the template table', () => {
  it('holds every html`` template of src/, in source order (run `npm run templates` after changing one)', () => {
    expect(TEMPLATE_TABLE).toEqual(extractTemplates());
  });

  it('gives the templates of src/ their ids in the table, and others ids past it', () => {
    const [first] = playedGame(3, 2, { maxRounds: 2 });
    const g = gameView(first!.state, null);
    const status = statusPartial(g, null, intentOf(g));
    expect(status.t.id).toBeLessThan(TABLE_SIZE);
    expect(TEMPLATE_TABLE[status.t.id]).toEqual(status.t.s);
    const own = html`<p class="not-in-the-table">${'x'}</p>`;
    expect(own.t.id).toBeGreaterThanOrEqual(TABLE_SIZE);
  });

  it('is served as a script that defines it, at an address that names its version', () => {
    const window: { MinotaurTemplates?: { v: string; s: unknown } } = {};
    runInNewContext(TEMPLATES_SCRIPT, { window });
    expect(window.MinotaurTemplates).toEqual({ v: TEMPLATES_VERSION, s: TEMPLATE_TABLE });
    expect(TEMPLATES_PATH).toBe(`/static/live/templates-${TEMPLATES_VERSION}.js`);
    expect(TEMPLATES_ROUTE.test(TEMPLATES_PATH)).toBe(true);
    expect(TEMPLATES_ROUTE.test('/static/live/templates-0123456789ab.js')).toBe(true);
    for (const other of [
      '/static/live/templates-0123456789ab.js.map',
      '/static/live/templates-.js',
    ])
      expect(TEMPLATES_ROUTE.test(other)).toBe(false);
    expect(holdsTable(TEMPLATES_VERSION)).toBe(true);
    for (const other of [undefined, '', '0123456789ab', [TEMPLATES_VERSION], 42])
      expect(holdsTable(other)).toBe(false);
  });
});
