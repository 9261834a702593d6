import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefusedTokens } from '../../../server/bitrix/refused-tokens.js';

/** A REST endpoint answering the way Bitrix24 does for a refused token (401 + {error, error_description}). */
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const [status, error] = req.url === '/expired' ? [401, 'expired_token'] : req.url === '/invalid' ? [401, 'invalid_token'] : [401, 'NO_AUTH_FOUND'];
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error, error_description: 'refused' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('refused tokens', () => {
  it('notes the access token of a 401 expired_token or invalid_token, per portal, until cleared', async () => {
    const refused = createRefusedTokens();
    const instance = axios.create({ baseURL: base });
    refused.watch(instance, 'p1');
    await expect(instance.post('/expired', { auth: 'old-token', ID: 1 })).rejects.toThrow();
    await expect(instance.post('/invalid', { auth: 'revoked-token' })).rejects.toThrow();
    expect(refused.has('p1', 'old-token')).toBe(true);
    expect(refused.has('p1', 'revoked-token')).toBe(true);
    expect(refused.has('p2', 'old-token')).toBe(false);
    expect(refused.has('p1', 'new-token')).toBe(false);
    expect(refused.any('p1')).toBe(true);
    expect(refused.any('p2')).toBe(false);
    refused.clear('p1');
    expect(refused.has('p1', 'old-token')).toBe(false);
    expect(refused.any('p1')).toBe(false);
  });

  it('ignores 401s that do not ask for a refresh, and bodies without a token', async () => {
    const refused = createRefusedTokens();
    const instance = axios.create({ baseURL: base });
    refused.watch(instance, 'p1');
    await expect(instance.post('/other', { auth: 'a-token' })).rejects.toThrow();
    await expect(instance.post('/expired', 'not json')).rejects.toThrow();
    expect(refused.has('p1', 'a-token')).toBe(false);
    expect(refused.any('p1')).toBe(false);
  });
});
