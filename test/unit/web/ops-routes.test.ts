// A wrong ADMIN_TOKEN is logged with the path the client asked for, as it asked for it: the
// /admin prefix included, the query string left out.

import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics.js';
import type { WebDeps } from '../../../src/web/deps.js';
import { mountOpsRoutes } from '../../../src/web/ops-routes.js';

describe('wrong admin token', () => {
  it('is logged with the whole path, without the query string', async () => {
    const lines: { msg: string; path?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (l: string) => void lines.push(JSON.parse(l)) },
    );
    const deps = {
      config: { adminToken: 'a'.repeat(32) },
      logger,
      metrics: createMetrics('ops'),
    } as unknown as WebDeps;
    const app = express();
    mountOpsRoutes(app, deps);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/admin/games/KEPS.json?token=x`, {
        headers: { authorization: `Bearer ${'b'.repeat(32)}` },
      });
      expect(res.status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const logged = lines.filter((l) => l.msg === 'wrong admin token');
    expect(logged.map((l) => l.path)).toEqual(['/admin/games/KEPS.json']);
  });
});
