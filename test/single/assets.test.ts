// What a page loads: every script and style it names comes compressed to a browser that accepts
// brotli or gzip, and is the same file once decoded; a client that accepts neither gets it as it
// is, and so does a request for a range of its bytes. The pages themselves are never compressed
// (they carry the CSRF token beside text a request chooses: BREACH).

import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { freePort, startNode, tempDir, type NodeProcess } from '../support/node-process.js';

let node: NodeProcess | undefined;

afterAll(async () => {
  await node?.kill();
});

interface Raw {
  status: number;
  encoding: string | undefined;
  vary: string | undefined;
  cacheControl: string | undefined;
  body: Buffer;
}

/** A GET with exactly these request headers, its body as it came over the wire. */
function get(url: string, acceptEncoding: string | null, range?: string): Promise<Raw> {
  const headers: Record<string, string> = {};
  if (acceptEncoding !== null) headers['accept-encoding'] = acceptEncoding;
  if (range !== undefined) headers.range = range;
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          encoding: res.headers['content-encoding'],
          vary: res.headers.vary,
          cacheControl: res.headers['cache-control'],
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a page and what it loads', () => {
  it('scripts and styles go compressed when asked, the same bytes once decoded; pages never do', async () => {
    node = startNode({ port: await freePort(), databasePath: join(tempDir(), 'assets.db') });
    await node.ready();
    const url = node.url;

    // Chromium's and Firefox's header, and one that accepts gzip only.
    const browsers = 'gzip, deflate, br, zstd';
    const page = await get(`${url}/login?next=%2Flobby`, browsers);
    expect(page.status).toBe(200);
    expect(page.encoding).toBeUndefined();
    const html = page.body.toString('utf8');
    expect(html).toContain('name="_csrf"');

    const assets = [
      ...html.matchAll(/(?:src|href)="(\/static\/[^"]+\.(?:js|css)(?:\?v=[0-9a-f]{12})?)"/g),
    ].map((m) => m[1]!);
    // The stylesheet, htmx and its socket extension, the template table, the game's scripts.
    expect(assets.length).toBeGreaterThanOrEqual(6);
    expect(html).toMatch(/<link rel="icon" href="\/static\/favicon\.svg\?v=[0-9a-f]{12}"/);
    expect(assets.some((a) => a.startsWith('/static/live/templates-'))).toBe(true);

    let plainBytes = 0;
    let brBytes = 0;
    for (const path of assets) {
      const plain = await get(url + path, null);
      expect(plain.status, path).toBe(200);
      expect(plain.encoding, path).toBeUndefined();
      expect(plain.vary, path).toMatch(/accept-encoding/i);

      const br = await get(url + path, browsers);
      expect(br.encoding, path).toBe('br');
      expect(brotliDecompressSync(br.body).equals(plain.body), path).toBe(true);

      const gz = await get(url + path, 'gzip');
      expect(gz.encoding, path).toBe('gzip');
      expect(gunzipSync(gz.body).equals(plain.body), path).toBe(true);

      const none = await get(url + path, 'identity');
      expect(none.encoding, path).toBeUndefined();
      expect(none.body.equals(plain.body), path).toBe(true);

      // A range is the file's own bytes, never a compressed slice under the file's offsets.
      // (The template table is built in memory and always sent whole.)
      const part = await get(url + path, browsers, 'bytes=0-1999');
      expect(part.encoding, path).toBeUndefined();
      if (path.startsWith('/static/live/templates-')) {
        expect(part.status, path).toBe(200);
        expect(part.body.equals(plain.body), path).toBe(true);
      } else {
        expect(part.status, path).toBe(206);
        expect(part.body.equals(plain.body.subarray(0, 2000)), path).toBe(true);
      }

      // The address names the version of what it serves; at that address it is kept for a
      // year, at any other (a page of another release asking this node) checked again.
      if (!path.startsWith('/static/live/templates-')) {
        const [file, version] = path.split('?v=');
        expect(version, path).toBe(
          createHash('sha256').update(plain.body).digest('hex').slice(0, 12),
        );
        expect(plain.cacheControl, path).toBe('public, max-age=31536000, immutable');
        for (const other of [file!, `${file!}?v=0123456789ab`, `${path}&v=${version!}`]) {
          const older = await get(url + other, null);
          expect(older.status, other).toBe(200);
          expect(older.body.equals(plain.body), other).toBe(true);
          expect(older.cacheControl, other).toBe('no-cache');
        }
      }

      plainBytes += plain.body.length;
      brBytes += br.body.length;
    }
    // Together they travel in well under half their size.
    expect(brBytes).toBeLessThan(plainBytes * 0.45);

    // Other pages, signed out: none is compressed, whatever the browser accepts.
    for (const path of ['/', '/signup', '/leaderboard']) {
      const other = await get(url + path, browsers);
      expect(other.status, path).toBe(200);
      expect(other.encoding, path).toBeUndefined();
    }
  });
});
