// One renderer for pages and partials: the first HTTP response and every live update go
// through the same compiled EJS templates.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';

export type Template = (locals: Record<string, unknown>) => string;

export class Renderer {
  private readonly cache = new Map<string, Template>();

  constructor(private readonly viewsDir: string) {}

  template(name: string): Template {
    let t = this.cache.get(name);
    if (!t) {
      const filename = join(this.viewsDir, `${name}.ejs`);
      t = ejs.compile(readFileSync(filename, 'utf8'), { filename, cache: true, async: false });
      this.cache.set(name, t);
    }
    return t;
  }

  render(name: string, locals: Record<string, unknown>): string {
    return this.template(name)(locals);
  }
}
