/**
 * Issue 12 point 9 (weight): the built client is sent precompressed and cached by content hash.
 * What a customer cares about: the call card opens fast on the second visit (hashed assets cached a year, no
 * revalidation) and the first (brotli/gzip chosen from Accept-Encoding), while a new release is picked up at once
 * (the HTML is never cached). Real parts only: scripts/precompress.ts over a temporary dist/client, the real
 * placements router behind the real security headers.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { get, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { precompressDir } from '../../../scripts/precompress.js';
import { clientFiles } from '../../../server/http/client-files.js';
import { securityHeaders } from '../../../server/http/middleware/security-headers.js';
import { placementsRouter } from '../../../server/http/placements.js';
import { acceptedEncodings } from '../../../server/http/static-assets.js';

const SCRIPT = `export const greeting = ${JSON.stringify('hello from the call card '.repeat(200))};\n`;
let dir = '';

function app() {
  const a = express();
  a.use(securityHeaders({ portals: () => [] }));
  a.use(placementsRouter(clientFiles(dir)));
  a.use((_req, res) => res.status(404).end());
  return a;
}

/** The bytes as sent (supertest would decode gzip/br itself), over a plain node:http request. */
async function fetchRaw(path: string, acceptEncoding: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const server = app().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  } finally {
    server.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pbxb24-assets-'));
  await mkdir(join(dir, 'assets'));
  await mkdir(join(dir, 'client'));
  await writeFile(join(dir, 'assets', 'app-BCZ0geeY.js'), SCRIPT);
  await writeFile(join(dir, 'assets', 'tiny-AbCd_123.css'), 'a{}');
  await writeFile(join(dir, 'client', 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/assets/app-BCZ0geeY.js"></script>');
  await writeFile(join(dir, 'client', 'call-card.html'), '<!doctype html><div id="app"></div><script type="module" src="/assets/call-card-Xy12_abc.js"></script>');
  precompressDir(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('client assets (precompressed, cached by content hash)', () => {
  it('sends the brotli copy to a browser that accepts it, with its JS type, Vary and a year of immutable cache', async () => {
    const res = await fetchRaw('/assets/app-BCZ0geeY.js', 'gzip, deflate, br');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/);
    expect(res.headers.vary).toMatch(/Accept-Encoding/i);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const body = res.body;
    expect(body.length).toBeLessThan(SCRIPT.length / 10);
    expect(brotliDecompressSync(body).toString()).toBe(SCRIPT);
    // The CSP and the other security headers stay on static files.
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('sends gzip when brotli is not accepted, and the plain file when nothing is (or q=0 refuses both)', async () => {
    const gz = await fetchRaw('/assets/app-BCZ0geeY.js', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT);
    for (const header of ['identity', 'br;q=0, gzip;q=0']) {
      const plain = await fetchRaw('/assets/app-BCZ0geeY.js', header);
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.toString()).toBe(SCRIPT);
      expect(plain.headers.vary).toMatch(/Accept-Encoding/i);
    }
  });

  it('a file too small to gain from compression is sent as is, still immutable', async () => {
    const res = await request(app()).get('/assets/tiny-AbCd_123.css').set('Accept-Encoding', 'br, gzip').expect(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^text\/css/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('the app page (GET or the frame POST) is never cached: a new release is seen on the next open', async () => {
    for (const res of [await request(app()).get('/placement/crm-tab'), await request(app()).post('/')]) {
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('/assets/app-BCZ0geeY.js');
    }
    // The call card has a lighter page of its own (issue 12 point 9), never cached either.
    for (const res of [await request(app()).get('/placement/call-card'), await request(app()).post('/placement/call-card')]) {
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('/assets/call-card-Xy12_abc.js');
      expect(res.text).not.toContain('/assets/app-BCZ0geeY.js');
    }
    const html = await request(app()).get('/client/index.html').set('Accept-Encoding', 'br').expect(200);
    expect(html.headers['cache-control']).toBe('no-cache');
  });

  it('never serves outside dist/client nor a precompressed copy by its own name', async () => {
    await writeFile(join(dir, '..', 'pbxb24-secret.txt'), 'secret');
    try {
      await request(app()).get('/..%2fpbxb24-secret.txt').expect(404);
      await request(app()).get('/assets/app-BCZ0geeY.js.br').expect(404);
    } finally {
      await rm(join(dir, '..', 'pbxb24-secret.txt'), { force: true });
    }
    expect((await readFile(join(dir, 'assets', 'app-BCZ0geeY.js.br'))).length).toBeGreaterThan(0);
  });

  it('reads Accept-Encoding as browsers send it', () => {
    expect([...acceptedEncodings('gzip, deflate, br, zstd')]).toEqual(['gzip', 'deflate', 'br', 'zstd']);
    expect([...acceptedEncodings('br;q=0, gzip;q=0.8')]).toEqual(['gzip']);
    expect([...acceptedEncodings('*')].sort()).toEqual(['br', 'gzip']);
    expect([...acceptedEncodings(undefined)]).toEqual([]);
  });
});
