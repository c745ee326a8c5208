// The invariants every redeploy test, benchmark and the rehearsal check, from the bots'
// records (test/support/bots.ts), the nodes' logs (the debug line "round R of CODE resolved
// (epoch E)" with the action ids it applied) and samples of the replicated record taken through
// several nodes. Each violation has a kind, so reports count them without reading their text:
//   - reset: the same game id throughout; in version order (epoch, owner, seq) the round never
//     decreases, no character's hp ever increases, a finished game never plays again;
//   - round-repeated / round-skipped: each round of each game resolves exactly once (one
//     effective resolution in all logs of all nodes) and the resolved rounds are 1, 2, 3, … ,
//     matching the final record; seen-regressed: a bot never sees an earlier round after a later;
//   - ack-lost: for every ack of action X for round r, the resolution of round r applied X for
//     that player (or, for the round still running, the record holds X);
//   - doubled: an action id is acknowledged as new at most once and appears in at most one
//     resolution.

import type { AdminRecord } from './admin.js';
import { TEST_ADMIN_TOKEN } from './admin.js';
import type { Bot } from './bots.js';
import type { NodeProcess } from './node-process.js';
import { compareVersion } from '../../src/replication/record.js';

export type ViolationKind =
  | 'reset'
  | 'round-repeated'
  | 'round-skipped'
  | 'final-mismatch'
  | 'seen-regressed'
  | 'ack-lost'
  | 'doubled';

export interface Violation {
  kind: ViolationKind;
  game: string;
  text: string;
  /** For an ack-lost: when the lost action was acknowledged (ms since the epoch). */
  at?: number;
}

export interface Resolution {
  node: string;
  game: string;
  round: number;
  epoch: number;
  outcome: string;
  applied: Record<string, string>;
  time: string;
}

const RESOLVED = /^round (\d+) of ([A-Z]{4}) resolved/;
const RESOLVING = /^round (\d+) of ([A-Z]{4}) resolving/;
/**
 * The outcome of a resolution whose node was killed (SIGKILL) between logging it and saving it:
 * its save may or may not have committed. It counts only if no node resolved that round.
 */
export const KILLED_WHILE_SAVING = 'killed-while-saving';
const CONFIRMED = /^record (\d+) of ([A-Z]{4}) confirmed/;

/** Every round resolution logged by any of `nodes` (the debug line of the registry). */
export function resolutions(nodes: NodeProcess[], code?: string): Resolution[] {
  const out: Resolution[] = [];
  for (const n of nodes) {
    // Writes sent again until a peer or the database held them: node/game/epoch → highest seq.
    const confirmed = new Map<string, number>();
    for (const l of n.lines) {
      const m = CONFIRMED.exec(l.msg);
      if (!m) continue;
      const k = `${m[2]!}/${String(l.epoch)}`;
      confirmed.set(k, Math.max(confirmed.get(k) ?? 0, Number(m[1])));
    }
    for (const l of n.lines) {
      const m = RESOLVED.exec(l.msg);
      if (!m || (code && m[2] !== code)) continue;
      out.push({
        node: String(l.node),
        game: m[2]!,
        round: Number(m[1]),
        epoch: Number(l.epoch),
        // An unconfirmed resolution stands only if its write was confirmed later; otherwise no
        // player saw it (pages show confirmed writes) and its node was fenced.
        outcome:
          String(l.outcome) === 'unconfirmed' &&
          typeof l.seq === 'number' &&
          (confirmed.get(`${m[2]!}/${String(l.epoch)}`) ?? -1) >= l.seq
            ? 'ok'
            : String(l.outcome),
        applied: (l.applied ?? {}) as Record<string, string>,
        time: String(l.time),
      });
    }
    // A killed node's last resolutions that never logged their outcome.
    if (n.exitSignal !== 'SIGKILL') continue;
    const outcomes = new Set(
      n.lines.filter((l) => RESOLVED.test(l.msg)).map((l) => `${String(l.game)}/${String(l.seq)}`),
    );
    for (const l of n.lines) {
      const m = RESOLVING.exec(l.msg);
      if (!m || (code && m[2] !== code) || outcomes.has(`${m[2]!}/${String(l.seq)}`)) continue;
      out.push({
        node: String(l.node),
        game: m[2]!,
        round: Number(m[1]),
        epoch: Number(l.epoch),
        outcome: KILLED_WHILE_SAVING,
        applied: (l.applied ?? {}) as Record<string, string>,
        time: String(l.time),
      });
    }
  }
  return out;
}

/** A resolution whose write was not discarded (fenced writes never reach the store). */
export const effective = (r: Resolution): boolean => r.outcome === 'ok';

export interface Sample {
  via: string;
  at: number;
  key: string;
  owner: string;
  epoch: number;
  seq: number;
  gameId: string;
  round: number;
  deadline: number | null;
  status: string;
  hp: Record<string, number>;
}

export function toSample(via: string, rec: AdminRecord): Sample {
  return {
    via,
    at: Date.now(),
    key: rec.key,
    owner: rec.owner,
    epoch: rec.epoch,
    seq: rec.seq,
    gameId: rec.state.id,
    round: rec.state.round,
    deadline: rec.state.deadline,
    status: rec.state.status,
    hp: Object.fromEntries(rec.state.players.map((p) => [p.id, p.hp])),
  };
}

