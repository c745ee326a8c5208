// The short form of the multi-host rehearsal (scripts/rehearsal/hosts.ts): nodes, PostgreSQL
// and HAProxy each on a host of its own (network namespaces), one rolling update, the loss of a
// host, a partition, latency and loss between hosts, PostgreSQL restarted, a cold start. It needs
// root (network namespaces); CI runs as root. Not root: this test fails and says why.

import { describe, expect, it } from 'vitest';
import { runHostsRehearsal } from '../../scripts/rehearsal/hosts.js';
import { hostsUnavailable } from '../support/netns.js';

describe('multi-host rehearsal (short form)', () => {
  it('passes every scenario with no failed request, no lost or doubled action, no repeated or skipped round', async () => {
    const why = hostsUnavailable();
    if (why) throw new Error(`the multi-host rehearsal cannot run here: ${why}`);
    const lines: string[] = [];
    const code = await runHostsRehearsal({ short: true, out: (l) => lines.push(l) });
    expect(code, lines.join('\n')).toBe(0);
    expect(lines.join('\n')).toMatch(/RESULT {9}OK/);
  }, 540_000);
});
