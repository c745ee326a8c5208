// Tells a database that cannot be reached (worth waiting for) from a query that is wrong (not
// worth retrying), and names the kind of outage in words an operator can act on.

export type OutageClass =
  | 'refused'
  | 'unresolvable'
  | 'unreachable'
  | 'timeout'
  | 'lost'
  | 'starting-up'
  | 'shutting-down'
  | 'too-many-connections'
  | 'authentication'
  | 'no-database'
  | 'tls'
  | 'locked';

const DESCRIPTIONS: Record<OutageClass, string> = {
  refused: 'connection refused (is the server running and listening on that address?)',
  unresolvable: 'host name does not resolve',
  unreachable: 'host or network unreachable',
  timeout: 'no answer in time',
  lost: 'connection lost',
  'starting-up': 'the server is starting up',
  'shutting-down': 'the server is shutting down',
  'too-many-connections': 'the server has too many connections',
  authentication: 'authentication failed (check the user and password in DATABASE_URL)',
  'no-database': 'the database does not exist (create it, or fix the name in DATABASE_URL)',
  tls: "TLS failed: the server's certificate was not accepted, or the server does not speak TLS (check sslmode and sslrootcert in DATABASE_URL)",
  locked:
    'another process holds the write lock on the file (a node stopped in the middle of a write, a backup, an open sqlite3 shell?)',
};

export function describeOutage(kind: OutageClass): string {
  return DESCRIPTIONS[kind];
}

/**
 * PostgreSQL gave the transaction up for another one to go on (a deadlock, or a serialisation
 * failure): the same transaction run again can succeed.
 */
export function isTransactionConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** SQLITE_BUSY and its extended codes: another connection holds a lock the statement needs. */
export function isLockBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_BUSY(_|$)/.test(code);
}

const SOCKET_CODES: Record<string, OutageClass> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'unresolvable',
  EAI_AGAIN: 'unresolvable',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'lost',
  EPIPE: 'lost',
  ECONNABORTED: 'lost',
};

/**
 * OpenSSL's certificate verification errors, as Node names them in `code`, that do not contain
 * CERT (those are matched by name below). A server whose certificate is signed by a CA that is
 * not trusted, and not sent in its chain, fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE.
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
]);

const SQLSTATES: Record<string, OutageClass> = {
  '57P01': 'shutting-down', // admin_shutdown
  '57P02': 'shutting-down', // crash_shutdown
  '57P03': 'starting-up', // cannot_connect_now
  '53300': 'too-many-connections',
  '28P01': 'authentication',
  '28000': 'authentication',
  '3D000': 'no-database',
};

/**
 * The kind of outage behind `err`, or null when it is not one (a constraint, a syntax error:
 * retrying would fail the same way).
 */
export function outageClass(err: unknown): OutageClass | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  // Node reports a failed connection to a name with several addresses as an AggregateError.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const inner = outageClass(e.errors[0]);
    if (inner) return inner;
  }
  const code = typeof e.code === 'string' ? e.code : '';
  // Refused by the storage layer itself while the database is known to be down.
  if (code === 'DATABASE_DOWN')
    return typeof (e as { outage?: unknown }).outage === 'string'
      ? (e as { outage: OutageClass }).outage
      : 'lost';
  if (isLockBusy(err)) return 'locked';
  if (SOCKET_CODES[code]) return SOCKET_CODES[code];
  if (SQLSTATES[code]) return SQLSTATES[code];
  if (code.startsWith('08')) return 'lost'; // connection_exception
  if (/^(ERR_TLS|ERR_SSL)|CERT|SELF_SIGNED/.test(code) || TLS_VERIFY_CODES.has(code)) return 'tls';
  const message = typeof e.message === 'string' ? e.message : '';
  if (
    /timeout exceeded when trying to connect|connection timeout|Query read timeout/i.test(message)
  )
    return 'timeout';
  if (
    /Connection terminated|Client has encountered a connection error|connection is closed/i.test(
      message,
    )
  )
    return 'lost';
  if (/does not support SSL|SSL/i.test(message) && !code) return 'tls';
  return null;
}

/** What was thrown, as one line for logs and the operator page (drivers throw non-Errors too). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === 'string') return message;
  // undefined for undefined and functions, whatever lib.d.ts says
  const json = JSON.stringify(err) as string | undefined;
  return json ?? typeof err;
}