/**
 * Polls every game's record through every node `nodes()` returns (skipping ones that do not
 * answer quickly: stopped or paused processes), for the version-order checks.
 */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly codes: () => string[],
    private readonly nodes: () => string[],
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.once(), this.everyMs);
  }

  async once(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all(
        this.nodes().flatMap((base) =>
          this.codes().map(async (code) => {
            try {
              const res = await fetch(`${base}/admin/games/${code}.json`, {
                headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
                signal: AbortSignal.timeout(800),
              });
              if (res.status !== 200) return;
              const rec = (await res.json()) as AdminRecord;
              // Not yet held by anyone else, so not yet shown: it may be replaced.
              if (rec.unconfirmed) return;
              this.samples.push(toSample(base, rec));
            } catch {
              /* node down or paused */
            }
          }),
        ),
      );
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export interface InvariantInput {
  /** Game codes to check. */
  codes: string[];
  bots: Bot[];
  /** Every node process that ran during the test (dead ones too: their logs count). */
  nodes: NodeProcess[];
  samples: Sample[];
  /** The newest record of each game, read after the bots stopped. */
  finals: Map<string, AdminRecord>;
  /**
   * Per game, the first round whose resolution is logged (rounds before it were resolved by a
   * release without the resolution log line, e.g. an older one in a version-skew test; their
   * resolutions and acks are not checked). Default 1.
   */
  fromRound?: Map<string, number>;
}

export interface InvariantReport {
  violations: Violation[];
  /** Per game: rounds resolved, acks checked, resolutions by node. */
  summary: Record<
    string,
    {
      rounds: number;
      acks: number;
      byNode: Record<string, number>;
      finalRound: number;
      status: string;
    }
  >;
}

/** The resolutions of `code` that count: effective ones, and saves of killed nodes that held. */
function counted(all: Resolution[], code: string): Resolution[] {
  const res = all.filter((r) => r.game === code && effective(r));
  // A round resolved by a node killed as it saved: its save committed if no node resolved that
  // round after it (a successor adopting the round unresolved would have resolved it).
  for (const k of all
    .filter((r) => r.game === code && r.outcome === KILLED_WHILE_SAVING)
    .sort((a, b) => b.epoch - a.epoch))
    if (!res.some((r) => r.round === k.round)) res.push(k);
  return res;
}

/** Whether a game's record continues from `lastResolved`, the last round logged as resolved. */
function continuesFrom(final: AdminRecord, lastResolved: number): boolean {
  const expected = final.state.status === 'finished' ? final.state.round : final.state.round - 1;
  return expected === lastResolved;
}

/**
 * Whether every record of `finals` continues from the last round the nodes logged as resolved.
 * Records read while games still run can be a round ahead of the logs (a line not yet read from
 * a node's output) or behind them (a round resolved after the read): the rig reads them again
 * until this holds, and the checker reports what still disagrees.
 */
export function finalsAgree(
  codes: string[],
  nodes: NodeProcess[],
  finals: Map<string, AdminRecord>,
): boolean {
  const all = resolutions(nodes);
  return codes.every((code) => {
    const final = finals.get(code);
    if (!final) return false;
    const rounds = counted(all, code).map((r) => r.round);
    return continuesFrom(final, rounds.length ? Math.max(...rounds) : 0);
  });
}

/**
 * The records `read` gives, read again (for up to `timeoutMs`) until they agree with the rounds
 * `nodes` logged as resolved (finalsAgree), and with `also` when given: games still run while
 * they are read. Returns the last reading either way, for the checker to report.
 */
export async function agreedFinals(
  nodes: NodeProcess[],
  read: () => Promise<Map<string, AdminRecord>>,
  also?: (finals: Map<string, AdminRecord>) => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<Map<string, AdminRecord>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await read();
    const alsoHolds = (await also?.(m)) ?? true;
    // Judged after `also` (which may wait on a database): a round resolved meanwhile makes the
    // records read above one behind the logs, and they are read again (one read just after a
    // resolution can be ahead of a log line not yet read). From here to the caller's
    // checkInvariants no log line can arrive (no turn of the event loop).
    if (alsoHolds && finalsAgree([...m.keys()], nodes, m)) return m;
    if (Date.now() >= deadline) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function checkInvariants(input: InvariantInput): InvariantReport {
  const violations: Violation[] = [];
  const summary: InvariantReport['summary'] = {};
  const all = resolutions(input.nodes);
  for (const code of input.codes) {
    const final = input.finals.get(code);
    const res = counted(all, code);
    const byRound = new Map<number, Resolution[]>();
    for (const r of res) byRound.set(r.round, [...(byRound.get(r.round) ?? []), r]);

    // Never two owners resolving a round; no round resolved twice.
    for (const [round, rs] of byRound) {
      if (rs.length > 1) {
        violations.push({
          kind: 'round-repeated',
          game: code,
          text: `${code}: round ${round} resolved ${rs.length} times: ${rs.map((r) => `${r.node} (epoch ${r.epoch}, ${r.outcome}, ${r.time})`).join('; ')}`,
        });
      }
    }
    // No round skipped: 1..max, and the final record continues from the last resolution.
    const rounds = [...byRound.keys()].sort((a, b) => a - b);
    const max = rounds.at(-1) ?? 0;
    const from = input.fromRound?.get(code) ?? 1;
    for (let r = from; r <= max; r++)
      if (!byRound.has(r))
        violations.push({
          kind: 'round-skipped',
          game: code,
          text: `${code}: round ${r} was never resolved (resolved: ${rounds.join(',')})`,
        });
    if (final) {
      if (!continuesFrom(final, max))
        violations.push({
          kind: 'final-mismatch',
          game: code,
          text: `${code}: final record is at round ${final.state.round} (${final.state.status}) but the last resolution logged is round ${max}`,
        });
    } else {
      violations.push({ kind: 'final-mismatch', game: code, text: `${code}: no final record` });
    }

    // No acknowledged action lost; none applied twice.
    const bots = input.bots.filter((b) => b.code === code);
    let acks = 0;
    const appliedIn = new Map<string, number>();
    for (const r of res)
      for (const id of Object.values(r.applied)) appliedIn.set(id, (appliedIn.get(id) ?? 0) + 1);
    for (const [id, n] of appliedIn)
      if (n > 1)
        violations.push({
          kind: 'doubled',
          game: code,
          text: `${code}: action ${id} applied in ${n} resolutions`,
        });
    for (const b of bots) {
      const fresh = new Map<string, number>();
      for (const a of b.acks)
        if (!a.duplicate) fresh.set(a.actionId, (fresh.get(a.actionId) ?? 0) + 1);
      for (const [id, n] of fresh)
        if (n > 1)
          violations.push({
            kind: 'doubled',
            game: code,
            text: `${code}: ${b.name}'s action ${id} acknowledged as new ${n} times`,
          });
      const seen = new Set<string>();
      for (const a of b.acks) {
        if (seen.has(a.actionId) || a.round < from) continue;
        seen.add(a.actionId);
        acks++;
        const rs = byRound.get(a.round)?.[0];
        if (rs) {
          if (rs.applied[b.playerId] !== a.actionId) {
            violations.push({
              kind: 'ack-lost',
              game: code,
              at: a.at,
              text: `${code}: ${b.name}'s action ${a.actionId} for round ${a.round} was acknowledged (via ${a.node}) but round ${a.round} (resolved by ${rs.node}, epoch ${rs.epoch}) applied ${rs.applied[b.playerId] ?? 'nothing'} for that player`,
            });
          }
        } else if (
          !final ||
          final.state.round !== a.round ||
          final.state.submitted[b.playerId]?.id !== a.actionId
        ) {
          violations.push({
            kind: 'ack-lost',
            game: code,
            at: a.at,
            text: `${code}: ${b.name}'s action ${a.actionId} for round ${a.round} was acknowledged but round ${a.round} has no resolution and the final record (round ${final?.state.round}) does not hold it`,
          });
        }
      }
      for (const g of b.regressions)
        violations.push({
          kind: 'seen-regressed',
          game: code,
          text: `${code}: ${b.name} saw round ${g.to} after round ${g.from} (via ${g.node})`,
        });
    }

    // No game reset: in version order, same game, round never decreases, hp never increases.
    const samples = input.samples.filter((s) => s.key === code).sort(compareVersion);
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      const at = `${a.owner}/${a.epoch}/${a.seq} → ${b.owner}/${b.epoch}/${b.seq}`;
      if (a.gameId !== b.gameId)
        violations.push({
          kind: 'reset',
          game: code,
          text: `${code}: game id changed ${a.gameId} → ${b.gameId} (${at})`,
        });
      if (b.round < a.round)
        violations.push({
          kind: 'reset',
          game: code,
          text: `${code}: round went back ${a.round} → ${b.round} (${at})`,
        });
      if (
        compareVersion(a, b) === 0 &&
        (a.round !== b.round || JSON.stringify(a.hp) !== JSON.stringify(b.hp))
      )
        violations.push({
          kind: 'reset',
          game: code,
          text: `${code}: two different records under one version ${at}`,
        });
      for (const [pid, hp] of Object.entries(b.hp)) {
        if (hp > (a.hp[pid] ?? Infinity))
          violations.push({
            kind: 'reset',
            game: code,
            text: `${code}: hp of ${pid} went up ${a.hp[pid]} → ${hp} (${at})`,
          });
      }
      if (a.status === 'finished' && b.status !== 'finished')
        violations.push({
          kind: 'reset',
          game: code,
          text: `${code}: finished game playing again (${at})`,
        });
    }

    const byNode: Record<string, number> = {};
    for (const r of res) byNode[r.node] = (byNode[r.node] ?? 0) + 1;
    summary[code] = {
      rounds: max,
      acks,
      byNode,
      finalRound: final?.state.round ?? -1,
      status: final?.state.status ?? 'missing',
    };
  }
  return { violations, summary };
}
