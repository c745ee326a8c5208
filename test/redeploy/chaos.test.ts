// Faults on a schedule nobody chose: a seeded random sequence of node failures over real
// processes, while bots play. Three nodes on loopback, three games of three bots; then, a few
// seconds apart, faults drawn from the seed: a node killed (SIGKILL) and replaced after a
// moment, a node replaced start-first (SIGTERM after its replacement is ready), a node frozen
// (SIGSTOP) for up to 6 s, a node cut from the others (iptables, its port only) for up to 7 s.
// Each fault's target is drawn from the nodes serving at that moment, and up to two faults run
// at once (the next one starts 0.5–2.5 s after the last one started). Afterwards the games must
// go on, and every invariant hold (test/support/invariants.ts): no acknowledged action lost or
// applied twice, no round repeated or skipped, no game reset, never two owners resolving a round.
//
// The schedule is printed as it runs; the same seed replays its choices (which faults overlap
// depends on how long each one took, and the processes' interleavings are their own). More
// seeds: CHAOS_SEEDS=1-20 npx vitest run test/redeploy/chaos.test.ts (root, for the cuts).

import { afterEach, describe, expect, it } from 'vitest';
import { loopbackCut, loopbackCutUnavailable } from '../support/loopback-cut.js';
import { waitFor, type NodeProcess } from '../support/node-process.js';
import { checkAll } from '../support/check-all.js';
import { Rig } from '../support/redeploy-rig.js';
import { Player } from '../support/player.js';
import { Rng } from '../sim/world.js';

/** Seeds from CHAOS_SEEDS ("7", "1-20", "3,9,12"), or the two CI runs. */
function seeds(): number[] {
  const spec = process.env.CHAOS_SEEDS?.trim();
  if (!spec) return [1, 2];
  return spec.split(',').flatMap((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`CHAOS_SEEDS: "${part}" is not a seed or a range of seeds (e.g. 1-20)`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

const FAULTS = 6;
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const RULE_TAG = 'minotaur-chaos-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rig: Rig | undefined;
/** The heals of the cuts in place (a failed test leaves none behind). */
const heals = new Set<() => void>();

afterEach(async () => {
  for (const heal of heals) heal();
  heals.clear();
  await rig?.close();
  rig = undefined;
});

describe.each(seeds())('faults on a random schedule, seed %i', (seed) => {
  it('keeps every acknowledged action, once, and every round, once', async () => {
    const why = loopbackCutUnavailable();
    if (why) throw new Error(why);
    const rng = new Rng(seed);
    const r = (rig = await Rig.create({ roundSeconds: 2 }));
    const schedule: string[] = [];
    const say = (line: string) => {
      schedule.push(line);
      console.log(`chaos seed ${seed}: ${line}`);
    };
    const nodes = await r.startThree();
    // The third player of each game keeps a page of the release before open (whole partials,
    // no token of what it saw), the first a page that holds the release's template table, the
    // second one whose table script did not load: every kind of page goes through every fault.
    const table = await new Player(nodes[0]!.url, 'chaos-reader').templates();
    await r.setupGames(3, 3, nodes, (seat) =>
      seat === 2 ? { wire: 'partials' } : seat === 0 ? { wire: 'trees', table } : { wire: 'trees' },
    );
    r.sampler.start();
    await r.roundsPass(1);

    let started = 0;
    /** A new node on an address no running process holds; ready and behind the balancer. */
    const replacement = async (): Promise<NodeProcess> => {
      const held = new Set(r.live().map((n) => n.opts.host));
      const host = ADDRESSES.find((a) => !held.has(a))!;
      const fresh = r.start(`r${++started}`, host);
      await fresh.ready(30_000);
      r.lb.add(fresh);
      return fresh;
    };
    const serving = () => [...r.lb].filter((n) => n.alive && !r.paused.has(n));

    /** Faults in progress, by target; at most two at once, so they overlap now and then. */
    const running = new Map<NodeProcess, Promise<void>>();
    const failures: unknown[] = [];
    const fault = async (i: number, target: NodeProcess): Promise<void> => {
      const id = target.opts.nodeId!;
      const kind = rng.pick(['kill', 'replace', 'freeze', 'cut'] as const);
      const alongside = [...running.keys()].map((n) => n.opts.nodeId).join(', ');
      const also = alongside
        ? ` (while ${alongside} ${running.size > 1 ? 'are' : 'is'} under a fault)`
        : '';
      if (kind === 'kill') {
        const waitMs = rng.int(0, 3000);
        say(`${i}. SIGKILL ${id}, a replacement ${waitMs} ms later${also}`);
        target.signal('SIGKILL');
        r.lb.delete(target);
        r.removeFromDns(target);
        await waitFor(() => !target.alive, 5000, `${id} to die`);
        await sleep(waitMs);
        await replacement();
      } else if (kind === 'replace') {
        say(`${i}. ${id} replaced start-first (SIGTERM once its replacement is ready)${also}`);
        await replacement();
        r.removeFromDns(target);
        r.lb.delete(target);
        // Alone, a drain hands every game over and exits 0; beside a cut or a frozen peer it may
        // have to leave games for the next node and stop at its hard limit.
        const alone = running.size === 1;
        target.signal('SIGTERM');
        await waitFor(() => !target.alive, 12_000, `${id} to exit after SIGTERM`);
        if (alone) expect(target.exitCode, r.tail(20)).toBe(0);
      } else if (kind === 'freeze') {
        const ms = rng.int(1000, 6000);
        say(`${i}. SIGSTOP ${id} for ${ms} ms${also}`);
        await r.freeze(target);
        await sleep(ms);
        target.signal('SIGCONT');
        r.paused.delete(target);
      } else {
        const ms = rng.int(2000, 7000);
        const others = r.live().filter((n) => n !== target);
        say(
          `${i}. ${id} cut from ${others.map((n) => n.opts.nodeId).join(', ')} for ${ms} ms${also}`,
        );
        const links = loopbackCut(
          others.map((o) => [target.opts.host, o.opts.host]),
          `${RULE_TAG}-${id}`,
          r.port,
        );
        const heal = () => links.heal();
        heals.add(heal);
        links.heal();
        links.cut();
        await sleep(ms);
        links.heal();
        heals.delete(heal);
      }
    };

    for (let i = 1; i <= FAULTS; i++) {
      await sleep(rng.int(500, 2500));
      const free = () => serving().filter((n) => !running.has(n));
      while (running.size >= 2 || free().length === 0) await Promise.race(running.values());
      const target = rng.pick(free());
      running.set(
        target,
        fault(i, target)
          .catch((err: unknown) => void failures.push(err))
          .finally(() => running.delete(target)),
      );
    }
    await Promise.all(running.values());
    if (failures.length) throw failures[0];

    // The games go on after the last fault.
    await r.roundsPass(2, 30_000);
    const { report } = await checkAll(
      r,
      `chaos seed ${seed}`,
      {},
      () =>
        `seed ${seed}, schedule:\n${schedule.join('\n')}\nwhole logs: ${r.saveLogs(`chaos-seed-${seed}`)}\n${r.warnings(15)}`,
    );
    // Every game was played: actions acknowledged and rounds resolved.
    for (const [code, g] of Object.entries(report.summary)) {
      expect(g.acks, `${code}'s acknowledged actions`).toBeGreaterThan(0);
      expect(g.rounds, `${code}'s rounds resolved`).toBeGreaterThan(2);
    }
  }, 240_000);
});
