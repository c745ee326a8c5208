import { describe, expect, it } from 'vitest';
import { originAllowed } from '../../../src/web/origin.js';

describe('originAllowed', () => {
  it('accepts pages of the same host', () => {
    expect(originAllowed('http://localhost:4000', 'localhost:4000', [])).toBe(true);
    expect(originAllowed('https://play.example.com', 'play.example.com', [])).toBe(true);
  });
  it('refuses other hosts, other ports, missing and odd origins', () => {
    expect(originAllowed('http://evil.example', 'localhost:4000', [])).toBe(false);
    expect(originAllowed('http://localhost:4001', 'localhost:4000', [])).toBe(false);
    expect(originAllowed(undefined, 'localhost:4000', [])).toBe(false);
    expect(originAllowed('null', 'localhost:4000', [])).toBe(false);
    expect(originAllowed('file://localhost:4000', 'localhost:4000', [])).toBe(false);
  });
  it('accepts configured extra origins', () => {
    expect(
      originAllowed('https://admin.example', 'localhost:4000', ['https://admin.example']),
    ).toBe(true);
  });
});
