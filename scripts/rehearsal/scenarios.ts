// What happens to the cluster during a rehearsal, each as an operator or the infrastructure
// would do it, with what it measured:
//   - rolling: a start-first rolling update of every node, in Swarm's order;
//   - freeze-owner: the node running games freezes (SIGSTOP: a paused VM, a long GC pause)
//     until its peers take its games over, then runs again (SIGCONT);
//   - cold-start: every node is lost at once (SIGKILL: a power cut) or stopped (SIGTERM: the
//     service scaled to zero), and new nodes start together, each entering DNS only once it is
//     ready.
// The multi-host rehearsal adds its own (scripts/rehearsal/hosts.ts).

import type { AdminRecord } from '../../test/support/admin.js';
import { agreedFinals } from '../../test/support/invariants.js';
import { waitFor, type NodeProcess } from '../../test/support/node-process.js';
import type { Stage } from './cluster.js';
import { say, sleep, ms } from './say.js';

export interface Replacement {
  old: NodeProcess;
  fresh: NodeProcess;
  freshReadyMs: number;
  lbUpMs: number;
  sigtermAt: number;
  lbOutMs: number | null;
  exitMs: number | null;
  owned: string[];
}

export interface Freeze {
  node: NodeProcess;
  owned: string[];
  frozenAt: number;
  thawedAt: number;
  /** Game → ms from SIGSTOP to its adoption by a peer. */
  takeovers: Map<string, number>;
  /** ms from SIGCONT until the node says it stopped running each game (fenced). */
  fencedMs: number[];
  /** ms from SIGCONT until HAProxy has the node UP again. */
  upAgainMs: number | null;
}

export interface ColdStart {
  /** SIGKILL: every node lost at once; SIGTERM: every node stopped (each drains alone). */
  signal: 'SIGKILL' | 'SIGTERM';
  lost: NodeProcess[];
  killedAt: number;
  startedAt: number;
  fresh: NodeProcess[];
  readyMs: number[];
  /** When each new node was in service (in DNS and UP in HAProxy), after the start. */
  upMs: number[];
  /** Game → ms from the start of the new nodes to its adoption after the restart. */
  resumed: Map<string, number>;
  /** Games resumed by more than one node (must be none). */
  twice: string[];
  /** Games still playing before the loss that no new node resumed. */
  notResumed: string[];
  /** Games that finished while the old nodes stopped (result recorded; nothing to resume). */
  finishedAtStop: Set<string>;
  /**
   * The newest record of every game just before the loss (a finished game is not resumed: its final
   * record).
   */
  before: Map<string, AdminRecord>;
}

export interface Context {
  cluster: Stage;
  current: NodeProcess[];
  playingGames(): Promise<{ code: string; owner: string }[]>;
}

/** Games still playing, with their owners, from the newest record each live node holds. */
export async function playingGames(stage: Stage): Promise<{ code: string; owner: string }[]> {
  const out: { code: string; owner: string }[] = [];
  for (const code of stage.rig.codes) {
    const r = await stage.rig.newest(code).catch(() => null);
    if (r?.state.status === 'playing') out.push({ code, owner: r.owner });
  }
  return out;
}

/**
 * Waits until every game still playing is at least `n` rounds further than now (finished ones may
 * leave the nodes).
 */
export async function roundsPass(stage: Stage, n: number, timeoutMs = 20_000): Promise<void> {
  const start = new Map<string, number>();
  for (const c of stage.rig.codes) {
    const r = await stage.rig.newest(c).catch(() => null);
    if (r?.state.status === 'playing') start.set(c, r.state.round);
  }
  await waitFor(
    async () => {
      for (const [c, from] of start) {
        const r = await stage.rig.newest(c).catch(() => null);
        if (r === null) throw new Error(`no live node has ${c}`);
        if (r.state.status === 'playing' && r.state.round < from + n) return false;
      }
      return true;
    },
    timeoutMs,
    `${n} more rounds in every game`,
    100,
  );
}

/**
 * The final record of every game: the newest a live node holds, or for a game that finished
 * before a cold start (not resumed: its result is recorded) its record then. A game neither
 * has is missing.
 */
export async function finalRecords(
  stage: Stage,
  cold: ColdStart | null,
): Promise<{ finals: Map<string, AdminRecord>; missing: string[] }> {
  let missing: string[] = [];
  // Read until they agree with the logs: games still playing resolve rounds meanwhile.
  const finals = await agreedFinals(stage.rig.all, async () => {
    const m = new Map<string, AdminRecord>();
    missing = [];
    for (const c of stage.rig.codes) {
      const r = await stage.rig.newest(c).catch(() => null);
      const earlier = cold?.before.get(c);
      if (r) m.set(c, r);
      else if (earlier?.state.status === 'finished') m.set(c, earlier);
      // Finished while the old nodes stopped: its result is recorded, no node holds it.
      else if (!cold?.finishedAtStop.has(c)) missing.push(c);
    }
    return m;
  });
  return { finals, missing };
}

