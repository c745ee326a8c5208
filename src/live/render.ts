// One renderer for pages and partials: the first HTTP response and every live update go
// through the same compiled EJS templates.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';

export type Template = (locals: Record<string, unknown>) => string;

export class Renderer {
  private readonly cache = new Map<string, Template>();

  constructor(
    private readonly viewsDir: string,
    private readonly globals: Record<string, unknown> = {},
  ) {}

  template(name: string): Template {
    let t = this.cache.get(name);
    if (!t) {
      const filename = join(this.viewsDir, `${name}.ejs`);
      const fn = ejs.compile(readFileSync(filename, 'utf8'), { filename, cache: true, async: false });
      t = (locals) => fn({ ...this.globals, ...locals });
      this.cache.set(name, t);
    }
    return t;
  }

  render(name: string, locals: Record<string, unknown>): string {
    return this.template(name)(locals);
  }
}
