// A session that is still adopting a game (its claim not answered) and learns that another node
// adopted it first never ran the game: it says so, instead of "stopped running it", which
// operators (and the cold-start tests) read as a game that had two owners.

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { createMetrics } from '../../../src/metrics.js';
import type { GameRecord } from '../../../src/sessions/game-record.js';
import { GameSession, type SessionEnv } from '../../../src/sessions/game-session.js';
import type { ClaimResult, Ledger } from '../../../src/sessions/ledger.js';
import { GAME_SCHEMA } from '../../../src/game/types.js';
import { started } from '../game/fixtures.js';
import { waitFor } from '../../support/node-process.js';

function harness() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  let answer: (r: ClaimResult) => void = () => undefined;
  const ledger = {
    claim: () => new Promise<ClaimResult>((resolve) => (answer = resolve)),
  } as unknown as Ledger;
  const env: SessionEnv = {
    nodeId: 'n2',
    clock: systemClock,
    sync: { write: () => Promise.resolve({ kind: 'alone' }) } as unknown as SessionEnv['sync'],
    ledger,
    logger: pino({ level: 'debug' }, sink),
    metrics: createMetrics('n2'),
    mayResolve: () => true,
    recordResult: () => undefined,
    finishedRetentionMs: 60_000,
    openGameTtlMs: 60_000,
    holdMs: 10_000,
    logOnce: () => true,
    shownChanged: () => undefined,
    afterInput: (fn) => void setImmediate(fn),
  };
  return { env, lines, answer: (r: ClaimResult) => answer(r) };
}

describe('GameSession fenced while adopting', () => {
  it('says the game was not adopted, not that it stopped running it', async () => {
    const { env, lines, answer } = harness();
    const state = started(['a', 'b']);
    const base: GameRecord & { state: object } = {
      key: state.code,
      owner: 'n0',
      epoch: 1,
      seq: 4,
      schema: GAME_SCHEMA,
      state,
      at: 0,
    };
    const session = new GameSession(GameSession.adoption('n2', base, 'cold-start', 0, 0), env);
    const adopted = session.takeOwnership(base, 'cold-start');
    await new Promise((r) => setImmediate(r));
    // Another node's adoption reaches this one while its own claim is still on its way.
    session.fence('node n3 adopted it (epoch 3)');
    answer('newer');
    expect(await adopted).toBe(false);
    expect(session.status).toBe('stopped');
    const msgs = lines.map((l) => l.msg);
    expect(msgs.filter((m) => m.includes('stopped running it'))).toEqual([]);
    expect(msgs).toContain(`game ${state.code}: not adopted, node n3 adopted it (epoch 3)`);

    // A session that runs the game and is fenced says it stopped running it.
    const running = harness();
    const owned = new GameSession(base, running.env);
    owned.fence('node n3 adopted it (epoch 3)');
    expect(running.lines.map((l) => l.msg)).toContain(
      `game ${state.code}: stopped running it, node n3 adopted it (epoch 3)`,
    );
  });

  it('says a game it was handing over on a drain was handed over (info), and warns of any other owner', () => {
    const state = started(['a', 'b']);
    const base: GameRecord = {
      key: state.code,
      owner: 'n2',
      epoch: 2,
      seq: 4,
      schema: GAME_SCHEMA,
      state,
      at: 0,
    };
    const WARN = 40;
    const INFO = 30;
    // The peer asked to take it adopts it, and its first write arrives before its answer.
    const handed = harness();
    const draining = new GameSession(base, handed.env);
    draining.pauseForHandoff();
    draining.handingTo.add('n3');
    draining.fence('node n3 adopted it (epoch 3)', 'n3');
    expect(draining.status).toBe('stopped');
    expect(handed.lines.map((l) => [l.level, l.msg])).toEqual([
      [INFO, `game ${state.code}: stopped running it, node n3 adopted it (epoch 3) (handed over)`],
    ]);
    // A node it did not ask took the game meanwhile: that is no handoff.
    const taken = harness();
    const other = new GameSession(base, taken.env);
    other.pauseForHandoff();
    other.handingTo.add('n3');
    other.fence('node n4 adopted it (epoch 3)', 'n4');
    expect(taken.lines.map((l) => [l.level, l.msg])).toEqual([
      [WARN, `game ${state.code}: stopped running it, node n4 adopted it (epoch 3)`],
    ]);
  });
});

// The invariant checks of the redeploy tests read a round's "resolving" line as the evidence of a
// resolution whose write a killed node may have made without tracing it. The action that
// completes a round resolves it in its own write, so it must trace it before that write, as the
// clock does.
describe('GameSession resolving a round with the last action', () => {
  it('traces the resolution before its write, for a node killed during the write', async () => {
    const { env, lines } = harness();
    const saves: number[] = [];
    env.ledger = {
      available: true,
      // The first action's write is saved; the second never returns (the node dies in it).
      save: (r: GameRecord) => {
        saves.push(r.seq);
        return saves.length === 1 ? Promise.resolve('saved') : new Promise(() => undefined);
      },
    } as unknown as Ledger;
    const state = { ...started(['a', 'b']), deadline: Date.now() + 60_000 };
    const base: GameRecord & { state: object } = {
      key: state.code,
      owner: 'n2',
      epoch: 3,
      seq: 7,
      schema: GAME_SCHEMA,
      state,
      at: 0,
    };
    const session = new GameSession(base, env);
    const act = (playerId: string, id: string) =>
      session.run({
        kind: 'act',
        playerId,
        action: { id, round: state.round, kind: 'defend' },
      });
    expect(await act('a', 'a1')).toEqual({ ok: true, duplicate: false });
    void act('b', 'b1');
    const resolving = `round ${state.round} of ${state.code} resolving (epoch 3)`;
    await waitFor(() => saves.length === 2, 2000, 'the second write', 5);
    expect(saves).toEqual([8, 9]);
    const line = lines.find((l) => l.msg === resolving) as
      { seq: number; applied: Record<string, string> } | undefined;
    expect(
      line,
      `no "${resolving}" line in ${JSON.stringify(lines.map((l) => l.msg))}`,
    ).toBeDefined();
    expect(line!.seq).toBe(9);
    expect(line!.applied).toEqual({ a: 'a1', b: 'b1' });
    // Nothing says it was resolved: the write never returned.
    expect(lines.filter((l) => l.msg.includes(' resolved (epoch'))).toEqual([]);
    session.fence('the test is over');
  });
});
