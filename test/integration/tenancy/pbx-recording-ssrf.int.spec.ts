import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallsPage } from '../../../contract/api-shapes.js';
import { eventually } from '../foundation/server-under-test.js';
import { CANARY_BODY, startCanary, startHostileProxy, type Canary, type HostileProxy } from '../../support/hostile-upstream.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 10, point 2: SSRF through the PBX. The attack: a tenant's PBX (here a proxy in front of the Yeastar
 * emulator, which is how a hostile or compromised PBX looks to us) answers recording/download with a
 * `download_resource_url` that resolves to another host — `/\127.0.0.1:<port>/secret` (this host's own services)
 * or `/\169.254.169.254/latest/meta-data/` (the cloud metadata service). Before the fix the server fetched it with
 * the PBX token, streamed it to any employee as "the recording" and sent it to Bitrix24 with attachRecord.
 * Second attack: the PBX serves its "recording" as text/html, which our origin would then serve to a browser.
 *
 * What the customer cares about: no connection reaches the forbidden host (the canary counts them), no byte of it
 * reaches a user or Bitrix24, the call itself is still logged in Bitrix24, and the operator reads why in the log.
 */

describe('tenancy: a PBX cannot make the server fetch another host as a recording', () => {
  let stack: Stack;
  let tenant: Tenant;
  let proxy: HostileProxy;
  let canary: Canary;

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    canary = await startCanary();
    proxy = await startHostileProxy(stack.pbx.url);
    tenant = await stack.addTenant({ pbxUrl: proxy.url });
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    const leaks = await closeStackFindingLeaks(stack);
    await Promise.all([proxy.close(), canary.close()]);
    expect(leaks).toEqual([]);
  });

  /** Plays an answered call with a recording; resolves once Bitrix24 has the call finished and ours gave up on the recording. */
  async function playRecordedCall(from: string): Promise<string> {
    const { callId } = await stack.pbx.scenario('inbound-answered', { from, to: '1001', talkSeconds: 30, record: true, wait: true });
    await eventually(async () => (await stack.b24.calls(tenant.memberId)).some((c) => (c.externalCallId ?? '').includes(callId) && c.finished), 15_000, 100);
    await eventually(async () => {
      const page = (await stack.api(tenant, 'admin', 'GET', '/calls')).body as CallsPage;
      return page.calls.find((c) => c.id === callId)?.recording.state === 'failed';
    }, 15_000, 100);
    return callId;
  }

  async function attachRecordsOf(callId: string) {
    const calls = await stack.b24.calls(tenant.memberId);
    const call = calls.find((c) => (c.externalCallId ?? '').includes(callId));
    const attaches = (await stack.b24.requests({ memberId: tenant.memberId, method: 'telephony.externalCall.attachRecord' }))
      .filter((r) => r.params.CALL_ID === call?.callId);
    return { call, attaches };
  }

  it.each([
    ['this host (loopback) through a backslash path', () => `/\\127.0.0.1:${canary.port}/secret`],
    ['the cloud metadata service through a backslash path', () => '/\\169.254.169.254/latest/meta-data/'],
    ['another host through a protocol-relative path', () => `//127.0.0.1:${canary.port}/secret`],
    ['another host through an absolute URL', () => `${canary.url}/secret`],
  ])('download_resource_url pointing at %s: refused, no connection, nothing served or attached, the call still logged', async (_what, target) => {
    proxy.rules = {
      rewriteJson: (path, json) => (path.endsWith('/recording/download') && typeof json === 'object' && json !== null
        ? { ...json, download_resource_url: target() }
        : json),
    };
    const before = canary.connections();
    const callId = await playRecordedCall(`+1555020${String(1000 + before)}`);

    // The user asking for the recording gets a clear 502, not the canary's body.
    const played = await stack.api(tenant, 'agent', 'GET', `/calls/${encodeURIComponent(callId)}/recording`);
    expect(played.status).toBe(502);
    expect(played.body).toMatchObject({ error: 'PBX_URL_REFUSED' });
    expect(played.text).not.toContain(CANARY_BODY);

    // Bitrix24 got the call finished, and no attachRecord for it (so none with the canary's bytes).
    const { call, attaches } = await attachRecordsOf(callId);
    expect(call?.finished).toBeTruthy();
    expect(call?.records).toEqual([]);
    expect(attaches).toEqual([]);

    // No connection ever reached the forbidden host.
    expect(canary.connections() - before).toBe(0);
    expect(canary.requests).toEqual([]);

    // The operator reads why.
    const logs = await stack.logs();
    expect(logs).toMatch(/recording download refused.*PBX_URL_REFUSED|PBX_URL_REFUSED.*recording download refused/);
    expect(logs).not.toContain(CANARY_BODY);
  }, 40_000);

  it('a recording served as text/html is refused as a recording: not passed to the user, not attached, the call still logged', async () => {
    const html = '<html><script>alert(document.domain)</script></html>';
    proxy.rules = { contentType: (path) => (path.startsWith('/api/download/') ? 'text/html; charset=utf-8' : undefined) };
    const callId = await playRecordedCall('+15550209999');

    const played = await stack.api(tenant, 'agent', 'GET', `/calls/${encodeURIComponent(callId)}/recording`);
    expect(played.status).toBe(502);
    expect(played.body).toMatchObject({ error: 'PBX_NOT_A_RECORDING' });
    expect(played.text).toMatch(/text\/html/);
    expect(played.text).not.toContain('RIFF');
    expect(played.text).not.toContain(html);

    const { call, attaches } = await attachRecordsOf(callId);
    expect(call?.finished).toBeTruthy();
    expect(call?.records).toEqual([]);
    expect(attaches).toEqual([]);
    expect(await stack.logs()).toMatch(/recording refused: the PBX answered something that is not audio/);
  }, 40_000);

  it('with the proxy honest again, recordings flow as before (the refusals above are the proxy\'s doing, not a broken path)', async () => {
    proxy.rules = {};
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: '+15550208888', to: '1001', talkSeconds: 12, record: true, wait: true });
    await eventually(async () => ((await attachRecordsOf(callId)).call?.records.length ?? 0) > 0, 15_000, 100);
    const played = await stack.api(tenant, 'agent', 'GET', `/calls/${encodeURIComponent(callId)}/recording`);
    expect(played.status).toBe(200);
    expect(played.text.startsWith('RIFF')).toBe(true);
  }, 40_000);
});

