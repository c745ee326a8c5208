import { describe, expect, it } from 'vitest';
import {
  chooseAdvertiseHost,
  localIPv4s,
  pickAdvertiseHost,
} from '../../../src/cluster/advertise.js';
import { recordingLogger } from './recording-logger.js';

describe('pickAdvertiseHost', () => {
  it('prefers the local address that the cluster DNS name lists', () => {
    expect(pickAdvertiseHost(['172.18.0.5', '10.0.1.7'], ['10.0.1.6', '10.0.1.7'])).toBe(
      '10.0.1.7',
    );
  });
  it("takes the interface inside ADVERTISE_ADDRESS's subnet first (a container on several networks)", () => {
    const local = [
      { address: '172.18.0.5', cidr: '172.18.0.5/16' },
      { address: '10.0.9.4', cidr: '10.0.9.4/24' },
    ];
    expect(pickAdvertiseHost(local, [], '10.0.9.0/24')).toBe('10.0.9.4');
    expect(pickAdvertiseHost(local, ['172.18.0.5'], '10.0.9.0/24')).toBe('10.0.9.4');
    expect(pickAdvertiseHost(local, [], '192.0.2.0/24')).toBe('172.18.0.5');
  });
  it('before DNS lists it, takes the interface on the same network as the peers DNS lists', () => {
    const local = [
      { address: '172.18.0.5', cidr: '172.18.0.5/16' },
      { address: '10.0.9.4', cidr: '10.0.9.4/24' },
    ];
    expect(pickAdvertiseHost(local, ['10.0.9.2', '10.0.9.3'])).toBe('10.0.9.4');
  });
  it('falls back to the first interface, then loopback', () => {
    expect(pickAdvertiseHost(['172.18.0.5'], [])).toBe('172.18.0.5');
    expect(pickAdvertiseHost([], [])).toBe('127.0.0.1');
  });
});

describe('chooseAdvertiseHost', () => {
  const first = localIPv4s()[0]?.address;
  // Regression: the line told an operator who had set ADVERTISE_ADDRESS to a subnet to set it.
  it.skipIf(!first)(
    'says the subnet chose the address when it did, and invites an override only when nothing was set',
    async () => {
      const addr = first ?? '';
      const noDns = { query: null, resolver: null };
      const bySubnet = recordingLogger();
      expect(await chooseAdvertiseHost(noDns, bySubnet, `${addr}/32`)).toBe(addr);
      expect(bySubnet.at('info')).toEqual([
        `advertising ${addr} to peers (its interface in ADVERTISE_ADDRESS's subnet ${addr}/32)`,
      ]);
      expect(bySubnet.at('warn')).toEqual([]);
      const unset = recordingLogger();
      await chooseAdvertiseHost(noDns, unset);
      expect(unset.at('info')[0]).toMatch(/\(set ADVERTISE_ADDRESS to override\)$/);
      // A documentation range that holds none of this machine's addresses.
      const elsewhere = ['198.51.100.0/24', '203.0.113.0/24'].find(
        (net) => !localIPv4s().some((l) => l.address.startsWith(net.replace(/0\/24$/, ''))),
      );
      const outside = recordingLogger();
      await chooseAdvertiseHost(noDns, outside, elsewhere);
      expect(outside.at('warn')).toEqual([
        `no interface in ADVERTISE_ADDRESS's subnet ${elsewhere}; advertising ${addr}`,
      ]);
      expect(outside.at('info')[0]).toMatch(/\(set ADVERTISE_ADDRESS to override\)$/);
    },
  );
});
