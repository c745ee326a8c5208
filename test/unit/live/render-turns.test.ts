import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RenderTurns } from '../../../src/live/render-turns.js';

/** A scheduler on a hand-cranked event loop: each render takes `costMs` of a fake clock. */
function crank(costMs = 1, sliceMs = 4) {
  let clock = 0;
  const turns: (() => void)[] = [];
  const errors: unknown[] = [];
  const rt = new RenderTurns({
    defer: (fn) => void turns.push(fn),
    now: () => clock,
    sliceMs,
    onError: (err) => errors.push(err),
  });
  const ran: string[] = [];
  const page = (name: string) => () => {
    ran.push(name);
    clock += costMs;
  };
  /** Runs the turns queued now (one turn of the event loop); returns what rendered in it. */
  const turn = (): string[] => {
    const from = ran.length;
    const now = turns.splice(0);
    for (const fn of now) fn();
    return ran.slice(from);
  };
  return { rt, page, turn, ran, errors, pending: () => turns.length };
}

describe('RenderTurns', () => {
  it("renders every player's page in the next turn, before any spectator's", () => {
    const { rt, page, turn } = crank();
    rt.add(page('w1'), true);
    rt.add(page('p1'), false);
    rt.add(page('w2'), true);
    rt.add(page('p2'), false);
    expect(turn()).toEqual(['p1', 'p2', 'w1', 'w2']);
    expect(rt.waiting).toBe(0);
  });

  it("holds a turn with spectators' pages only for its slice, and renders the rest in later turns", () => {
    const { rt, page, turn, pending } = crank(1, 4);
    for (let i = 0; i < 10; i++) rt.add(page(`w${i}`), true);
    rt.add(page('p0'), false);
    expect(turn()).toEqual(['p0', 'w0', 'w1', 'w2', 'w3']);
    expect(pending()).toBe(1);
    // A player's page queued between turns goes before the spectators still waiting.
    rt.add(page('p1'), false);
    expect(turn()).toEqual(['p1', 'w4', 'w5', 'w6', 'w7']);
    expect(turn()).toEqual(['w8', 'w9']);
    expect(pending()).toBe(0);
  });

  it('counts each spectator render put off to a later turn once, however long it waited', () => {
    const { rt, page, turn } = crank(1, 2);
    for (let i = 0; i < 5; i++) rt.add(page(`w${i}`), true);
    expect(turn()).toEqual(['w0', 'w1']);
    expect(rt.deferred).toBe(3);
    // Queued between turns: eligible in the next one, put off from it too.
    rt.add(page('w5'), true);
    expect(turn()).toEqual(['w2', 'w3']);
    expect(rt.deferred).toBe(4);
    expect(turn()).toEqual(['w4', 'w5']);
    expect(rt.deferred).toBe(4);
    // Renders that fit in their turn are not counted.
    rt.add(page('w6'), true);
    rt.add(page('p0'), false);
    expect(turn()).toEqual(['p0', 'w6']);
    expect(rt.deferred).toBe(4);
  });

  it("goes on with the other pages when one page's render throws", () => {
    const { rt, page, turn, errors } = crank();
    rt.add(page('p0'), false);
    rt.add(() => {
      throw new Error('broken page');
    }, false);
    rt.add(() => {
      throw new Error('broken spectator');
    }, true);
    rt.add(page('w0'), true);
    expect(turn()).toEqual(['p0', 'w0']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['broken page', 'broken spectator']);
  });

  it('runs every queued render exactly once, players first in each turn, within the slice', () => {
    // Steps: a page's render queued (player or spectator, of some cost), or one turn.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), watching: fc.boolean(), cost: fc.nat(3) }),
      fc.constant({ kind: 'turn' as const }),
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 300 }),
        fc.integer({ min: 1, max: 6 }),
        (steps, slice) => {
          let clock = 0;
          const turns: (() => void)[] = [];
          const rt = new RenderTurns({
            defer: (fn) => void turns.push(fn),
            now: () => clock,
            sliceMs: slice,
          });
          const runs = new Map<number, number>();
          let added = 0;
          const turn = () => {
            for (const fn of turns.splice(0)) fn();
          };
          let current: { watching: boolean; cost: number }[] = [];
          const check = (ran: { watching: boolean; cost: number }[]) => {
            // No player's page after a spectator's in one turn.
            const firstWatcher = ran.findIndex((r) => r.watching);
            if (firstWatcher >= 0)
              expect(ran.slice(firstWatcher).every((r) => r.watching)).toBe(true);
            // Spectators' renders stop once the slice is used: only the last one may cross it.
            const watched = ran.filter((r) => r.watching).map((r) => r.cost);
            const beforeLast = watched.slice(0, -1).reduce((a, b) => a + b, 0);
            expect(beforeLast).toBeLessThan(slice);
          };
          for (const s of steps) {
            if (s.kind === 'turn') {
              current = [];
              const ran = current;
              turn();
              check(ran);
              continue;
            }
            const id = added++;
            const { watching, cost } = s;
            rt.add(() => {
              runs.set(id, (runs.get(id) ?? 0) + 1);
              current.push({ watching, cost });
              clock += cost;
            }, watching);
          }
          // The loop runs on until nothing waits: everything queued ran, once.
          for (let i = 0; turns.length > 0; i++) {
            expect(i).toBeLessThan(added + 1);
            current = [];
            const ran = current;
            turn();
            check(ran);
          }
          expect(rt.waiting).toBe(0);
          expect(runs.size).toBe(added);
          expect([...runs.values()].every((n) => n === 1)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
