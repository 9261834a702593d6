import { request as httpRequest } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../server/index.js';
import { storeLayout } from '../../../server/store/layout.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from '../foundation/server-under-test.js';
import { formEncode } from '../../support/fuzz.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 10 point 8, each small point played against the running product (both emulators). The actors: anyone on the
 * internet who reaches the public port (events without a token, oversized bodies, /metrics, framing the pages), a
 * tenant's PBX naming its recordings in any script, and the host's own layout leaking through an error answer.
 */
describe('tenancy: the smaller points of issue 10', () => {
  let stack: Stack;
  let t: Tenant;

  beforeAll(async () => {
    stack = await startStack();
    t = await stack.addTenant();
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  const headersOf = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${stack.url()}${path}`, init);
    await res.arrayBuffer();
    return { status: res.status, nosniff: res.headers.get('x-content-type-options'), csp: res.headers.get('content-security-policy') ?? '' };
  };

  it('an event without auth[application_token] is refused with 401 and a warning naming the portal; nothing runs', async () => {
    // The attack: someone posts an uninstall "event" for a known portal without any token at all.
    const res = await fetch(`${stack.url()}/b24/events`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formEncode({ event: 'ONAPPUNINSTALL', data: { CLEAN: '1' }, auth: { member_id: t.memberId } }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    await eventually(async () => (await stack.logs()).split('\n').some((line) => line.includes('no auth[application_token]') && line.includes(t.memberId)), 5_000);
    const warning = (await stack.logs()).split('\n').find((line) => line.includes('no auth[application_token]')) ?? '';
    expect(JSON.parse(warning)).toMatchObject({ level: 40, portal: t.memberId, event: 'ONAPPUNINSTALL' });
    // The portal is still installed and served.
    expect((await stack.api(t, 'admin', 'GET', '/status')).status).toBe(200);
  });

  it("each route's own body limit applies: 4 kB for POST /phonebooks (413, refused before the body is read), 512 kB for PUT /bindings", async () => {
    const big = await stack.api(t, 'admin', 'POST', '/phonebooks', { name: 'x'.repeat(5_000) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('4096 bytes') as string });
    // A route that takes more than the old global 256 kB parser allowed now gets its body (and judges it itself).
    const bindings = await stack.api(t, 'admin', 'PUT', '/bindings', { bindings: [{ userId: t.agentId, extension: '1001' }], note: 'y'.repeat(300_000) });
    expect(bindings.status).not.toBe(413);
    // A client announcing 64 MB and sending 1 kB of it: the answer comes while the body is still unsent.
    const url = new URL(`${stack.url()}/api/phonebooks`);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
        headers: { authorization: `Bearer ${t.adminToken}`, 'x-member-id': t.memberId, 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) },
      }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text }); req.destroy(); });
      });
      req.on('error', reject);
      req.write(`{"name":"${'z'.repeat(1024)}`);
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });

  it('a recording the PBX named in Chinese plays (200) with an RFC 6266 filename* and an ASCII fallback', async () => {
    // The PBX puts the caller id into the file name; a trunk can send a caller name in any script.
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: '张伟', to: '1001', record: true, talkSeconds: 3, wait: true });
    const { store } = stack.server().services;
    await eventually(() => store.calls.get(t.memberId, callId)?.recording !== undefined, 20_000, 100);
    expect(store.calls.get(t.memberId, callId)?.recording?.filename).toContain('张伟');
    const res = await fetch(`${stack.url()}/api/calls/${encodeURIComponent(callId)}/recording`, { headers: { authorization: `Bearer ${t.adminToken}`, 'x-member-id': t.memberId } });
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition') ?? '';
    expect(disposition).toMatch(/^inline; filename="[\x20-\x7e]+"; filename\*=UTF-8''\S+$/);
    expect(disposition).toContain(encodeURIComponent('张伟'));
    expect(decodeURIComponent(/filename\*=UTF-8''(\S+)$/.exec(disposition)?.[1] ?? '')).toContain('张伟');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.toString('ascii', 0, 4)).toBe('RIFF');
    // The server is fine afterwards (no 500, the next request answered).
    expect((await stack.api(t, 'admin', 'GET', `/calls/${encodeURIComponent(callId)}`)).status).toBe(200);
  });

  it('every answer carries nosniff and a CSP; a page may be framed by the portal it is served for, not by a site that names itself', async () => {
    const portalOrigin = new URL(t.info.clientEndpoint).origin;
    const answers = {
      page: await headersOf(`/placement/call-card?DOMAIN=${encodeURIComponent(t.info.domain)}&PROTOCOL=0&LANG=en`, { method: 'POST' }),
      stranger: await headersOf('/?DOMAIN=evil.example&PROTOCOL=1'),
      asset: await headersOf('/assets/does-not-exist.js'),
      api: await headersOf('/api/status', { headers: { authorization: `Bearer ${t.agentToken}`, 'x-member-id': t.memberId } }),
      apiError: await headersOf('/api/status'),
      notFound: await headersOf('/no/such/page'),
      health: await headersOf('/healthz'),
      event: await headersOf('/b24/events', { method: 'POST' }),
    };
    for (const [name, a] of Object.entries(answers)) {
      expect(a.nosniff, name).toBe('nosniff');
      expect(a.csp, name).toMatch(/frame-ancestors [^;]+/);
    }
    expect(answers.page.status).toBe(200);
    expect(answers.page.csp).toContain(`frame-ancestors 'self' ${portalOrigin}`);
    expect(answers.page.csp).toContain("script-src 'self'");
    expect(answers.page.csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(answers.stranger.csp).not.toContain('evil.example');
    expect(answers.api.status).toBe(200);
    expect(answers.api.csp).toContain("frame-ancestors 'none'");
    expect(answers.apiError.status).toBe(401);
  });

  it('/metrics is not served on the public port without METRICS_TOKEN; with it, only to the bearer of the token', async () => {
    expect((await headersOf('/metrics')).status).toBe(404);
    const data = await tempDataDir();
    const token = 'operator-metrics-token-7f3a9c';
    let server: RunningServer | undefined;
    try {
      server = await startTestServer(testConfig(data.dir, await freePort(), { METRICS_TOKEN: token }));
      const url = `${server.url}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-of-the-same-size!' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('pbxb24_portals');
    } finally {
      await server?.close();
      await data.remove();
    }
  });

  it('an error answer never names a path of the host: a store write failure says which file, not where', async () => {
    // A write that cannot happen: the settings file's temp name is taken by a directory (EISDIR, even for root).
    const settingsFile = storeLayout(stack.dataDir).portalFile(t.memberId, 'settings.json');
    await mkdir(`${settingsFile}.tmp`, { recursive: true });
    try {
      const refused = await stack.api(t, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'STORE_WRITE_FAILED', message: expect.stringContaining('…/settings.json') as string });
      expect(refused.text).not.toContain(stack.dataDir);
      expect(refused.text).not.toMatch(/(^|[\s'"(=:,])\/(tmp|work|home|root|var)\//);
      // The operator still learns where: the log has the full path.
      expect(await stack.logs()).toContain(settingsFile);
    } finally {
      await rm(`${settingsFile}.tmp`, { recursive: true, force: true });
    }
    expect((await stack.api(t, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' })).status).toBe(200);
  });
});
