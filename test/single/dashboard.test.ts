// The shipped Grafana dashboard (deploy/grafana-dashboard.json) against a real Prometheus
// scraping a real node: every panel's query is one Prometheus accepts, names only metrics and
// labels the node exports, and shows data once the node has counted what the panel is about.
// The layout is checked too: panels on Grafana's 24-column grid, none on top of another.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { fetchMetrics } from '../support/metrics.js';
import {
  freePort,
  ROOT,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { Player, openStartedGame, type LiveConnection } from '../support/player.js';

interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8'),
) as Dashboard;
const graphs = dashboard.panels.filter((p) => p.type !== 'row');

/** A panel's query as Grafana sends it: its variables filled in (every node, a 10-s window). */
const filled = (expr: string) =>
  expr.replaceAll('$__rate_interval', '10s').replaceAll('$node', '.*');

/** The metric families a query reads (a histogram's _bucket/_sum/_count read as the family). */
function familiesOf(expr: string): string[] {
  return [...expr.matchAll(/\bminotaur_[a-z0-9_]+/g)].map((m) => m[0]);
}
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

let node: NodeProcess | undefined;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let prometheusDir: string | undefined;
// A test run that ends abruptly takes the private Prometheus with it.
process.once('exit', () => prometheus?.kill('SIGKILL'));
const conns: LiveConnection[] = [];

async function query(expr: string): Promise<{ status: string; error?: string; data?: unknown[] }> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: unknown[] };
  };
  return { status: body.status, error: body.error, data: body.data?.result };
}

beforeAll(async () => {
  const n = (node = startNode({
    port: await freePort(),
    databasePath: join(tempDir(), 'dashboard.db'),
    env: { ROUND_SECONDS: '2' },
  }));
  await n.ready();

  // Something for the panels to show: a game played for a round, an action acknowledged.
  const tag = Date.now() % 100000;
  const [a, b] = [new Player(n.url, `da${tag}`), new Player(n.url, `db${tag}`)];
  const code = await openStartedGame([a, b]);
  const live = a.connect(code);
  conns.push(live);
  await live.opened;
  const ack = await live.act(1, 'defend');
  expect(ack.type).toBe('ack');

  const dir = (prometheusDir = tempDir('minotaur-prometheus-'));
  const port = await freePort(['127.0.0.1']);
  prometheusUrl = `http://127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: minotaur',
      `    static_configs: [{ targets: ['${new URL(n.url).host}'] }]`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  prometheus.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // Three scrapes of the node, so that rates over the 10-s window have points to work from.
  await waitFor(
    async () => {
      const r = await query('count_over_time(minotaur_players_connected[1m])');
      const scrapes = Number((r.data?.[0] as { value?: [number, string] } | undefined)?.value?.[1]);
      return scrapes >= 3;
    },
    30_000,
    'Prometheus to scrape the node three times',
    250,
  ).catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${why}\nPrometheus said: ${stderr || '(nothing)'}`);
  });
}, 60_000);

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  const p = prometheus;
  if (p && p.exitCode === null) {
    p.kill('SIGTERM');
    await waitFor(() => p.exitCode !== null || p.signalCode !== null, 10_000, 'Prometheus to stop');
  }
  if (prometheusDir) rmSync(prometheusDir, { recursive: true, force: true });
  await node?.kill();
});

describe('deploy/grafana-dashboard.json', () => {
  it("is laid out on Grafana's grid, every graph described and on the dashboard's data source", () => {
    expect(dashboard.uid).toBe('minotaur');
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'node']);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const p of graphs) {
      expect(p.description?.length ?? 0, p.title).toBeGreaterThan(40);
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource, p.title).toEqual(p.datasource);
    }
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let y = g.y; y < g.y + g.h; y++)
        for (let x = g.x; x < g.x + g.w; x++) {
          const cell = `${x},${y}`;
          expect(cells.get(cell), `${p.title} overlaps`).toBeUndefined();
          cells.set(cell, p.title);
        }
    }
  });

  it('names only metrics the node exports, and only labels they carry', async () => {
    const metrics = new Map(
      createMetrics('dashboard')
        .registry.getMetricsAsArray()
        .map((m) => [m.name, m as unknown as { labelNames?: string[]; type?: string }]),
    );
    for (const p of graphs)
      for (const t of p.targets!) {
        const names = familiesOf(t.expr);
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          const metric = metrics.get(name) ?? metrics.get(family(name));
          expect(metric, `${p.title}: ${name}`).toBeDefined();
          const labels = new Set([
            'node',
            ...(metric!.labelNames ?? []),
            ...(name.endsWith('_bucket') ? ['le'] : []),
          ]);
          // The labels of this metric's own selectors (a query may subtract a histogram's
          // bucket, le="0.1", from its count), and those it is aggregated by.
          const selectors = [...t.expr.matchAll(new RegExp(`\\b${name}\\{([^}]*)\\}`, 'g'))];
          const used = [
            ...[...t.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(/,\s*/)),
            ...selectors.flatMap((m) =>
              [...m[1]!.matchAll(/(?:^|,)\s*([a-z_]+)\s*=~?"/g)].map((l) => l[1]!),
            ),
          ];
          for (const label of used) expect(labels, `${p.title}: ${label}`).toContain(label);
        }
        // What a legend names must survive the query's aggregation.
        const by = /\bby \(([^)]*)\)/.exec(t.expr)?.[1]?.split(/,\s*/);
        for (const [, label] of t.legendFormat.matchAll(/\{\{(\w+)\}\}/g))
          if (by) expect(by, `${p.title}: legend {{${label}}}`).toContain(label);
      }
  });

  it("runs every panel's queries on Prometheus; a panel is empty only while the node has counted nothing of what it shows", async () => {
    const exposition = await fetchMetrics(node!.url);
    const sampled = (name: string) =>
      new RegExp(`^${family(name)}(_bucket|_sum|_count)?[{ ]`, 'm').test(exposition);
    const empty: string[] = [];
    for (const p of graphs) {
      let rows = 0;
      for (const t of p.targets!) {
        const r = await query(filled(t.expr));
        expect(r.status, `${p.title}: ${t.expr}\n${r.error ?? ''}`).toBe('success');
        rows += r.data?.length ?? 0;
      }
      if (rows > 0) continue;
      empty.push(p.title);
      const names = p.targets!.flatMap((t) => familiesOf(t.expr));
      expect(names.filter(sampled), `${p.title} shows nothing of what the node counted`).toEqual(
        [],
      );
    }
    // A node that served a game shows most of the dashboard; only what takes an event of its own
    // (a game adopted) or peers (the mesh's traffic: this node runs alone) may wait for it.
    expect(empty).toEqual(['Games adopted', 'Mesh traffic']);
  });

  it("lists the scraped node in its Node menu, as Grafana asks Prometheus for the menu's values", async () => {
    const menu = dashboard.templating.list.find((v) => v.name === 'node')!;
    const m = /^label_values\((minotaur_[a-z_]+), node\)$/.exec(String(menu.query));
    expect(m, String(menu.query)).not.toBeNull();
    const res = await fetch(
      `${prometheusUrl}/api/v1/label/node/values?match[]=${encodeURIComponent(m![1]!)}`,
    );
    const body = (await res.json()) as { status: string; data: string[] };
    expect(body.status).toBe('success');
    const exposition = await fetchMetrics(node!.url);
    const id = new RegExp(`^${m![1]!}\\{node="([^"]+)"`, 'm').exec(exposition)?.[1];
    expect(id).toBeDefined();
    expect(body.data).toEqual([id]);
  });
});
