import { afterEach, describe, expect, it, vi } from 'vitest';
import { Discovery, parseHostPort } from '../../../src/cluster/discovery.js';
import { createDnsServer, type TestDnsServer } from '../../support/dns-server.js';
import { recordingLogger, waitFor } from './recording-logger.js';

const query = 'tasks.minotaur-test';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function dns(port?: number, ttl?: number): Promise<TestDnsServer> {
  const server = await createDnsServer({
    ...(port === undefined ? {} : { port }),
    ...(ttl === undefined ? {} : { ttl }),
  });
  cleanups.push(() => server.close());
  return server;
}

function discovery(resolver: string, intervalMs = 50) {
  const logger = recordingLogger();
  const d = new Discovery({
    query,
    resolver,
    intervalMs,
    port: 4000,
    selfAddress: '127.0.0.2:4000',
    logger,
  });
  const changes: string[][] = [];
  d.onChange((peers) => changes.push(peers));
  cleanups.push(() => d.stop());
  return { d, logger, changes };
}

describe('Discovery', () => {
  it('resolves A records through a resolver on a non-53 port, without self', async () => {
    const server = await dns();
    server.setRecords(query, ['127.0.0.2', '127.0.0.4', '127.0.0.3']);
    const { d, changes } = discovery(server.address);
    expect(await d.resolveNow()).toEqual(['127.0.0.3:4000', '127.0.0.4:4000']);
    expect(changes).toEqual([['127.0.0.3:4000', '127.0.0.4:4000']]);
    expect(server.queries()).toBeGreaterThan(0);
  });

  it('picks up records added and removed, reporting only changes', async () => {
    const server = await dns();
    server.setRecords(query, ['127.0.0.3']);
    const { d, changes } = discovery(server.address);
    d.start();
    await waitFor(() => changes.length === 1, 5000, 'first answer');
    server.setRecords(query, ['127.0.0.3', '127.0.0.5']);
    await waitFor(() => changes.length === 2, 5000, 'added record');
    expect(changes[1]).toEqual(['127.0.0.3:4000', '127.0.0.5:4000']);
    server.setRecords(query, ['127.0.0.5']);
    await waitFor(() => changes.length === 3, 5000, 'removed record');
    expect(changes[2]).toEqual(['127.0.0.5:4000']);
    // Several polls later, nothing changed, so nothing more was reported.
    const asked = server.queries();
    await waitFor(() => server.queries() >= asked + 3, 5000, 'more polls');
    expect(changes).toHaveLength(3);
    expect(d.peers()).toEqual(['127.0.0.5:4000']);
  });

  it('does not cache answers beyond one poll, whatever their TTL', async () => {
    const server = await dns(undefined, 600);
    server.setRecords(query, ['127.0.0.3']);
    const { d } = discovery(server.address);
    expect(await d.resolveNow()).toEqual(['127.0.0.3:4000']);
    server.setRecords(query, ['127.0.0.4']);
    expect(await d.resolveNow()).toEqual(['127.0.0.4:4000']);
  });

  it('treats a name with no records as no peers', async () => {
    const server = await dns();
    server.setRecords(query, ['127.0.0.3']);
    const { d, changes } = discovery(server.address);
    await d.resolveNow();
    server.removeName(query);
    expect(await d.resolveNow()).toEqual([]);
    expect(changes).toEqual([['127.0.0.3:4000'], []]);
  });

  it('survives a resolver that is down, logs the error once, and recovers', async () => {
    const probe = await createDnsServer();
    const port = probe.port;
    await probe.close();
    const { d, logger, changes } = discovery(`127.0.0.1:${port}`, 30);
    expect(await d.resolveNow()).toEqual([]);
    const polls = vi.spyOn(d, 'resolveNow');
    d.start();
    // Several failing polls: still one line for the one distinct error.
    await waitFor(() => polls.mock.calls.length >= 5, 10_000, 'failing polls');
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]).toContain(`cannot resolve ${query} via 127.0.0.1:${port}`);
    const server = await dns(port);
    server.setRecords(query, ['127.0.0.9']);
    await waitFor(() => changes.length === 1, 10_000, 'recovery');
    expect(changes[0]).toEqual(['127.0.0.9:4000']);
  });

  it('parses resolver addresses', () => {
    expect(parseHostPort('127.0.0.1:5399')).toEqual({ host: '127.0.0.1', port: 5399 });
    expect(parseHostPort('[::1]:53')).toEqual({ host: '::1', port: 53 });
    expect(parseHostPort('dns')).toEqual({ host: 'dns', port: 53 });
    expect(() => parseHostPort('1.2.3.4:99999')).toThrow(/invalid port/);
  });
});