/**
 * Every node replaced, one at a time, start-first: ready, in DNS, UP; then the old one leaves DNS
 * and gets SIGTERM.
 */
export async function rollingUpdate(ctx: Context, n: number, of: number): Promise<Replacement[]> {
  const { cluster } = ctx;
  const next: NodeProcess[] = [];
  const out: Replacement[] = [];
  say(`── rolling update ${n}/${of}: parallelism 1, start-first`);
  for (let i = 0; i < ctx.current.length; i++) {
    const old = ctx.current[i]!;
    const oldId = old.opts.nodeId!;
    const freshId = `${String.fromCharCode(97 + n)}${i + 1}`;
    const startedAt = Date.now();
    const fresh = cluster.launch(freshId);
    await fresh.ready(cluster.readyTimeoutMs);
    const freshReadyMs = Date.now() - startedAt;
    await cluster.enterService(fresh);
    const lbUpMs = Date.now() - startedAt;
    next.push(fresh);
    const owned = (await ctx.playingGames()).filter((g) => g.owner === oldId).map((g) => g.code);
    cluster.leaveService(old);
    const sigtermAt = Date.now();
    old.signal('SIGTERM');
    const rep: Replacement = {
      old,
      fresh,
      freshReadyMs,
      lbUpMs,
      sigtermAt,
      lbOutMs: null,
      exitMs: null,
      owned,
    };
    out.push(rep);
    const watchLb = (async () => {
      while (old.alive || rep.lbOutMs === null) {
        if (!(await cluster.haproxy.isUp(old.address).catch(() => true))) {
          rep.lbOutMs = Date.now() - sigtermAt;
          return;
        }
        await sleep(20);
        if (Date.now() - sigtermAt > 15_000) return;
      }
    })();
    await waitFor(() => !old.alive, 12_000, `${oldId} to exit after SIGTERM`, 10).catch(
      () => undefined,
    );
    rep.exitMs = old.alive ? null : Date.now() - sigtermAt;
    await watchLb;
    say(
      `${oldId} (${old.address}) → ${freshId} (${fresh.address}): new node ready in ${ms(freshReadyMs)}, UP in HAProxy after ${ms(lbUpMs)}; old one owned ${owned.join(',') || 'no game'}, out of HAProxy ${ms(rep.lbOutMs ?? NaN)} and exited ${old.alive ? 'NOT' : `${old.exitCode ?? old.exitSignal}`} ${ms(rep.exitMs ?? NaN)} after SIGTERM`,
    );
    if (old.alive) throw new Error(`${oldId} did not exit within 12 s of SIGTERM`);
    await roundsPass(cluster, 1).catch((e: unknown) => say(`(${(e as Error).message})`));
  }
  ctx.current = next;
  return out;
}

/**
 * The busiest owner freezes until its peers took its games over, plus a moment; then it runs again.
 */
export async function freezeOwner(ctx: Context): Promise<Freeze> {
  const { cluster } = ctx;
  const games = await ctx.playingGames();
  const counts = new Map<string, number>();
  for (const g of games) counts.set(g.owner, (counts.get(g.owner) ?? 0) + 1);
  const busiest = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const node = ctx.current.find((n) => n.opts.nodeId === busiest) ?? ctx.current[0]!;
  const id = node.opts.nodeId!;
  const owned = games.filter((g) => g.owner === id).map((g) => g.code);
  say(`── freeze: SIGSTOP ${id}, which runs ${owned.join(',') || 'no game'}`);
  const frozenAt = Date.now();
  node.signal('SIGSTOP');
  cluster.rig.paused.add(node);
  const takeovers = new Map<string, number>();
  await waitFor(
    () => {
      for (const code of owned) {
        if (takeovers.has(code)) continue;
        const line = cluster.rig.all
          .filter((n) => n !== node)
          .flatMap((n) => n.lines)
          .find(
            (l) =>
              l.msg.startsWith(`game ${code} adopted from node ${id} `) &&
              Date.parse(String(l.time)) >= frozenAt,
          );
        if (line) takeovers.set(code, Date.parse(String(line.time)) - frozenAt);
      }
      return takeovers.size === owned.length;
    },
    20_000,
    `the peers to take over ${owned.join(',')}`,
    50,
  ).catch((e: unknown) => say(`(${(e as Error).message})`));
  // A while longer frozen: the successors run rounds, players act, the frozen node's sockets wait.
  await sleep(3000);
  // A game that reached the node between the read above and SIGSTOP (the tail of a handover) was
  // frozen with it too: counted among its games once a peer says it adopted it from the node.
  const adopted = new RegExp(`^game ([A-Z]{4}) adopted from node ${id.replace(/[.]/g, '\\.')} `);
  for (const n of cluster.rig.all) {
    if (n === node) continue;
    for (const l of n.lines) {
      const code = adopted.exec(l.msg)?.[1];
      const at = Date.parse(String(l.time));
      if (code === undefined || at < frozenAt || takeovers.has(code)) continue;
      takeovers.set(code, at - frozenAt);
      if (!owned.includes(code)) owned.push(code);
    }
  }
  node.signal('SIGCONT');
  cluster.rig.paused.delete(node);
  const thawedAt = Date.now();
  say(
    `SIGCONT ${id} after ${ms(thawedAt - frozenAt)}; its games were taken over in ${[...takeovers].map(([c, t]) => `${c} ${ms(t)}`).join(', ') || '–'}`,
  );
  let upAgainMs: number | null = null;
  await waitFor(
    () => cluster.haproxy.isUp(node.address),
    20_000,
    `HAProxy to put ${id} UP again`,
    100,
  )
    .then(() => {
      upAgainMs = Date.now() - thawedAt;
    })
    .catch((e: unknown) => say(`(${(e as Error).message})`));
  const fencedMs = node.lines
    .filter(
      (l) =>
        /^game [A-Z]{4}: stopped running it/.test(l.msg) && Date.parse(String(l.time)) >= frozenAt,
    )
    .map((l) => Date.parse(String(l.time)) - thawedAt);
  await roundsPass(cluster, 1).catch((e: unknown) => say(`(${(e as Error).message})`));
  return { node, owned, frozenAt, thawedAt, takeovers, fencedMs, upAgainMs };
}

