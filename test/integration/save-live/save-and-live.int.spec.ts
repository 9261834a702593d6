import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsResponse, StatusResponse } from '../../../contract/api-shapes.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { eventually } from '../foundation/server-under-test.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 12 points 2 and 3 at the API, against the real product and emulators.
 * Before: wrong PBX credentials were saved ("Saved." beside a red alert) and a re-setup after Disconnect stayed
 * disabled; a frozen PBX stayed "connected" and open frames only learnt anything on reload.
 * After: Save tests first and refuses (422, nothing stored); a fresh PBX is enabled; /api/status and /api/calls answer
 * 304 to an unchanged If-None-Match, a frozen PBX changes the status within the link's bound, and one portal's
 * changes and tags never reach another portal.
 */

describe('save tests first; status and calls are live per portal', () => {
  let stack: Stack;
  let ownPbx: YeastarEmulator;
  let a: Tenant;
  let b: Tenant;

  const raw = (t: Tenant, path: string, etag?: string) => fetch(`${stack.url()}/api${path}`, {
    headers: { authorization: `Bearer ${t.adminToken}`, 'x-member-id': t.memberId, ...(etag ? { 'if-none-match': etag } : {}) },
  });
  const settingsOf = async (t: Tenant) => (await stack.api(t, 'admin', 'GET', '/settings')).body as SettingsResponse;
  const statusOf = async (t: Tenant) => (await stack.api(t, 'admin', 'GET', '/status')).body as StatusResponse;

  beforeAll(async () => {
    stack = await startStack();
    ownPbx = await startYeastarEmulator({ speed: 1000 });
    a = await stack.addTenant({ pbx: 'none' });
    b = await stack.addTenant();
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    const leaks = await closeStackFindingLeaks(stack, { pbxs: [stack.pbx, ownPbx] });
    await ownPbx?.stop();
    expect(leaks).toEqual([]);
  });

  it('wrong credentials are refused with the PBX code and nothing is saved', async () => {
    const refused = await stack.api(a, 'admin', 'PUT', '/settings', {
      pbx: { baseUrl: ownPbx.url, clientId: ownPbx.clientId, clientSecret: 'not-the-secret', events: 'websocket' },
    });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: 'PBX_AUTH_FAILED', details: { field: 'pbx' } });
    expect((await settingsOf(a)).pbx).toBeNull();
    expect((await settingsOf(a)).enabled).toBe(false);
  }, 30_000);

  it('a fresh PBX is enabled; after Disconnect a re-setup is enabled again', async () => {
    const pbx = { baseUrl: ownPbx.url, clientId: ownPbx.clientId, clientSecret: ownPbx.clientSecret, events: 'websocket' };
    const first = await stack.api(a, 'admin', 'PUT', '/settings', { pbx });
    expect(first.status, first.text).toBe(200);
    expect((first.body as SettingsResponse).enabled).toBe(true);
    expect((await stack.api(a, 'admin', 'POST', '/disconnect')).status).toBe(200);
    expect((await settingsOf(a)).enabled).toBe(false);
    const again = await stack.api(a, 'admin', 'PUT', '/settings', { pbx });
    expect(again.status, again.text).toBe(200);
    expect((again.body as SettingsResponse).enabled).toBe(true);
    await eventually(async () => (await statusOf(a)).pbx.state === 'connected', 15_000, 100);
  }, 60_000);

  it('an unchanged status or call list answers 304; another portal never matches a tag', async () => {
    const first = await raw(a, '/status');
    const tag = first.headers.get('etag');
    expect(first.status).toBe(200);
    expect(tag).toBeTruthy();
    expect((await raw(a, '/status', tag ?? '')).status).toBe(304);
    // B's answer is B's own: A's tag does not match it.
    const foreign = await raw(b, '/status', tag ?? '');
    expect(foreign.status).toBe(200);
    expect(((await foreign.json()) as StatusResponse).portal.memberId).toBe(b.memberId);

    const calls = await raw(a, '/calls?entityType=CONTACT&entityId=1&limit=20');
    const callsTag = calls.headers.get('etag');
    expect(calls.status).toBe(200);
    expect((await raw(a, '/calls?entityType=CONTACT&entityId=1&limit=20', callsTag ?? '')).status).toBe(304);
  }, 30_000);

  it("a frozen PBX changes its portal's status (PBX_NOT_ANSWERING), and only that portal's", async () => {
    const bBefore = await raw(b, '/status');
    const bTag = bBefore.headers.get('etag') ?? '';
    const aTag = (await raw(a, '/status')).headers.get('etag') ?? '';
    await ownPbx.setFault({ kind: 'frozen' });
    try {
      // The link's bound is heartbeat 10 s + answer 10 s; the wait ends on the event, the limit only fails the test.
      await eventually(async () => (await raw(a, '/status', aTag)).status === 200, 30_000, 250);
      await eventually(async () => (await statusOf(a)).pbx.state === 'unreachable', 30_000, 250);
      expect((await statusOf(a)).pbx.lastErrorCode).toBe('PBX_NOT_ANSWERING');
      const bNow = await statusOf(b);
      expect(bNow.pbx.state).toBe('connected');
      expect(bNow.portal.memberId).toBe(b.memberId);
      expect((await raw(b, '/status', bTag)).status).toBe(304);
    } finally {
      await ownPbx.setFault(null);
    }
    await eventually(async () => (await statusOf(a)).pbx.state === 'connected', 40_000, 250);
  }, 90_000);
});
