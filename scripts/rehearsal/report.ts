// The rehearsal's report: everything a player or an operator could have noticed, counted from
// the bots, the HTTP load, HAProxy's log, the nodes' logs and the invariants (by kind, not by
// reading their text), scenario by scenario; and the verdict.

import { logLines, type LogLine } from '../../test/support/node-process.js';
import type { InvariantReport, Violation } from '../../test/support/invariants.js';
import type { AdminRecord } from '../../test/support/admin.js';
import type { LocalCluster } from './cluster.js';
import type { Players } from './players.js';
import type { ColdStart, Freeze, Replacement } from './scenarios.js';
import { ms, pct, secs, t0 } from './say.js';

export interface Outcome {
  cluster: LocalCluster;
  players: Players;
  invariants: InvariantReport;
  finals: Map<string, AdminRecord>;
  replacements: Replacement[];
  deploys: number;
  freeze: Freeze | null;
  cold: ColdStart | null;
}

const logTime = (l: LogLine): number => Date.parse(String(l.time));

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** When HAProxy accepted the request of a log line (its clock is this machine's, UTC). */
function haproxyTime(line: string): number {
  const m = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})\.(\d{3})\]/.exec(line);
  return m ? Date.UTC(Number(m[3]), MONTHS.indexOf(m[2]!), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])) : NaN;
}

