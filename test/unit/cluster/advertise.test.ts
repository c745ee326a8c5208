import { describe, expect, it } from 'vitest';
import { pickAdvertiseHost } from '../../../src/cluster/advertise.js';

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
