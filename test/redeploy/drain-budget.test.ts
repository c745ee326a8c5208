// A drain always ends inside SHUTDOWN_TIMEOUT_MS, whatever the peers do: here every peer is
// frozen (SIGSTOP) but not yet declared down when the owner gets SIGTERM, so each handoff
// attempt waits for an answer that never comes. The handoff shares what the budget leaves
// after the drain window; the node leaves the games in the database and exits 0 in time, and
// the peers resume them once they run again.

import { afterAll, describe, expect, it } from 'vitest';

import { waitFor, logLines } from '../support/node-process.js';
import { Player, openStartedGame } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;

afterAll(async () => {
  await rig?.close();
});

describe('drain with stalled peers', () => {
  it('exits 0 within SHUTDOWN_TIMEOUT_MS and the games resume on the peers afterwards', async () => {
    // Peers are declared down only after 20 s: during the drain they look alive but never answer.
    rig = await Rig.create({
      roundSeconds: 30,
      env: {
        PEER_DOWN_MS: '20000',
        HEARTBEAT_MS: '500',
        DRAIN_WINDOW_MS: '2000',
        SHUTDOWN_TIMEOUT_MS: '8000',
      },
    });
    const n1 = rig.start('n1', '127.0.0.2');
    await n1.ready();
    const peers = [rig.start('n2', '127.0.0.3'), rig.start('n3', '127.0.0.4')];
    await Promise.all(peers.map((n) => n.ready()));
    const codes: string[] = [];
    for (let g = 0; g < 3; g++) {
      const tag = `${Date.now().toString(36).slice(-4)}${g}`;
      codes.push(
        await openStartedGame([new Player(n1.url, `da${tag}`), new Player(n1.url, `db${tag}`)]),
      );
    }

    for (const p of peers) await rig.freeze(p);
    rig.removeFromDns(n1);
    n1.signal('SIGTERM');
    await waitFor(() => !n1.alive, 12_000, 'n1 to exit');
    // In time by the node's own clock: at SHUTDOWN_TIMEOUT_MS it logs this and exits 1
    // (src/main.ts); a drain that ends first exits 0.
    expect(n1.exitCode, rig.tail(30)).toBe(0);
    expect(logLines([n1], /^shutdown took too long/)).toEqual([]);
    expect(logLines([n1], /handoff of .* failed/).length).toBeGreaterThan(0);
    expect(logLines([n1], /left in the database for the next node/)).toHaveLength(codes.length);

    for (const p of peers) {
      p.signal('SIGCONT');
      rig.paused.delete(p);
    }
    for (const code of codes) {
      await waitFor(
        () => logLines(peers, new RegExp(`^game ${code} adopted from node n1`)).length === 1,
        15_000,
        `${code} to be resumed by a peer`,
      );
    }
  });
});
