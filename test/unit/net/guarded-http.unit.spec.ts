import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBitrixTransport } from '../../../server/bitrix/guarded-transport.js';
import { createLogger } from '../../../server/log.js';
import { pbxAgents } from '../../../server/pbx/address-guard.js';

/**
 * The connect-time guard (issue 10, point 2). The attack: a URL whose host is an IP literal — Node's http calls no
 * `lookup` for it, so a guard that only wraps DNS never runs — or a name that resolves to loopback. A real listener
 * on loopback stands for "this host's own services"; what the customer cares about is that it sees ZERO connections
 * when the operator did not allow loopback, and is reached when they did (so the test can fail).
 */

describe('guarded agents: the address policy when the socket connects', () => {
  let server: http.Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('secret'));
    server.on('connection', () => { connections += 1; });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = (url: string, agent: http.Agent) => new Promise<string>((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });

  it('refuses loopback as an IP literal, in IPv6 spellings that carry it, and by name: the listener sees nothing', async () => {
    const agents = pbxAgents({ allowLoopback: false, allowPrivate: false });
    const before = connections;
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', 'localhost']) {
      await expect(get(`http://${host}:${port}/`, agents.http), host).rejects.toMatchObject({ code: 'PBX_ADDRESS_REFUSED' });
    }
    await expect(get('http://169.254.169.254/latest/meta-data/', agents.http)).rejects.toThrow(/metadata/);
    expect(connections - before).toBe(0);
  });

  it('lets loopback through when the operator allowed it (the same request reaches the listener)', async () => {
    const agents = pbxAgents({ allowLoopback: true, allowPrivate: false });
    const before = connections;
    await expect(get(`http://127.0.0.1:${port}/`, agents.http)).resolves.toBe('secret');
    expect(connections - before).toBe(1);
    // Metadata stays refused whatever the switches.
    await expect(get('http://169.254.169.254/', pbxAgents({ allowLoopback: true, allowPrivate: true }).http)).rejects.toThrow(/metadata/);
  });

  it('the PBX event socket (ws, which brings its own createConnection) goes through the guard too', async () => {
    const agents = pbxAgents({ allowLoopback: false, allowPrivate: false });
    const before = connections;
    const error = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/openapi/v1.0/subscribe`, { agent: agents.agentFor(`http://127.0.0.1:${port}/`) });
      ws.on('error', resolve);
    });
    expect(error.message).toMatch(/^PBX_ADDRESS_REFUSED/);
    expect(connections - before).toBe(0);
  });

  it('Bitrix24 traffic through axios follows B24_ALLOW_LOOPBACK the same way', async () => {
    const log = createLogger('silent');
    const strict = createBitrixTransport({ b24AllowLoopback: false, b24AllowPrivate: false }, log);
    const before = connections;
    await expect(axios.post(`http://127.0.0.1:${port}/rest/profile`, 'auth=secret', strict.axiosOptions)).rejects.toMatchObject({ code: 'B24_ADDRESS_REFUSED' });
    expect(connections - before).toBe(0);
    const open = createBitrixTransport({ b24AllowLoopback: true, b24AllowPrivate: false }, log);
    await expect(axios.post(`http://127.0.0.1:${port}/rest/profile`, 'x', open.axiosOptions)).resolves.toMatchObject({ data: 'secret' });
  });
});
