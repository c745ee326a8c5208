// The rehearsal's report: everything a player or an operator could have noticed, counted from
// the bots, the HTTP load, HAProxy's log, the nodes' logs and the invariants (by kind, not by
// reading their text), scenario by scenario; and the verdict. Failures a scenario makes happen
// by nature (requests in flight to a node as it froze or its host was lost, pages sent while
// every node was down, sign-ups while the database restarted) are counted apart, each under
// the scenario that explains it, and only inside its window.

import { BEHIND_REASON } from '../../src/live/close-codes.js';
import { logLines, type LogLine } from '../../test/support/node-process.js';
import type { InvariantReport, Violation } from '../../test/support/invariants.js';
import type { AdminRecord } from '../../test/support/admin.js';
import { Player } from '../../test/support/player.js';
import type { Stage } from './cluster.js';
import type { Failure } from './load.js';
import type { Players } from './players.js';
import type { ColdStart, Freeze, Replacement } from './scenarios.js';
import { ms, pct, secs, t0 } from './say.js';

/**
 * A window in which some failures are what a scenario does by nature:
 *   - outage: nothing answers (every node down): every failure;
 *   - hung: requests in flight to a node that froze or whose host was lost: timeouts, cut
 *     connections, HAProxy's 502 and 504;
 *   - database: forms that need the database while it restarts (a sign-up, a new game): a
 *     node's own 503. Pages are not covered: they answer from what the node last read.
 */
export interface Excuse {
  kind: 'outage' | 'hung' | 'database' | 'partition';
  from: number;
  to: number;
  /** How the report names what it covers, e.g. "while every node was down". */
  label: string;
  /**
   * Only what HAProxy must not send again (forms, and the game openings made of them): it sends a
   * page that a node has not begun to answer within 6 s to another node, so no page may fail.
   */
  formsOnly?: boolean;
}

/** Lines and verdicts of a scenario the shared report does not know (the multi-host ones). */
export interface Section {
  lines: string[];
  problems: string[];
  excuses: Excuse[];
}

export interface Outcome {
  cluster: Stage;
  players: Players;
  invariants: InvariantReport;
  finals: Map<string, AdminRecord>;
  /** Games no node had at the end and that had not finished before a cold start. */
  missing?: string[];
  replacements: Replacement[];
  deploys: number;
  freeze: Freeze | null;
  cold: ColdStart | null;
  /** Defaults to the single-host rehearsal's. */
  title?: string;
  setup?: string;
  /** More scenarios, reported after the handoffs and the frozen owner, before the cold start. */
  sections?: Section[];
}

const logTime = (l: LogLine): number => Date.parse(String(l.time));

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** When HAProxy accepted the request of a log line (its clock is this machine's, UTC). */
function haproxyTime(line: string): number {
  const m = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})\.(\d{3})\]/.exec(line);
  return m
    ? Date.UTC(
        Number(m[3]),
        MONTHS.indexOf(m[2]!),
        Number(m[1]),
        Number(m[4]),
        Number(m[5]),
        Number(m[6]),
        Number(m[7]),
      )
    : NaN;
}

const HUNG =
  /Timeout|aborted|other side closed|SocketError|ECONNRESET|socket hang up|^50[24] |failed: 50[24] /;
/** A node's own 503 (not HAProxy's "No server is available"). */
const NODE_503 = (what: string) =>
  /(^|failed: )503 /.test(what) && !/No server is available/.test(what);

/** The excuse that covers a failed request (or opening of a game, `setup`), if any. */
function excuseOf(excuses: Excuse[], f: Failure, setup = false): Excuse | undefined {
  return excuses.find((e) => {
    // Opening a game takes several requests (sign-ups, create, join, start): it may have started
    // before the window.
    const from = setup && e.kind !== 'hung' ? e.from - 10_000 : e.from;
    if (f.at < from || f.at > e.to) return false;
    if (e.formsOnly && !setup) return false;
    if (e.kind === 'outage') return true;
    if (e.kind === 'hung') return HUNG.test(f.what);
    // A node cut off from the others cannot reach a game owned across the cut: a new game whose
    // requests went through it is not opened (its pages and actions are counted as usual).
    if (e.kind === 'partition') return setup;
    return setup && NODE_503(f.what);
  });
}

