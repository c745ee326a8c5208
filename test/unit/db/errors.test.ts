// A database the node cannot reach over TLS is an outage it waits out (503, one warning naming
// sslmode), whatever certificate error Node reports: the same as a refused connection.

import { describe, expect, it } from 'vitest';
import { describeOutage, outageClass } from '../../../src/db/errors.js';

const tlsError = (code: string) => Object.assign(new Error('certificate rejected'), { code });

describe('outageClass and TLS', () => {
  it("counts every certificate the driver does not accept as a TLS outage, the private CA's included", () => {
    for (const code of [
      // A certificate signed by a CA that is neither trusted nor sent (a private CA).
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'INVALID_CA',
      'HOSTNAME_MISMATCH',
    ])
      expect(outageClass(tlsError(code)), code).toBe('tls');
    expect(describeOutage('tls')).toMatch(/sslmode and sslrootcert in DATABASE_URL/);
  });

  it('leaves errors that are not about the connection alone', () => {
    expect(outageClass(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBeNull();
    expect(outageClass(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBeNull();
  });
});
