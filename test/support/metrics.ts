// Reading a node's Prometheus metrics in tests and benchmarks.

/** Sum of a metric's samples whose labels include `labels`, or null when it has none. */
export function metricValue(
  body: string,
  name: string,
  labels: Record<string, string> = {},
): number | null {
  let total: number | null = null;
  for (const line of body.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!Object.entries(labels).every(([k, v]) => have.get(k) === v)) continue;
    total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

/** The body of /metrics of the node at `base`. */
export async function fetchMetrics(base: string, timeoutMs = 5000): Promise<string> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`/metrics on ${base}: ${res.status}`);
  return res.text();
}
