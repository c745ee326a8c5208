// The container health checks as shipped (the image's HEALTHCHECK and the Swarm stack's
// healthcheck), run as Docker runs them, inside the container beside the node: healthy (exit 0)
// only while the node is ready, unhealthy while it drains and once it is gone.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, freePort, startNode, tempDir, waitFor } from '../support/node-process.js';
import type { NodeProcess } from '../support/node-process.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// `HEALTHCHECK … CMD ["node", …]`: the exec form after CMD.
const IMAGE_CHECK = JSON.parse(
  /^\s+CMD (\[.*\])$/m.exec(read('Dockerfile').split('HEALTHCHECK')[1]!)![1]!,
) as string[];
// `test: ["CMD", "node", …]`: the exec form after its "CMD".
const STACK_CHECK = JSON.parse(
  /^ {6}test: (\[.*\])$/m.exec(read('deploy/docker-stack.yml'))![1]!,
) as string[];
const CHECKS: Record<string, string[]> = {
  Dockerfile: IMAGE_CHECK,
  'deploy/docker-stack.yml': STACK_CHECK.slice(1),
};

/** Runs a check as Docker would, with the node's PORT; true when it says healthy. */
function healthy(command: string[], port: number): boolean {
  const [bin, ...args] = command;
  const run = spawnSync(bin === 'node' ? process.execPath : bin!, args, {
    env: { ...process.env, PORT: String(port) },
    timeout: 10_000,
  });
  if (run.error) throw run.error;
  return run.status === 0;
}

let node: NodeProcess | undefined;
afterAll(async () => {
  await node?.kill();
});

describe('container health checks as shipped', () => {
  it('say healthy while the node is ready, unhealthy while it drains and once it has exited', async () => {
    expect(STACK_CHECK[0]).toBe('CMD');
    expect(IMAGE_CHECK[0]).toBe('node');
    const port = await freePort();
    node = startNode({
      port,
      databasePath: join(tempDir(), 'm.db'),
      env: { DRAIN_WINDOW_MS: '3000' },
    });
    await node.ready();
    for (const [file, command] of Object.entries(CHECKS))
      expect(healthy(command, port), `${file} on a ready node`).toBe(true);

    node.signal('SIGTERM');
    await waitFor(() => node!.hasLog((l) => /is draining$/.test(l.msg)), 5000, 'the drain');
    for (const [file, command] of Object.entries(CHECKS))
      expect(healthy(command, port), `${file} on a draining node`).toBe(false);

    await waitFor(() => !node!.alive, 10_000, 'the node to exit');
    for (const [file, command] of Object.entries(CHECKS))
      expect(healthy(command, port), `${file} with no node`).toBe(false);
  });
});
