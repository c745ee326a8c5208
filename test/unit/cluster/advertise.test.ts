import { describe, expect, it } from 'vitest';
import { pickAdvertiseHost } from '../../../src/cluster/advertise.js';

describe('pickAdvertiseHost', () => {
  it('prefers the local address that the cluster DNS name lists', () => {
    expect(pickAdvertiseHost(['172.18.0.5', '10.0.1.7'], ['10.0.1.6', '10.0.1.7'])).toBe(
      '10.0.1.7',
    );
  });
  it('falls back to the first interface, then loopback', () => {
    expect(pickAdvertiseHost(['172.18.0.5'], [])).toBe('172.18.0.5');
    expect(pickAdvertiseHost([], [])).toBe('127.0.0.1');
  });
});
