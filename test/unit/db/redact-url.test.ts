// The database's address as logs and the operator page show it: never its password, in either
// of the two places a connection string can hold one.

import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/db/index.js';

describe('redactUrl', () => {
  it('hides a password given as user:password@ or as a query parameter, and keeps the rest', () => {
    expect(redactUrl('postgres://minotaur:s3cret@db.internal:5432/minotaur')).toBe(
      'postgres://minotaur:***@db.internal:5432/minotaur',
    );
    const shown = redactUrl(
      'postgres://db.internal/minotaur?user=minotaur&password=s3cret&sslmode=require&sslpassword=k3y',
    );
    expect(shown).not.toMatch(/s3cret|k3y/);
    expect(shown).toBe(
      'postgres://db.internal/minotaur?user=minotaur&password=***&sslmode=require&sslpassword=***',
    );
    expect(redactUrl('postgres://db.internal/minotaur')).toBe('postgres://db.internal/minotaur');
    expect(redactUrl('not a url s3cret')).toBe('postgres://(unparseable URL)');
  });
});
