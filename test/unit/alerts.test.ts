// The shipped Prometheus alerting rules (deploy/prometheus-alerts.yml): they name only metrics a
// node exports, Prometheus's own checker accepts them, and each fires on the case it is written
// for and not on the ordinary one (promtool's rule unit tests over synthetic series).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../src/metrics.js';
import { ROOT } from '../support/node-process.js';

const RULES = join(ROOT, 'deploy/prometheus-alerts.yml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rules = (
  parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);
const byName = new Map(rules.map((r) => [r.alert, r]));

/** What promtool must see fire: the rule's labels, its summary as written for these values. */
function firing(alert: string, labels: Record<string, string>, summary: string) {
  const rule = byName.get(alert)!;
  return {
    exp_labels: { severity: rule.labels.severity, ...labels },
    exp_annotations: { summary, description: rule.annotations.description },
  };
}

describe('deploy/prometheus-alerts.yml', () => {
  it('names only metrics the node exports, and says what players notice and how bad it is', async () => {
    const exported = new Set(
      (await createMetrics('alerts').registry.getMetricsAsJSON()).map((m) => m.name),
    );
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary.length, r.alert).toBeGreaterThan(10);
      expect(r.annotations.description.length, r.alert).toBeGreaterThan(60);
      for (const [name] of r.expr.matchAll(/\bminotaur_[a-z0-9_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        expect(exported.has(name) || exported.has(base), `${r.alert}: ${name}`).toBe(true);
      }
    }
  });

  it("passes promtool's check, and each alert fires on its case only", () => {
    const dir = mkdtempSync(join(tmpdir(), 'minotaur-alerts-'));
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const tests = {
      rule_files: [RULES],
      evaluation_interval: '15s',
      tests: [
        {
          interval: '15s',
          input_series: [
            { series: 'minotaur_game_saves_failing_seconds{node="a"}', values: '0 0 12 30' },
            { series: 'minotaur_game_saves_failing_seconds{node="b"}', values: '0 0 0 0' },
            { series: 'minotaur_database_up{node="a",engine="sqlite"}', values: '1 0 0 0 0 0' },
            { series: 'minotaur_database_up{node="b",engine="sqlite"}', values: '1 1 1 1 1 1' },
          ],
          alert_rule_test: [
            { eval_time: '15s', alertname: 'MinotaurGameSavesFailing', exp_alerts: [] },
            {
              eval_time: '30s',
              alertname: 'MinotaurGameSavesFailing',
              exp_alerts: [
                firing(
                  'MinotaurGameSavesFailing',
                  { node: 'a' },
                  'Node a: game saves failing for 12s',
                ),
              ],
            },
            { eval_time: '30s', alertname: 'MinotaurDatabaseDown', exp_alerts: [] },
            {
              eval_time: '60s',
              alertname: 'MinotaurDatabaseDown',
              exp_alerts: [
                firing(
                  'MinotaurDatabaseDown',
                  { node: 'a', engine: 'sqlite' },
                  'Node a cannot reach its sqlite database',
                ),
              ],
            },
          ],
        },
        {
          interval: '15s',
          input_series: [
            // Node a resolves every round more than 100 ms after its deadline; node b on time. The
            // alert is a share of the rounds: busy node c has one round in 100 late (more late
            // rounds a second than quiet node d), quiet node d one in two.
            { series: 'minotaur_rounds_resolved_total{node="a"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_count{node="a"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_bucket{node="a",le="0.1"}', values: '0x100' },
            { series: 'minotaur_rounds_resolved_total{node="b"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_count{node="b"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_bucket{node="b",le="0.1"}', values: '0+1x100' },
            { series: 'minotaur_rounds_resolved_total{node="c"}', values: '0+100x100' },
            { series: 'minotaur_round_late_seconds_count{node="c"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_bucket{node="c",le="0.1"}', values: '0x100' },
            { series: 'minotaur_rounds_resolved_total{node="d"}', values: '0+1x100' },
            { series: 'minotaur_round_late_seconds_count{node="d"}', values: '0+0.5x100' },
            { series: 'minotaur_round_late_seconds_bucket{node="d",le="0.1"}', values: '0x100' },
            { series: 'minotaur_nodejs_eventloop_lag_p99_seconds{node="a"}', values: '0.2x100' },
            { series: 'minotaur_nodejs_eventloop_lag_p99_seconds{node="b"}', values: '0.01x100' },
            { series: 'minotaur_process_cpu_seconds_total{node="a"}', values: '0+13.5x100' },
            { series: 'minotaur_process_cpu_seconds_total{node="b"}', values: '0+3x100' },
            {
              series: 'minotaur_database_waiting_writes{node="a",kind="results"}',
              values: '3x100',
            },
            {
              series: 'minotaur_database_waiting_writes{node="b",kind="snapshots"}',
              values: '3x100',
            },
          ],
          alert_rule_test: [
            {
              eval_time: '14m',
              alertname: 'MinotaurRoundsLate',
              exp_alerts: [
                firing(
                  'MinotaurRoundsLate',
                  { node: 'a' },
                  'Node a resolves rounds more than 100 ms after their deadline',
                ),
                firing(
                  'MinotaurRoundsLate',
                  { node: 'd' },
                  'Node d resolves rounds more than 100 ms after their deadline',
                ),
              ],
            },
            {
              eval_time: '6m',
              alertname: 'MinotaurEventLoopSlow',
              exp_alerts: [
                firing(
                  'MinotaurEventLoopSlow',
                  { node: 'a' },
                  'Node a: event loop delay p99 200ms',
                ),
              ],
            },
            { eval_time: '5m', alertname: 'MinotaurCpuSaturated', exp_alerts: [] },
            {
              eval_time: '20m',
              alertname: 'MinotaurCpuSaturated',
              exp_alerts: [
                firing('MinotaurCpuSaturated', { node: 'a' }, 'Node a uses 90% of a core'),
              ],
            },
            {
              eval_time: '12m',
              alertname: 'MinotaurResultsNotRecorded',
              exp_alerts: [
                firing(
                  'MinotaurResultsNotRecorded',
                  { node: 'a' },
                  'Node a: results of finished games waiting for 10 min',
                ),
              ],
            },
          ],
        },
        {
          // Node c loses its link to one of the two others.
          interval: '15s',
          input_series: [
            { series: 'minotaur_mesh_peers{node="a"}', values: '2x20' },
            { series: 'minotaur_mesh_peers{node="b"}', values: '2x20' },
            { series: 'minotaur_mesh_peers{node="c"}', values: '2 2 1x18' },
          ],
          alert_rule_test: [
            { eval_time: '1m', alertname: 'MinotaurMeshSplit', exp_alerts: [] },
            {
              eval_time: '4m',
              alertname: 'MinotaurMeshSplit',
              exp_alerts: [
                firing(
                  'MinotaurMeshSplit',
                  { node: 'c' },
                  'Node c is linked to 1 peers, fewer than the other nodes scraped',
                ),
              ],
            },
          ],
        },
        {
          // No node reaches any other (a wrong CLUSTER_SECRET on each, the mesh's port closed):
          // they all see as many peers, none, and each is alerted on.
          interval: '15s',
          input_series: [
            { series: 'minotaur_mesh_peers{node="a"}', values: '0x20' },
            { series: 'minotaur_mesh_peers{node="b"}', values: '0x20' },
            { series: 'minotaur_mesh_peers{node="c"}', values: '0x20' },
          ],
          alert_rule_test: [
            {
              eval_time: '4m',
              alertname: 'MinotaurMeshSplit',
              exp_alerts: ['a', 'b', 'c'].map((node) =>
                firing(
                  'MinotaurMeshSplit',
                  { node },
                  `Node ${node} is linked to 0 peers, fewer than the other nodes scraped`,
                ),
              ),
            },
            { eval_time: '4m', alertname: 'MinotaurNodesMissing', exp_alerts: [] },
          ],
        },
        {
          // Node c stops being scraped after a minute (unready, so out of DNS, or frozen); the two
          // others still see each other.
          interval: '15s',
          input_series: [
            { series: 'minotaur_mesh_peers{node="a"}', values: '2x3 1x30' },
            { series: 'minotaur_mesh_peers{node="b"}', values: '2x3 1x30' },
            { series: 'minotaur_mesh_peers{node="c"}', values: '2x3 stale' },
          ],
          alert_rule_test: [
            { eval_time: '2m', alertname: 'MinotaurNodesMissing', exp_alerts: [] },
            {
              eval_time: '4m',
              alertname: 'MinotaurNodesMissing',
              exp_alerts: [
                firing(
                  'MinotaurNodesMissing',
                  {},
                  '2 Minotaur nodes ready and scraped, fewer than expected',
                ),
              ],
            },
            // Each of the two left is linked to the one other Prometheus sees.
            { eval_time: '4m', alertname: 'MinotaurMeshSplit', exp_alerts: [] },
          ],
        },
        {
          // A cluster whose nodes all see each other, and a node alone: nothing fires.
          interval: '15s',
          input_series: [
            { series: 'minotaur_mesh_peers{node="a"}', values: '2x40' },
            { series: 'minotaur_mesh_peers{node="b"}', values: '2x40' },
            { series: 'minotaur_mesh_peers{node="c"}', values: '2x40' },
            { series: 'minotaur_game_saves_failing_seconds{node="a"}', values: '0x40' },
            { series: 'minotaur_database_up{node="a",engine="postgres"}', values: '1x40' },
          ],
          alert_rule_test: [
            { eval_time: '9m', alertname: 'MinotaurMeshSplit', exp_alerts: [] },
            { eval_time: '9m', alertname: 'MinotaurNodesMissing', exp_alerts: [] },
            { eval_time: '9m', alertname: 'MinotaurGameSavesFailing', exp_alerts: [] },
            { eval_time: '9m', alertname: 'MinotaurDatabaseDown', exp_alerts: [] },
          ],
        },
        {
          // Node a's clock 20 s behind the database's; b's off by a few milliseconds.
          interval: '15s',
          input_series: [
            { series: 'minotaur_database_clock_offset_seconds{node="a"}', values: '-20x40' },
            { series: 'minotaur_database_clock_offset_seconds{node="b"}', values: '0.004x40' },
          ],
          alert_rule_test: [
            // No node is scraped at all (no minotaur_mesh_peers): still fewer than expected.
            {
              eval_time: '3m',
              alertname: 'MinotaurNodesMissing',
              exp_alerts: [
                firing(
                  'MinotaurNodesMissing',
                  {},
                  '0 Minotaur nodes ready and scraped, fewer than expected',
                ),
              ],
            },
            { eval_time: '3m', alertname: 'MinotaurClockOff', exp_alerts: [] },
            {
              eval_time: '8m',
              alertname: 'MinotaurClockOff',
              exp_alerts: [
                firing(
                  'MinotaurClockOff',
                  { node: 'a' },
                  "Node a: its clock is 20s off the database's",
                ),
              ],
            },
          ],
        },
      ],
    };
    const file = join(dir, 'alerts.test.yml');
    writeFileSync(file, stringify(tests));
    const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});
