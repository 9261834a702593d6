/**
 * middleware/body.ts: a route's own JSON limit, refused as soon as it is passed. Before: body-parser read a too-large
 * body to its end before answering 413, so a client could make the server read as much as it liked. Played over a real
 * socket: the client announces or streams more than the limit and never finishes, and the 413 still arrives.
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { bytes, jsonBody } from '../../../server/http/middleware/body.js';
import { errorHandler } from '../../../server/http/middleware/errors.js';
import { silentLog } from '../calls/fakes.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  server = undefined;
});

async function listen(): Promise<number> {
  const app = express();
  app.use((_req: Request, res: Response, next) => { res.locals.log = silentLog(); res.locals.requestId = 'r'; next(); });
  app.post('/small', jsonBody(bytes('1kb')), (req: Request, res: Response) => { res.json({ got: req.body as unknown }); });
  app.use(errorHandler());
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
  return (server?.address() as AddressInfo).port;
}

/** Sends the head and `first` bytes of a body, never the rest; resolves with the answer. */
function unfinished(port: number, headers: Record<string, string>, first: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/small', method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }); req.destroy(); });
    });
    req.on('error', reject);
    req.write(first);
  });
}

describe('per-route JSON body limits', () => {
  it('a body within the limit is parsed; a malformed one is a 400', async () => {
    const port = await listen();
    const ok = await fetch(`http://127.0.0.1:${port}/small`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await ok.json()).toEqual({ got: { a: 1 } });
    const bad = await fetch(`http://127.0.0.1:${port}/small`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
  });

  it('a declared length over the limit: 413 naming the limit before any byte is read', async () => {
    const port = await listen();
    const answer = await unfinished(port, { 'content-length': String(50 * 1024 * 1024) }, '');
    expect(answer).toEqual({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE', message: 'request body too large: this endpoint takes at most 1024 bytes' } });
  });

  it('a chunked body: 413 once the limit is passed, while the client is still sending', async () => {
    const port = await listen();
    const answer = await unfinished(port, { 'transfer-encoding': 'chunked' }, `{"pad":"${'x'.repeat(2048)}`);
    expect(answer.status).toBe(413);
  });
});