export function report(o: Outcome): { lines: string[]; failed: boolean } {
  const { cluster, players, invariants: inv, replacements } = o;
  const rig = cluster.rig;
  const load = players.load!;
  const by = (kind: Violation['kind'][]) => inv.violations.filter((v) => kind.includes(v.kind));
  const lost = by(['ack-lost']);
  const doubled = by(['doubled']);
  const rounds = by(['round-repeated', 'round-skipped', 'final-mismatch']);
  const other = by(['reset', 'seen-regressed']);

  // While every node was down (cold start), failing requests are what a player sees, not a
  // fault: from the loss (requests in flight then, started up to the load's 5 s timeout
  // before) until the new nodes are in service.
  const outage = o.cold ? { from: o.cold.killedAt - 5000, to: o.cold.startedAt + Math.max(...o.cold.readyMs, 0) + 3000 } : null;
  const inOutage = (at: number) => outage !== null && at >= outage.from && at <= outage.to;
  // A request that reached the node just as it froze hangs until it runs again (or the client
  // gives up): from the load's timeout before the freeze until HAProxy's check takes it out.
  const frozeOn = (f: { at: number; what: string }) =>
    o.freeze !== null && /Timeout|aborted/.test(f.what) && f.at >= o.freeze.frozenAt - 5000 && f.at <= o.freeze.frozenAt + 3000;
  const hung = load.failures.filter((f) => !inOutage(f.at) && frozeOn(f));
  // Opening a game takes several requests (sign-ups, create, join, start): it started in time to be caught by the loss.
  const setupFailures = players.setupFailures.filter((f) => !(outage !== null && f.at >= outage.from - 10_000 && f.at <= outage.to));
  const loadFailures = load.failures.filter((f) => !inOutage(f.at) && !frozeOn(f));
  const lbLog = cluster.haproxy.statuses();
  const bad5xx = lbLog.bad.filter((l) => !inOutage(haproxyTime(l)));

  // Handoffs, from the logs.
  const handoffs: { game: string; from: string; to: string; round: number; afterSigtermMs: number; adoptedAfterSigtermMs: number }[] = [];
  const missingAdoption: string[] = [];
  for (const r of replacements) {
    const oldId = r.old.opts.nodeId!;
    const sig = r.old.lines.find((l) => /^SIGTERM received/.test(l.msg));
    const sigAt = sig ? logTime(sig) : r.sigtermAt;
    for (const { line } of logLines([r.old], /^game [A-Z]{4} handed to node /)) {
      const m = /^game ([A-Z]{4}) handed to node (\S+) \(epoch (\d+), round (\d+)/.exec(line.msg)!;
      const [game, to, epoch, round] = [m[1]!, m[2]!, m[3]!, Number(m[4])];
      const adopted = rig.node(to).lines.find((l) => l.msg === `game ${game} adopted from node ${oldId} (epoch ${epoch}, round ${round})`);
      if (!adopted) missingAdoption.push(`${game} ${oldId}→${to}`);
      handoffs.push({ game, from: oldId, to, round, afterSigtermMs: logTime(line) - sigAt, adoptedAfterSigtermMs: adopted ? logTime(adopted) - sigAt : NaN });
    }
  }
  // During rolling updates a game moves only by handoff.
  const rollingEnd = replacements.length ? Math.max(...replacements.map((r) => r.sigtermAt + (r.exitMs ?? 0))) : 0;
  const unplanned = logLines(rig.all, /\[takeover\]|left in the database for the next node/).filter((t) => logTime(t.line) <= rollingEnd && (!o.freeze || logTime(t.line) < o.freeze.frozenAt));
  const notHanded = replacements.flatMap((r) => r.owned.filter((c) => !handoffs.some((h) => h.game === c && h.from === r.old.opts.nodeId) && o.finals.get(c)?.state.status === 'playing'));
  const badExits = replacements.filter((r) => r.old.exitCode !== 0);

  // Reconnect gaps the bots saw: socket closed → first partial on the next connection.
  const gaps: number[] = [];
  const closeCodes = new Map<number, number>();
  let unrecovered = 0;
  let bounced = 0;
  let outageCloses = 0;
  for (const b of rig.bots) {
    for (const c of b.closes) {
      // Reconnect attempts while no node was up are the outage itself, counted apart.
      if (inOutage(c.at)) {
        outageCloses++;
        continue;
      }
      closeCodes.set(c.code, (closeCodes.get(c.code) ?? 0) + 1);
      const opened = b.connects.filter((x) => x.at <= c.at).at(-1);
      if (opened && !b.firstPartials.some((p) => p.at >= opened.at && p.at <= c.at)) bounced++;
      const fp = b.firstPartials.find((p) => p.at > c.at);
      if (fp) gaps.push(fp.at - c.at);
      else if (b.status === 'playing') unrecovered++;
    }
  }

  const acks = rig.bots.flatMap((b) => b.acks);
  const sent = rig.bots.reduce((n, b) => n + b.sent.length, 0);
  const ackedIn = (from: number, to: number) => acks.filter((a) => !a.duplicate && a.at >= from && a.at <= to).length;
  const lostIn = (from: number, to: number) => lost.filter((v) => v.at !== undefined && v.at >= from && v.at <= to).length;
  const refusals = new Map<string, number>();
  for (const b of rig.bots) for (const r of b.refusals) refusals.set(r.code, (refusals.get(r.code) ?? 0) + 1);
  const roundsPlayed = Object.values(inv.summary).reduce((n, s) => n + s.rounds, 0);

  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line();
  line('══ Deploy rehearsal report ══════════════════════════════════════════════════════════');
  const scen = [o.deploys ? `${o.deploys} start-first rolling update(s) = ${replacements.length} node replacements` : '', o.freeze ? 'an owner frozen (SIGSTOP) until taken over' : '', o.cold ? 'every node lost at once (SIGKILL) and a cold start' : ''].filter(Boolean);
  line(`setup          3 production nodes (deploy/docker-stack.yml's environment) behind HAProxy terminating TLS (deploy/haproxy.cfg), DNS discovery; ${scen.join('; ')}; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const besides = [hung.length ? `${hung.length} that hung on the node as it froze` : '', outage ? `${load.failures.length - loadFailures.length - hung.length} while every node was down` : ''].filter(Boolean);
  line(`HTTP load      ${loadFailures.length} failed of ${load.total} requests (https GET /lobby, /leaderboard, /games/:code, logged in)${besides.length ? `, besides ${besides.join(' and ')}` : ''}; latency p50 ${ms(pct(load.latencies, 50))}, p99 ${ms(pct(load.latencies, 99))}, max ${ms(Math.max(...load.latencies))}`);
  for (const f of loadFailures.slice(0, 10)) line(`                 ${secs(f.at)} ${f.path}: ${f.what}`);
  line(`new games      ${players.opened} games opened through HAProxy (sign-up, create, join, start); ${setupFailures.length} failed${players.setupFailures.length > setupFailures.length ? ` (and ${players.setupFailures.length - setupFailures.length} caught by the loss of every node)` : ''}`);
  for (const f of setupFailures.slice(0, 10)) line(`                 ${secs(f.at)} ${f.what}`);
  line(`HAProxy log    ${lbLog.total} requests logged (pages, forms, WebSocket upgrades): ${[...lbLog.byStatus].sort().map(([s, n]) => `${s}×${n}`).join(' ')}; ${bad5xx.length} answered 5xx${outage ? ` outside the outage (${lbLog.bad.length - bad5xx.length} during it)` : ''}`);
  for (const l of bad5xx.slice(0, 5)) line(`                 ${l}`);
  line(`actions        ${sent} sent, ${acks.filter((a) => !a.duplicate).length} acknowledged, ${acks.filter((a) => a.duplicate).length} resends recognised as duplicates; ${lost.length} acknowledged actions lost, ${doubled.length} doubled`);
  if (refusals.size) line(`               refusals: ${[...refusals].map(([c, n]) => `${c}×${n}`).join(' ')}`);
  line(`rounds         ${roundsPlayed} rounds resolved in ${rig.codes.length} games; ${rounds.length} repeated or skipped; ${other.length} other violations (resets, rounds seen going back)`);
  for (const [code, s] of Object.entries(inv.summary)) line(`                 ${code}: ${s.rounds} rounds, final round ${s.finalRound} (${s.status}), acks checked ${s.acks}, resolved by ${Object.entries(s.byNode).map(([n, k]) => `${n}×${k}`).join(' ')}`);
  for (const v of inv.violations.slice(0, 20)) line(`  VIOLATION [${v.kind}] ${v.text}`);
  if (replacements.length) {
    const hs = handoffs.map((h) => h.adoptedAfterSigtermMs).filter(Number.isFinite);
    line(`handoffs       ${handoffs.length} games handed over (SIGTERM → adopted by the successor: median ${ms(pct(hs, 50))}, max ${ms(Math.max(...hs))}); ${unplanned.length} takeovers or games left in the database; ${missingAdoption.length} without adoption log; ${notHanded.length} owned games not handed over`);
    for (const t of unplanned) line(`  TAKEOVER ${t.node}: ${t.line.msg}`);
    line('old nodes      SIGTERM → out of HAProxy / drained (games handed, sockets closed 1012) / exit:');
    for (const r of replacements) {
      const drained = r.old.lines.find((l) => /^drained: /.test(l.msg));
      line(`                 ${r.old.opts.nodeId!.padEnd(3)} out ${ms(r.lbOutMs ?? NaN).padStart(7)}, drained ${ms(drained ? Number(drained.ms) : NaN).padStart(7)}, exit ${r.old.exitCode ?? r.old.exitSignal} after ${ms(r.exitMs ?? NaN)}   (successor ${r.fresh.opts.nodeId} ready ${ms(r.freshReadyMs)}, UP in HAProxy ${ms(r.lbUpMs)})`);
    }
    line(`               during the updates: ${ackedIn(t0, rollingEnd)} actions acknowledged, ${lostIn(t0, rollingEnd)} of them lost`);
  }
  const f = o.freeze;
  if (f) {
    const tk = [...f.takeovers.values()];
    line(`frozen owner   ${f.node.opts.nodeId} SIGSTOPped for ${ms(f.thawedAt - f.frozenAt)} while running ${f.owned.length} games: taken over after ${tk.length ? `${ms(Math.min(...tk))}–${ms(Math.max(...tk))}` : '–'} (${f.owned.length - f.takeovers.size} not taken over); on SIGCONT it stopped running ${f.fencedMs.length} games (fenced ${f.fencedMs.length ? ms(Math.max(...f.fencedMs)) : '–'} after) and was UP in HAProxy again after ${ms(f.upAgainMs ?? NaN)}`);
    line(`               around the freeze: ${ackedIn(f.frozenAt - 2000, f.thawedAt + 10_000)} actions acknowledged, ${lostIn(f.frozenAt - 2000, f.thawedAt + 10_000)} of them lost`);
  }
  const c = o.cold;
  if (c) {
    const res = [...c.resumed.values()];
    line(`cold start     ${c.lost.length} nodes SIGKILLed at once, ${c.fresh.length} new ones started together ${ms(c.startedAt - c.killedAt)} later (ready in ${c.readyMs.map(ms).join(', ')}); ${c.resumed.size} games resumed (${res.length ? `${ms(Math.min(...res))}–${ms(Math.max(...res))}` : '–'} after the start), ${c.twice.length} resumed twice, ${c.notResumed.length} not resumed`);
    line(`               around the restart: ${ackedIn(c.killedAt - 3000, c.startedAt + 20_000)} actions acknowledged, ${lostIn(c.killedAt - 3000, c.startedAt + 20_000)} of them lost`);
  }
  line(`reconnects     ${gaps.length} socket closes → first partial on the new connection: p50 ${ms(pct(gaps, 50))}, p95 ${ms(pct(gaps, 95))}, max ${ms(Math.max(...gaps))}; close codes ${[...closeCodes].map(([code, n]) => `${code}×${n}`).join(' ') || 'none'}, ${bounced} of them on a connection that had shown nothing yet${unrecovered ? `; ${unrecovered} never got a partial again` : ''}${outage ? ` (and ${outageCloses} closed or refused connections while every node was down)` : ''}`);

  const problems: string[] = [];
  if (loadFailures.length) problems.push(`${loadFailures.length} failed HTTP requests`);
  if (setupFailures.length) problems.push(`${setupFailures.length} games could not be opened`);
  if (bad5xx.length) problems.push(`${bad5xx.length} 5xx answers in HAProxy's log`);
  if (lost.length) problems.push(`${lost.length} acknowledged actions lost`);
  if (doubled.length) problems.push(`${doubled.length} actions doubled`);
  if (rounds.length || other.length) problems.push(`${rounds.length + other.length} other invariant violations`);
  if (badExits.length) problems.push(`${badExits.length} old nodes did not exit 0`);
  if (unplanned.length || notHanded.length || missingAdoption.length) problems.push('games not handed over cleanly');
  if (f && f.takeovers.size < f.owned.length) problems.push('the frozen owner’s games were not all taken over');
  if (c && (c.twice.length || c.notResumed.length)) problems.push(`cold start: ${c.twice.length} games resumed twice, ${c.notResumed.length} not resumed`);
  if (unrecovered) problems.push(`${unrecovered} bots never saw their game again after a close`);
  line(problems.length ? `RESULT         FAILED: ${problems.join('; ')}` : 'RESULT         OK: no failed request, no lost or doubled action, every game handed over or taken over once');
  line();
  return { lines: out, failed: problems.length > 0 };
}