/** The excuse that covers an HAProxy log line answered 5xx, if any. */
function excuseOfLb(excuses: Excuse[], line: string): Excuse | undefined {
  const at = haproxyTime(line);
  const status = /\s-?\d+\/-?\d+\/-?\d+\/-?\d+\/\+?-?\d+\s(-?\d+)\s/.exec(line)?.[1];
  return excuses.find((e) => {
    if (at < e.from || at > e.to) return false;
    if (e.formsOnly && /"(GET|HEAD) /.test(line)) return false;
    if (e.kind === 'outage') return true;
    if (e.kind === 'hung') return status === '502' || status === '504';
    return status === '503' && !/<NOSRV>/.test(line) && /"POST /.test(line);
  });
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

/** When HAProxy had the first of the cold start's new nodes UP, after their start (0: none). */
const firstUp = (c: ColdStart): number => (c.upMs.length ? Math.min(...c.upMs) : 0);

export function report(o: Outcome): { lines: string[]; failed: boolean } {
  const { cluster, players, invariants: inv, replacements } = o;
  const rig = cluster.rig;
  const sections = o.sections ?? [];
  const load = players.load!;
  const by = (kind: Violation['kind'][]) => inv.violations.filter((v) => kind.includes(v.kind));
  const lost = by(['ack-lost']);
  const doubled = by(['doubled']);
  const rounds = by(['round-repeated', 'round-skipped', 'final-mismatch']);
  const other = by(['reset', 'seen-regressed']);

  // Failures the scenarios make happen by nature, each within its window.
  const loadTimeout = load.timeoutMs;
  const excuses: Excuse[] = [...sections.flatMap((x) => x.excuses)];
  if (o.cold)
    excuses.push({
      kind: 'outage',
      from: o.cold.killedAt - loadTimeout,
      // Until every new node is ready and HAProxy has one of them UP, which on a loaded machine
      // came up to 2.3 s after it was ready: until then every request fails.
      to: o.cold.startedAt + Math.max(...o.cold.readyMs, firstUp(o.cold), 0) + 3000,
      label: `while every node was ${o.cold.signal === 'SIGKILL' ? 'down' : 'stopped'}`,
    });
  // A form that reached the node just as it froze hangs until it runs again (or the client gives
  // up). Pages do not: HAProxy sends them to another node after 6 s (deploy/haproxy.cfg).
  if (o.freeze)
    excuses.push({
      kind: 'hung',
      from: o.freeze.frozenAt - loadTimeout,
      to: o.freeze.frozenAt + 3000,
      label: 'that hung on the node as it froze',
      formsOnly: true,
    });
  const outages = excuses.filter((e) => e.kind === 'outage');
  const inOutage = (at: number) => outages.some((e) => at >= e.from && at <= e.to);
  const excusedLoad = load.failures.filter((f) => excuseOf(excuses, f));
  const loadFailures = load.failures.filter((f) => !excuseOf(excuses, f));
  const setupFailures = players.setupFailures.filter((f) => !excuseOf(excuses, f, true));
  const excusedSetup = players.setupFailures.filter((f) => excuseOf(excuses, f, true));
  const lbLog = cluster.haproxy.statuses();
  const bad5xx = lbLog.bad.filter((l) => !excuseOfLb(excuses, l));
  const excusedLb = lbLog.bad.filter((l) => excuseOfLb(excuses, l));
  const byLabel = (items: Map<string, number>) =>
    [...items].map(([label, n]) => `${n} ${label}`).join(' and ');

  // Handoffs, from the logs.
  const handoffs: {
    game: string;
    from: string;
    to: string;
    round: number;
    afterSigtermMs: number;
    adoptedAfterSigtermMs: number;
  }[] = [];
  const missingAdoption: string[] = [];
  for (const r of replacements) {
    const oldId = r.old.opts.nodeId!;
    const sig = r.old.lines.find((l) => /^SIGTERM received/.test(l.msg));
    const sigAt = sig ? logTime(sig) : r.sigtermAt;
    for (const { line } of logLines([r.old], /^game [A-Z]{4} handed to node /)) {
      const m = /^game ([A-Z]{4}) handed to node (\S+) \(epoch (\d+), round (\d+)/.exec(line.msg)!;
      const [game, to, epoch, round] = [m[1]!, m[2]!, m[3]!, Number(m[4])];
      const adopted = rig
        .node(to)
        .lines.find(
          (l) =>
            l.msg === `game ${game} adopted from node ${oldId} (epoch ${epoch}, round ${round})`,
        );
      if (!adopted) missingAdoption.push(`${game} ${oldId}→${to}`);
      handoffs.push({
        game,
        from: oldId,
        to,
        round,
        afterSigtermMs: logTime(line) - sigAt,
        adoptedAfterSigtermMs: adopted ? logTime(adopted) - sigAt : NaN,
      });
    }
  }
  // During rolling updates a game moves only by handoff.
  const rollingEnd = replacements.length
    ? Math.max(...replacements.map((r) => r.sigtermAt + (r.exitMs ?? 0)))
    : 0;
  const unplanned = logLines(rig.all, /\[takeover\]|left in the database for the next node/).filter(
    (t) => logTime(t.line) <= rollingEnd && (!o.freeze || logTime(t.line) < o.freeze.frozenAt),
  );
  const notHanded = replacements.flatMap((r) =>
    r.owned.filter(
      (c) =>
        !handoffs.some((h) => h.game === c && h.from === r.old.opts.nodeId) &&
        o.finals.get(c)?.state.status === 'playing',
    ),
  );
  const badExits = replacements.filter((r) => r.old.exitCode !== 0);

  // Reconnect gaps the bots saw: socket closed → first partial on the next connection.
  const gaps: number[] = [];
  const closeCodes = new Map<number, number>();
  let unrecovered = 0;
  let bounced = 0;
  let outageCloses = 0;
  let seenConnects = 0;
  let keptWaiting = 0;
  for (const b of rig.bots) {
    seenConnects += b.seenConnects;
    // A node whose copy was behind what the page had seen kept it waiting (src/sessions/seen.ts).
    keptWaiting += b.closes.filter((c) => c.reason === BEHIND_REASON).length;
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
  const ackedIn = (from: number, to: number) =>
    acks.filter((a) => !a.duplicate && a.at >= from && a.at <= to).length;
  const lostIn = (from: number, to: number) =>
    lost.filter((v) => v.at !== undefined && v.at >= from && v.at <= to).length;
  const refusals = new Map<string, number>();
  for (const b of rig.bots)
    for (const r of b.refusals) refusals.set(r.code, (refusals.get(r.code) ?? 0) + 1);
  const roundsPlayed = Object.values(inv.summary).reduce((n, s) => n + s.rounds, 0);

  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line();
  line(
    `══ ${o.title ?? 'Deploy rehearsal report'} ${'═'.repeat(Math.max(3, 80 - (o.title ?? 'Deploy rehearsal report').length))}`,
  );
  const scen = [
    o.deploys
      ? `${o.deploys} start-first rolling update(s) = ${replacements.length} node replacements`
      : '',
    o.freeze ? 'an owner frozen (SIGSTOP) until taken over' : '',
    o.cold
      ? o.cold.signal === 'SIGKILL'
        ? 'every node lost at once (SIGKILL) and a cold start'
        : 'every node stopped (SIGTERM) and a cold start'
      : '',
  ].filter(Boolean);
  line(
    `setup          ${o.setup ?? `3 production nodes (deploy/docker-stack.yml's environment) behind HAProxy terminating TLS (deploy/haproxy.cfg), DNS discovery; ${scen.join('; ')}`}; ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  const besides = byLabel(countBy(excusedLoad, (f) => excuseOf(excuses, f)!.label));
  line(
    `HTTP load      ${loadFailures.length} failed of ${load.total} requests (https GET /lobby, /leaderboard, /games/:code, logged in)${besides ? `, besides ${besides}` : ''}; latency p50 ${ms(pct(load.latencies, 50))}, p99 ${ms(pct(load.latencies, 99))}, max ${ms(Math.max(...load.latencies))}${Player.resentGets ? `; ${Player.resentGets} GETs (pages and games opened included) sent again on a new connection, as a browser does: the kept-alive one they went out on was closed under them` : ''}`,
  );
  for (const f of loadFailures.slice(0, 10))
    line(`                 ${secs(f.at)} ${f.path}: ${f.what}`);
  if (load.slowest.length)
    line(
      `               slowest answered: ${load.slowest.map((t) => `${ms(t.ms)} (${t.path} sent at ${secs(t.at).trim()})`).join(', ')}`,
    );
  const setupBesides = byLabel(countBy(excusedSetup, (f) => excuseOf(excuses, f, true)!.label));
  line(
    `new games      ${players.opened} games opened through HAProxy (sign-up, create, join, start); ${setupFailures.length} failed${setupBesides ? `, besides ${setupBesides}` : ''}`,
  );
  for (const f of setupFailures.slice(0, 10)) line(`                 ${secs(f.at)} ${f.what}`);
  const lbBesides = byLabel(countBy(excusedLb, (l) => excuseOfLb(excuses, l)!.label));
  line(
    `HAProxy log    ${lbLog.total} requests logged (pages, forms, WebSocket upgrades): ${[
      ...lbLog.byStatus,
    ]
      .sort()
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}; ${bad5xx.length} answered 5xx${lbBesides ? `, besides ${lbBesides}` : ''}`,
  );
  for (const l of bad5xx.slice(0, 5)) line(`                 ${l}`);
  line(
    `actions        ${sent} sent, ${acks.filter((a) => !a.duplicate).length} acknowledged, ${acks.filter((a) => a.duplicate).length} resends recognised as duplicates; ${lost.length} acknowledged actions lost, ${doubled.length} doubled`,
  );
  if (refusals.size)
    line(`               refusals: ${[...refusals].map(([c, n]) => `${c}×${n}`).join(' ')}`);
  line(
    `rounds         ${roundsPlayed} rounds resolved in ${rig.codes.length} games; ${rounds.length} repeated or skipped; ${other.length} other violations (resets, rounds seen going back)`,
  );
  for (const [code, s] of Object.entries(inv.summary))
    line(
      `                 ${code}: ${s.rounds} rounds, final round ${s.finalRound} (${s.status}), acks checked ${s.acks}, resolved by ${Object.entries(
        s.byNode,
      )
        .map(([n, k]) => `${n}×${k}`)
        .join(' ')}`,
    );
  for (const v of inv.violations.slice(0, 20)) line(`  VIOLATION [${v.kind}] ${v.text}`);
  if (replacements.length) {
    const hs = handoffs.map((h) => h.adoptedAfterSigtermMs).filter(Number.isFinite);
    line(
      `handoffs       ${handoffs.length} games handed over (SIGTERM → adopted by the successor: median ${ms(pct(hs, 50))}, max ${ms(Math.max(...hs))}); ${unplanned.length} takeovers or games left in the database; ${missingAdoption.length} without adoption log; ${notHanded.length} owned games not handed over`,
    );
    for (const t of unplanned) line(`  TAKEOVER ${t.node}: ${t.line.msg}`);
    line(
      'old nodes      SIGTERM → out of HAProxy / drained (games handed, sockets closed 1012) / exit:',
    );
    for (const r of replacements) {
      const drained = r.old.lines.find((l) => /^drained: /.test(l.msg));
      line(
        `                 ${r.old.opts.nodeId!.padEnd(3)} out ${ms(r.lbOutMs ?? NaN).padStart(7)}, drained ${ms(drained ? Number(drained.ms) : NaN).padStart(7)}, exit ${r.old.exitCode ?? r.old.exitSignal} after ${ms(r.exitMs ?? NaN)}   (successor ${r.fresh.opts.nodeId} ready ${ms(r.freshReadyMs)}, UP in HAProxy ${ms(r.lbUpMs)})`,
      );
    }
    line(
      `               during the updates: ${ackedIn(t0, rollingEnd)} actions acknowledged, ${lostIn(t0, rollingEnd)} of them lost`,
    );
  }
  const f = o.freeze;
  if (f) {
    const tk = [...f.takeovers.values()];
    line(
      `frozen owner   ${f.node.opts.nodeId} SIGSTOPped for ${ms(f.thawedAt - f.frozenAt)} while running ${f.owned.length} games: taken over after ${tk.length ? `${ms(Math.min(...tk))}–${ms(Math.max(...tk))}` : '–'} (${f.owned.length - f.takeovers.size} not taken over); on SIGCONT it stopped running ${f.fencedMs.length} games (fenced ${f.fencedMs.length ? ms(Math.max(...f.fencedMs)) : '–'} after) and was UP in HAProxy again after ${ms(f.upAgainMs ?? NaN)}`,
    );
    line(
      `               around the freeze: ${ackedIn(f.frozenAt - 2000, f.thawedAt + 10_000)} actions acknowledged, ${lostIn(f.frozenAt - 2000, f.thawedAt + 10_000)} of them lost`,
    );
  }
  for (const x of sections) for (const l of x.lines) line(l);
  const c = o.cold;
  if (c) {
    const res = [...c.resumed.values()];
    line(
      `cold start     ${c.lost.length} nodes ${c.signal === 'SIGKILL' ? 'SIGKILLed' : 'stopped (SIGTERM)'} at once, ${c.fresh.length} new ones started together ${ms(c.startedAt - c.killedAt)} later (ready in ${c.readyMs.map(ms).join(', ')}, UP in HAProxy after ${c.upMs.map(ms).join(', ')}); ${c.resumed.size} games resumed (${res.length ? `${ms(Math.min(...res))}–${ms(Math.max(...res))}` : '–'} after the start), ${c.twice.length} resumed twice, ${c.notResumed.length} not resumed`,
    );
    line(
      `               around the restart: ${ackedIn(c.killedAt - 3000, c.startedAt + 20_000)} actions acknowledged, ${lostIn(c.killedAt - 3000, c.startedAt + 20_000)} of them lost`,
    );
  }
  line(
    `reconnects     ${gaps.length} socket closes → first partial on the new connection: p50 ${ms(pct(gaps, 50))}, p95 ${ms(pct(gaps, 95))}, max ${ms(Math.max(...gaps))}; close codes ${[...closeCodes].map(([code, n]) => `${code}×${n}`).join(' ') || 'none'}, ${bounced} of them on a connection that had shown nothing yet; ${seenConnects} connections opened with the token of what the page had seen, ${keptWaiting} kept waiting by a node whose copy was behind${unrecovered ? `; ${unrecovered} never got a partial again` : ''}${outageCloses ? ` (and ${outageCloses} closed or refused connections while no node answered)` : ''}`,
  );

  const problems: string[] = [];
  if (loadFailures.length) problems.push(`${loadFailures.length} failed HTTP requests`);
  if (setupFailures.length) problems.push(`${setupFailures.length} games could not be opened`);
  if (bad5xx.length) problems.push(`${bad5xx.length} 5xx answers in HAProxy's log`);
  if (lost.length) problems.push(`${lost.length} acknowledged actions lost`);
  if (doubled.length) problems.push(`${doubled.length} actions doubled`);
  if (rounds.length || other.length)
    problems.push(`${rounds.length + other.length} other invariant violations`);
  if (badExits.length) problems.push(`${badExits.length} old nodes did not exit 0`);
  if (unplanned.length || notHanded.length || missingAdoption.length)
    problems.push('games not handed over cleanly');
  if (f && f.takeovers.size < f.owned.length)
    problems.push('the frozen owner’s games were not all taken over');
  // A scenario that ran with no game in play proved nothing of what it is there for.
  if (f && f.owned.length === 0) problems.push('the frozen owner ran no game to take over');
  if (c && c.resumed.size === 0) problems.push('the cold start had no running game to resume');
  if (c && (c.twice.length || c.notResumed.length))
    problems.push(
      `cold start: ${c.twice.length} games resumed twice, ${c.notResumed.length} not resumed`,
    );
  if (unrecovered) problems.push(`${unrecovered} bots never saw their game again after a close`);
  if (o.missing?.length) problems.push(`games on no node at the end: ${o.missing.join(', ')}`);
  for (const x of sections) problems.push(...x.problems);
  line(
    problems.length
      ? `RESULT         FAILED: ${problems.join('; ')}`
      : 'RESULT         OK: no failed request, no lost or doubled action, every game handed over or taken over once',
  );
  line();
  return { lines: out, failed: problems.length > 0 };
}
