import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../../server/pbx/yeastar/transport.js';
import { eventually } from '../../integration/foundation/server-under-test.js';

/**
 * Bounded reads (issue 10, point 8). The attack: one PBX answers with an endless body — a JSON page that never ends,
 * a "recording" without Content-Length that never ends, or a Content-Length of 10 GB — to exhaust the memory of the
 * process every tenant shares. A real local server plays the PBX; what the customer cares about: the read stops at
 * the cap with a clear error, and the connection is closed (the server sees it go).
 */

describe('PBX transport: bounded reads', () => {
  let server: http.Server;
  let base = '';
  let closedEarly = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.on('close', () => { if (!res.writableFinished) closedEarly += 1; });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      if (req.url?.startsWith('/huge-length')) {
        res.writeHead(200, { 'Content-Type': 'audio/x-wav', 'Content-Length': String(10 * 1024 ** 3) });
        res.write(chunk);
        return;
      }
      res.writeHead(200, { 'Content-Type': req.url?.startsWith('/json') ? 'application/json' : 'audio/x-wav' });
      const pump = () => {
        while (res.write(chunk)) { /* fill the socket until it pushes back */ }
      };
      res.on('drain', pump);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** The PBX side sees its answer cut off (it never finished writing it). */
  const connectionClosed = (before: number) => eventually(async () => closedEarly - before === 1, 5_000, 10);

  it('an endless JSON answer is cut at the cap (PBX_BAD_RESPONSE) and its connection closed', async () => {
    const transport = createHttpTransport({ baseUrl: base, maxJsonBytes: 1024 * 1024 });
    const before = closedEarly;
    await expect(transport.requestJson({ method: 'GET', path: '/json/extension/list' })).rejects.toMatchObject({ code: 'PBX_BAD_RESPONSE' });
    await connectionClosed(before);
  });

  it('an endless recording without a length fails its stream at the cap (PBX_FILE_TOO_LARGE), the connection closed', async () => {
    const transport = createHttpTransport({ baseUrl: base, maxStreamBytes: 2 * 1024 * 1024 });
    const before = closedEarly;
    const { stream } = await transport.requestStream({ method: 'GET', path: '/api/download/endless.wav' });
    let read = 0;
    const failure = await (async () => {
      try {
        for await (const chunk of stream) read += (chunk as Buffer).length;
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(failure).toMatchObject({ code: 'PBX_FILE_TOO_LARGE' });
    expect(read).toBeLessThanOrEqual(2 * 1024 * 1024);
    await connectionClosed(before);
  });

  it('a recording announcing more than the cap is refused before a byte is read', async () => {
    const transport = createHttpTransport({ baseUrl: base });
    await expect(transport.requestStream({ method: 'GET', path: '/huge-length/a.wav' })).rejects.toMatchObject({ code: 'PBX_FILE_TOO_LARGE' });
  });
});