/**
 * The same attack through the PBX address itself, on a server whose operator did not allow loopback: IPv6 spellings
 * that carry 127.0.0.1 (IPv4-compatible, NAT64, 6to4, IPv4-mapped in the hex form the URL parser writes) are this
 * host too. Before the fix `[::127.0.0.1]` and `[64:ff9b::7f00:1]` passed as public IPv6 addresses.
 */
describe('tenancy: IPv6 forms of this host are refused as the PBX address', () => {
  let stack: Stack;
  let canary: Canary;

  afterAll(async () => {
    if (!stack) return;
    const leaks = await closeStackFindingLeaks(stack);
    await canary.close();
    expect(leaks).toEqual([]);
  });

  it('refuses them on save and on test, with the loopback hint; nothing saved, no connection made', async () => {
    stack = await startStack({ env: { PBX_ALLOW_LOOPBACK: '0', PBX_ALLOW_PRIVATE: '0' } });
    canary = await startCanary();
    const tenant = await stack.addTenant({ pbx: 'none' });
    const before = (await stack.api(tenant, 'admin', 'GET', '/settings')).text;
    for (const host of ['[::127.0.0.1]', '[::7f00:1]', '[64:ff9b::7f00:1]', '[64:ff9b::127.0.0.1]', '[2002:7f00:1::1]', '[::ffff:7f00:1]']) {
      const baseUrl = `http://${host}:${canary.port}`;
      const saved = await stack.api(tenant, 'admin', 'PUT', '/settings', {
        enabled: true, pbx: { baseUrl, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events: 'websocket' },
      });
      expect(saved.status, `${baseUrl} → ${saved.text}`).toBe(400);
      expect(saved.text).toMatch(/127\.0\.0\.1.*PBX_ALLOW_LOOPBACK/);
      const tried = await stack.api(tenant, 'admin', 'POST', '/pbx/test', { baseUrl, clientId: 'x', clientSecret: 'y' });
      expect(tried.status === 400 || (tried.status === 200 && (tried.body as { ok: boolean }).ok === false), `${baseUrl} → ${tried.text}`).toBe(true);
    }
    expect((await stack.api(tenant, 'admin', 'GET', '/settings')).text).toBe(before);
    expect(canary.connections()).toBe(0);
  }, 60_000);
});
