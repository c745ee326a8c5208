// The simulator's judge: from every write any node made, the clients' histories and the
// replicas at the end, lists every violation of the cluster's promises:
//   - every acknowledged action is applied exactly once: the round it was for, in the game's
//     final history (the chain of records the final one descends from), applied that action
//     for that player; no action id is acknowledged as new twice;
//   - no round is resolved by two owners in a way anyone could see: a resolution outside the
//     final history that a client observed, or that a peer acknowledged (for a write its owner
//     could not save: that a peer saved);
//   - the rounds any one client sees never go back;
//   - every game converges: every running node holds the same final record;
//   - no game is lost: every game whose creation was acknowledged still exists, or finished
//     with its result recorded; a game page never answers "no such game" for such a game
//     for longer than a short wait.

import { compareVersion, type Version } from '../../src/replication/record.js';
import type { GameRecord } from '../../src/sessions/game-record.js';
import type { GameState } from '../../src/game/types.js';
import type { SimClient } from './clients.js';
import type { LogEntry, SimNode, WriteTrace } from './node.js';

export interface CheckInput {
  codes: string[];
  clients: SimClient[];
  writes: WriteTrace[];
  logs: LogEntry[];
  /** Nodes running at the end. */
  nodes: SimNode[];
  /** Game ids with a recorded result. */
  recorded: Set<string>;
}

export interface CheckReport {
  violations: string[];
  stats: { acks: number; rounds: number; writes: number; finished: number; adoptions: number };
}

const key = (v: Version): string => `${v.epoch}/${v.owner}/${v.seq}`;

