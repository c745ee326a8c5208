// HTTP load through the load balancer: logged-in players' page loads, each request timed and
// every failure kept (an error status, a redirect to the login page, a network error).

import { fetchVia, type Network } from '../../test/support/player.js';
import { sleep } from './say.js';

export interface Failure {
  at: number;
  path: string;
  what: string;
}

export class HttpLoad {
  total = 0;
  readonly failures: Failure[] = [];
  readonly latencies: number[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly cookies: string[],
    private readonly paths: () => string[],
    private readonly net: Network,
    private readonly maxRequests = 40_000,
  ) {}

  start(workers: number): void {
    this.#workers = Array.from({ length: workers }, (_, w) => this.#worker(w));
  }

  async #worker(w: number): Promise<void> {
    let i = w;
    while (!this.#stopped && this.total < this.maxRequests) {
      const paths = this.paths();
      const path = paths[i % paths.length]!;
      const cookie = this.cookies[i % this.cookies.length]!;
      i++;
      const started = Date.now();
      this.total++;
      try {
        const res = await fetchVia(this.net, this.base + path, { headers: { cookie }, redirect: 'manual', signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.status >= 400) this.failures.push({ at: started, path, what: `${res.status} ${body.replace(/\s+/g, ' ').slice(0, 120)}` });
        else if (res.status >= 300 && /\/login/.test(res.headers.get('location') ?? '')) this.failures.push({ at: started, path, what: `${res.status} to /login (session lost)` });
      } catch (err) {
        this.failures.push({ at: started, path, what: String((err as Error).cause ?? err) });
      }
      this.latencies.push(Date.now() - started);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }
}
