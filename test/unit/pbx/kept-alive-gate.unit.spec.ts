import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PbxError } from '../../../server/pbx/adapter.js';
import { pbxAgents } from '../../../server/pbx/address-guard.js';
import { createHttpTransport } from '../../../server/pbx/yeastar/transport.js';

/**
 * PBX connections are kept alive (address-guard.ts pbxAgents). An instance that lost a portal's lease (or was paused past
 * it) must still send that PBX nothing, even on a socket it already has open: the ownership gate is asked before every
 * request, not only when a socket connects.
 */
describe('PBX transport: kept-alive sockets and the ownership gate', () => {
  let server: http.Server;
  let baseUrl: string;
  let connections = 0;
  let requests = 0;

  beforeEach(async () => {
    connections = 0;
    requests = 0;
    server = http.createServer((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errcode: 0, errmsg: 'SUCCESS' }));
    });
    server.on('connection', () => { connections += 1; });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reuses one connection, and refuses on it once this instance no longer owns the portal', async () => {
    let owner = true;
    const refuse = (): Error | undefined => (owner ? undefined : new PbxError('PBX_CLOSED', 'this instance no longer owns the portal'));
    const policy = { allowLoopback: true, allowPrivate: false, refuseConnect: refuse };
    const transport = createHttpTransport({ baseUrl, agents: pbxAgents(policy), refuse });
    const call = () => transport.requestJson({ method: 'POST', path: '/openapi/v1.0/call/accept_inbound', body: { channel_id: 'x' } });

    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(200);
    expect(connections).toBe(1);

    owner = false;
    await expect(call()).rejects.toMatchObject({ code: 'PBX_CLOSED' });
    expect(requests).toBe(2);
    expect(connections).toBe(1);
  });
});