export function check(input: CheckInput): CheckReport {
  const violations: string[] = [];
  const stats = { acks: 0, rounds: 0, writes: input.writes.length, finished: 0, adoptions: 0 };

  // Every record ever written, by game and version.
  const records = new Map<string, Map<string, GameRecord>>();
  const acked = new Set<string>();
  for (const w of input.writes) {
    const byVersion = records.get(w.record.key) ?? new Map<string, GameRecord>();
    records.set(w.record.key, byVersion);
    byVersion.set(key(w.record), w.record);
    // A peer's ack of a write its owner could not save confirms it only if that peer saved it.
    if (w.outcome === 'acked' && (!w.persist || w.saved))
      acked.add(`${w.record.key}@${key(w.record)}`);
  }
  // An adoption names the record it continued from.
  const bases = new Map<string, Version>();
  // So does a claim that took effect while its node was told it failed (it logged nothing): a
  // later adoption may continue from the record it left in the database.
  for (const w of input.writes)
    if (w.replyLost && w.base) bases.set(`${w.record.key}@${key(w.record)}`, w.base);
  // Runs adopted by a handoff while the adopter could not reach the database: their writes go to
  // nobody until the first save that claims the run succeeds.
  const unclaimedRuns = new Set<string>();
  for (const l of input.logs) {
    // The claim names the base even when the adoption is then abandoned.
    if (
      typeof l.game === 'string' &&
      l.base &&
      typeof l.epoch === 'number' &&
      typeof l.node === 'string' &&
      / claimed \(epoch/.test(l.msg)
    ) {
      bases.set(`${l.game}@${l.epoch}/${l.node}/0`, l.base as Version);
      if (l.unclaimed === true) unclaimedRuns.add(`${l.game}@${l.epoch}/${l.node}`);
    }
    if (/adopted from/.test(l.msg)) stats.adoptions++;
  }

  // Two different records under one version: a writer reused a version, or a copy of a record
  // (from the database) differs from the write it copies.
  for (const n of input.nodes) {
    if (n.replica.conflicts > 0)
      violations.push(`node ${n.id}: ${n.replica.conflicts} versions named two different records`);
  }

  for (const code of input.codes) {
    const byVersion = records.get(code) ?? new Map<string, GameRecord>();
    // The final record: what the running nodes hold (they must agree).
    const held = input.nodes.map((n) => ({ node: n.id, rec: n.replica.getAny(code) }));
    const finals = held.filter((h) => h.rec !== undefined) as { node: string; rec: GameRecord }[];
    let final = finals.reduce<GameRecord | undefined>(
      (best, h) => (best === undefined || compareVersion(h.rec, best) > 0 ? h.rec : best),
      undefined,
    );
    for (const h of held) {
      if (final && (!h.rec || compareVersion(h.rec, final) !== 0)) {
        violations.push(
          `${code}: node ${h.node} holds ${h.rec ? key(h.rec) : 'nothing'} but ${key(final)} exists (not converged)`,
        );
      }
    }
    if (!final) {
      // A finished game leaves the replicas after a restart; its result stays in the database.
      const newest = [...byVersion.values()].reduce<GameRecord | undefined>(
        (best, r) => (best === undefined || compareVersion(r, best) > 0 ? r : best),
        undefined,
      );
      const done = newest?.state?.status === 'finished' && input.recorded.has(newest.state.id);
      if (!done) {
        violations.push(`${code}: no running node holds the game (lost)`);
        continue;
      }
      // Its history is still checked, from the final state.
      final = newest;
    }

    // The final history: parents back to the creation.
    const chain: GameRecord[] = [];
    let cur: GameRecord = final;
    const visited = new Set<string>();
    // Each turn steps to the parent or ends the walk.
    for (;;) {
      if (visited.has(key(cur))) break;
      visited.add(key(cur));
      chain.push(cur);
      // The owner's previous write, or, for writes nobody was sent (an adoption not claimed yet
      // keeps its writes to itself until its compare-and-set), the last one before that was;
      // past the run's first write, the version its adoption continued.
      let parent: Version | undefined;
      if (unclaimedRuns.has(`${code}@${cur.epoch}/${cur.owner}`)) {
        for (let seq = cur.seq - 1; seq >= 0 && !parent; seq--) {
          const v = { epoch: cur.epoch, owner: cur.owner, seq };
          if (byVersion.has(key(v))) parent = v;
        }
      } else if (cur.seq > 0) parent = { epoch: cur.epoch, owner: cur.owner, seq: cur.seq - 1 };
      parent ??= bases.get(`${code}@${cur.epoch}/${cur.owner}/0`);
      if (!parent) break; // the creation
      const next = byVersion.get(key(parent));
      if (!next) {
        violations.push(
          `${code}: history broken: ${key(cur)} continues ${key(parent)}, which no node wrote`,
        );
        break;
      }
      cur = next;
    }
    chain.reverse();
    const states = chain.map((r) => r.state).filter((s): s is GameState => s !== null);
    const last = states.at(-1);
    if (last?.status === 'finished') {
      stats.finished++;
      if (!input.recorded.has(last.id))
        violations.push(`${code}: finished but its result was never recorded`);
    }

    // Rounds resolved in the history: the state after a resolution names what it applied.
    const applied = new Map<number, Record<string, string>>();
    for (let i = 1; i < states.length; i++) {
      const a = states[i - 1] as GameState;
      const b = states[i] as GameState;
      if (a.id !== b.id)
        violations.push(`${code}: game id changed in its history ${a.id} → ${b.id}`);
      if (b.round < a.round)
        violations.push(`${code}: round went back in its history ${a.round} → ${b.round}`);
      const resolved = a.status === 'playing' && (b.round > a.round || b.status === 'finished');
      if (resolved) {
        if (applied.has(a.round))
          violations.push(`${code}: round ${a.round} resolved twice in its history`);
        applied.set(a.round, b.previous);
        stats.rounds++;
      }
    }

    // Resolutions outside the history that someone could see.
    const inHistory = new Set(chain.map(key));
    const outside = [...byVersion.values()].filter(
      (r) => !inHistory.has(key(r)) && r.state !== null,
    );
    for (const r of outside) {
      const s = r.state as GameState;
      const parent =
        r.seq > 0
          ? byVersion.get(key({ epoch: r.epoch, owner: r.owner, seq: r.seq - 1 }))
          : undefined;
      if (!parent?.state || parent.state.round === s.round || parent.state.status !== 'playing')
        continue;
      const seenBy = input.clients.filter(
        (c) =>
          c.code === code &&
          c.seen.some((v) => v.epoch === r.epoch && v.owner === r.owner && v.seq === r.seq),
      );
      if (seenBy.length > 0 || acked.has(`${code}@${key(r)}`)) {
        violations.push(
          `${code}: round ${parent.state.round} was also resolved by ${r.owner} (epoch ${r.epoch}, seq ${r.seq}) outside the final history` +
            (seenBy.length
              ? `, seen by ${seenBy.map((c) => c.name).join(', ')}`
              : ', acknowledged by a peer'),
        );
      }
    }

    // Acknowledged actions.
    const current = last;
    for (const c of input.clients.filter((x) => x.code === code)) {
      const fresh = new Map<string, number>();
      for (const a of c.acks)
        if (!a.duplicate) fresh.set(a.actionId, (fresh.get(a.actionId) ?? 0) + 1);
      for (const [id, n] of fresh)
        if (n > 1)
          violations.push(`${code}: ${c.name}'s action ${id} acknowledged as new ${n} times`);
      const checked = new Set<string>();
      for (const a of c.acks) {
        if (checked.has(a.actionId)) continue;
        checked.add(a.actionId);
        stats.acks++;
        const round = applied.get(a.round);
        if (round) {
          if (round[c.playerId] !== a.actionId) {
            violations.push(
              `${code}: ${c.name}'s action ${a.actionId} for round ${a.round} was acknowledged by ${a.node} at ${a.at} but round ${a.round} applied ${round[c.playerId] ?? 'nothing'} for that player`,
            );
          }
        } else if (!(
          current &&
          current.status === 'playing' &&
          current.round === a.round &&
          current.submitted[c.playerId]?.id === a.actionId
        )) {
          violations.push(
            `${code}: ${c.name}'s action ${a.actionId} for round ${a.round} was acknowledged by ${a.node} at ${a.at} but is in no resolution and not in the final record (round ${current?.round}, ${current?.status})`,
          );
        }
      }
      // Rounds seen never go back.
      for (let i = 1; i < c.seen.length; i++) {
        const a = c.seen[i - 1]!;
        const b = c.seen[i]!;
        if (b.round < a.round)
          violations.push(
            `${code}: ${c.name} saw round ${b.round} (via ${b.node} at ${b.at}) after round ${a.round} (via ${a.node})`,
          );
      }
      for (const nf of c.notFound)
        violations.push(
          `${code}: ${c.name}'s game page on ${nf.node} said there is no such game at ${nf.at}`,
        );
    }
  }
  return { violations, stats };
}
