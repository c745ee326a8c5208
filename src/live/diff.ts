// The partial differ: given the HTML of each partial last sent and the HTML just rendered,
// says which partials changed. Pure; the socket around it stores the returned state.

export type Partials = ReadonlyMap<string, string>;

export interface PartialDiff {
  changed: [id: string, html: string][];
  next: Partials;
}

export function diffPartials(previous: Partials | null, rendered: Partials): PartialDiff {
  const changed: [string, string][] = [];
  for (const [id, html] of rendered) {
    if (!previous || previous.get(id) !== html) changed.push([id, html]);
  }
  return { changed, next: rendered };
}

/** One WebSocket message carrying the changed partials as htmx 4 <hx-partial> elements. */
export function partialsMessage(changed: [string, string][], swap = 'innerMorph'): string {
  return changed
    .map(([id, html]) => `<hx-partial hx-target="#${id}" hx-swap="${swap}">${html}</hx-partial>`)
    .join('');
}
