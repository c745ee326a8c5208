// HTTP load through the load balancer: logged-in players' page loads, each request timed and
// every failure kept (an error status, a redirect to the login page, a network error).

import { fetchVia, type Network } from '../../test/support/player.js';
import { sleep } from './say.js';

export interface Failure {
  at: number;
  path: string;
  what: string;
}

/**
 * A failure in a few words: an HTML page as the text of its main part (our pages) or of its
 * body (HAProxy's), so "503 Back in a moment …" and "503 … No server is available" stay apart.
 */
export function brief(text: string, max = 120): string {
  const main = /<main[^>]*>([\s\S]*?)<\/main>/i.exec(text)?.[1];
  const html =
    main ??
    (/<(!doctype|html|body)/i.test(text) ? text.replace(/<head>[\s\S]*?<\/head>/i, '') : null);
  const plain =
    html === null
      ? text
      : text.slice(0, text.search(/<(!doctype|html|body)/i)) + html.replace(/<[^>]*>/g, ' ');
  return plain.replace(/\s+/g, ' ').trim().slice(0, max);
}

/** One answered request, for the report's slowest few. */
export interface Timed {
  at: number;
  path: string;
  ms: number;
}

export interface HttpLoadOptions {
  maxRequests?: number;
  /** A request that takes longer fails as a timeout. */
  timeoutMs?: number;
  /** Pause between two requests of one worker. */
  pauseMs?: number;
}

export class HttpLoad {
  total = 0;
  readonly failures: Failure[] = [];
  readonly latencies: number[] = [];
  /** The slowest answered requests, slowest first (at most 5). */
  readonly slowest: Timed[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly cookies: string[],
    private readonly paths: () => string[],
    private readonly net: Network,
    private readonly o: HttpLoadOptions = {},
  ) {}

  /** How long a request may take before it fails as a timeout. */
  get timeoutMs(): number {
    return this.o.timeoutMs ?? 10_000;
  }

  start(workers: number): void {
    this.#workers = Array.from({ length: workers }, (_, w) => this.#worker(w));
  }

  async #worker(w: number): Promise<void> {
    let i = w;
    while (!this.#stopped && this.total < (this.o.maxRequests ?? 40_000)) {
      const paths = this.paths();
      const path = paths[i % paths.length]!;
      const cookie = this.cookies[i % this.cookies.length]!;
      i++;
      const started = Date.now();
      this.total++;
      try {
        const res = await fetchVia(this.net, this.base + path, {
          headers: { cookie },
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const body = await res.text();
        if (res.status >= 400)
          this.failures.push({ at: started, path, what: `${res.status} ${brief(body)}` });
        else if (res.status >= 300 && /\/login/.test(res.headers.get('location') ?? ''))
          this.failures.push({ at: started, path, what: `${res.status} to /login (session lost)` });
        this.#timed({ at: started, path, ms: Date.now() - started });
      } catch (err) {
        this.failures.push({ at: started, path, what: String((err as Error).cause ?? err) });
      }
      this.latencies.push(Date.now() - started);
      await sleep(this.o.pauseMs ?? 10);
    }
  }

  #timed(t: Timed): void {
    this.slowest.push(t);
    this.slowest.sort((a, b) => b.ms - a.ms);
    if (this.slowest.length > 5) this.slowest.pop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }
}
