// What the players-per-node load client reads from a game page's live messages: the status
// partial's round, deadline, and the names still choosing. Cheap on purpose (the client reads
// thousands of messages a second): the page's own reader (public/js/live-render.js) applies
// render messages, and only the status partial is turned into HTML, when it changed; whole
// <hx-partial> messages (the raw-ws baseline) are read with a regular expression.

import {
  LivePage,
  shownBy,
  type LivePageApi,
  type TemplateTable,
} from '../test/support/live-page.js';

export interface StatusView {
  round: number;
  deadline: number | null;
  /** Names of the living players who have not chosen yet; null when the status does not say. */
  waiting: string[] | null;
  over: boolean;
}

const STATUS = /<hx-partial hx-target="#game-status"[^>]*>([\s\S]*?)<\/hx-partial>/;

export function parseStatus(html: string): StatusView {
  if (html.includes('class="phase over"'))
    return { round: 0, deadline: null, waiting: null, over: true };
  const r = /data-round="(\d+)"/.exec(html);
  const d = /data-deadline="(\d+)"/.exec(html);
  const w = /class="waiting-for">([^<]*)</.exec(html);
  let waiting: string[] | null = null;
  if (w) {
    const text = (w[1] ?? '').trim();
    waiting = text.startsWith('Waiting for ') ? text.slice('Waiting for '.length).split(', ') : [];
  }
  return { round: r ? Number(r[1]) : 0, deadline: d ? Number(d[1]) : null, waiting, over: false };
}

/**
 * Reads one socket's messages (it keeps the page's trees across them), holding the release's
 * template table if given (the socket must then say so: liveSocketPath).
 */
export class WireReader {
  private readonly page: LivePageApi;

  constructor(table: TemplateTable | null = null) {
    this.page = new LivePage(table);
  }

  /** True for a data-only JSON message (ack, error, clock). */
  isData(raw: string): boolean {
    return raw.charCodeAt(0) === 123 && !LivePage.isRender(raw);
  }

  /** The status this message shows, or null when it does not change it. */
  read(raw: string): StatusView | null {
    if (LivePage.isRender(raw)) {
      return this.page.update(raw).includes('game-status')
        ? parseStatus(this.page.partial('game-status'))
        : null;
    }
    const m = STATUS.exec(raw);
    return m ? parseStatus(m[1] ?? '') : null;
  }

  /**
   * A message as the page hands it to htmx: a render message becomes the <hx-partial> elements
   * of the partials it changed (what a node sends a page of the html format); others as they are.
   */
  shown(raw: string): string {
    return shownBy(this.page, raw);
  }
}