/**
 * Every node lost at once (SIGKILL) or stopped (SIGTERM: each drains with no peer to hand to
 * and leaves its games in the database); new nodes start together and enter DNS as each is ready.
 */
export async function coldStart(
  ctx: Context,
  signal: ColdStart['signal'] = 'SIGKILL',
): Promise<ColdStart> {
  const { cluster } = ctx;
  const records = new Map<string, AdminRecord>();
  for (const c of cluster.rig.codes) {
    const r = await cluster.rig.newest(c).catch(() => null);
    if (r) records.set(c, r);
  }
  const before = [...records].filter(([, r]) => r.state.status === 'playing').map(([c]) => c);
  const lost = ctx.current;
  say(
    `── cold start: ${signal} ${lost.map((n) => n.opts.nodeId).join(', ')} (running ${before.join(',') || 'no game'})`,
  );
  const killedAt = Date.now();
  for (const n of lost) {
    cluster.leaveService(n);
    n.signal(signal);
  }
  await waitFor(
    () => lost.every((n) => !n.alive),
    signal === 'SIGKILL' ? 10_000 : 30_000,
    `the nodes to ${signal === 'SIGKILL' ? 'die' : 'stop'}`,
  );
  await sleep(2000);
  const startedAt = Date.now();
  const fresh = lost.map((_, i) => cluster.launch(`z${i + 1}`));
  const readyMs: number[] = [];
  const upMs: number[] = [];
  await Promise.all(
    fresh.map(async (n) => {
      await n.ready(cluster.readyTimeoutMs);
      readyMs.push(Date.now() - startedAt);
      await cluster.enterService(n);
      upMs.push(Date.now() - startedAt);
    }),
  );
  ctx.current = fresh;
  const resumed = new Map<string, number>();
  await waitFor(
    () => {
      for (const code of before) {
        if (resumed.has(code)) continue;
        const line = fresh
          .flatMap((n) => n.lines)
          .find((l) => l.msg.startsWith(`game ${code} adopted from node `));
        if (line) resumed.set(code, Date.parse(String(line.time)) - startedAt);
      }
      return before.every(
        (code) =>
          resumed.has(code) ||
          lost.some((n) => n.lines.some((l) => l.msg.startsWith(`game ${code} finished after `))),
      );
    },
    20_000,
    'every game to be resumed',
    100,
  ).catch((e: unknown) => say(`(${(e as Error).message})`));
  const twice = before.filter(
    (code) =>
      fresh
        .flatMap((n) => n.lines)
        .filter((l) => l.msg.startsWith(`game ${code} adopted from node `)).length > 1,
  );
  const finishedAtStop = new Set(
    before.filter((code) =>
      lost.some((n) => n.lines.some((l) => l.msg.startsWith(`game ${code} finished after `))),
    ),
  );
  const notResumed = before.filter((c) => !resumed.has(c) && !finishedAtStop.has(c));
  say(
    `new nodes ${fresh.map((n) => n.opts.nodeId).join(', ')} ready in ${readyMs.map(ms).join(', ')}; games resumed in ${[...resumed].map(([c, t]) => `${c} ${ms(t)}`).join(', ') || '–'}`,
  );
  await cluster.meshed(fresh).catch((e: unknown) => say(`(${(e as Error).message})`));
  await roundsPass(cluster, 2).catch((e: unknown) => say(`(${(e as Error).message})`));
  return {
    signal,
    lost,
    killedAt,
    startedAt,
    fresh,
    readyMs,
    upMs,
    resumed,
    twice,
    notResumed,
    finishedAtStop,
    before: records,
  };
}
