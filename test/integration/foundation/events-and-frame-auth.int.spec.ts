import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import { wireParts, type RunningServer } from '../../../server/index.js';
import type { ExternalCallbackStart, ExternalCallStart } from '../../../server/calls/types.js';
import type { StatusResponse } from '../../../contract/api-shapes.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

describe('events and frame auth on the running server (emulator)', () => {
  let emulator: Bitrix24Emulator;
  let server: RunningServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let other: PortalInfo;
  let adminId: number;
  let userId: number;
  const starts: { portal: string; event: ExternalCallStart }[] = [];
  const callbacks: { portal: string; event: ExternalCallbackStart }[] = [];
  const installed: string[] = [];

  beforeAll(async () => {
    emulator = await startBitrix24Emulator();
    data = await tempDataDir();
    const port = await freePort();
    server = await startTestServer(testConfig(data.dir, port), {
      // The calls part is another helper's; here a recorder stands in for it to see what the events route hands over.
      parts: async (core) => ({
        ...await wireParts(core),
        onPortalInstalled: (memberId) => { installed.push(memberId); },
        telephonyEvents: {
          externalCallStart: async (p, event) => { starts.push({ portal: p, event }); },
          externalCallbackStart: async (p, event) => { callbacks.push({ portal: p, event }); },
        },
      }),
    });
    portal = await emulator.createPortal();
    other = await emulator.createPortal();
    adminId = (await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true })).id;
    userId = (await emulator.addUser(portal.memberId, { name: 'Bob', lastName: 'User', email: 'bob@example.com', innerPhone: '101' })).id;
    await emulator.addUser(other.memberId, { name: 'Olga', lastName: 'Other', email: 'olga@example.com', admin: true });
    await emulator.install(portal.memberId, { appUrl: `http://127.0.0.1:${port}` });
    await emulator.finishInstall(portal.memberId);
    await emulator.install(other.memberId, { appUrl: `http://127.0.0.1:${port}` });
    await emulator.finishInstall(other.memberId);
  });

  afterAll(async () => {
    await server?.close();
    await emulator?.stop();
    await data?.remove();
  });

  const api = async (path: string, token: string, memberId: string, init: RequestInit = {}) =>
    fetch(`${server.url}/api${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'x-member-id': memberId, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });

  it('tells the parts when a portal was installed (the supervisor reopens its link)', () => {
    expect(installed).toContain(portal.memberId);
    expect(installed).toContain(other.memberId);
  });

  it('hands ONEXTERNALCALLSTART to the calls part with the fields read from data[...]', async () => {
    const { callId } = await emulator.clickToCall(portal.memberId, {
      userId, phoneNumber: '+15551234567', crm: { entityType: 'CONTACT', entityId: 7 },
    });
    await eventually(() => starts.length === 1);
    expect(starts[0]).toEqual({
      portal: portal.memberId,
      event: expect.objectContaining({ b24CallId: callId, phoneNumber: '+15551234567', userId, crm: { entityType: 'CONTACT', entityId: 7 } }),
    });
  });

  it('refuses a forged event (401) and hands nothing over', async () => {
    const before = starts.length;
    const deliveries = await emulator.sendEvent(portal.memberId, 'ONEXTERNALCALLSTART', {
      CALL_ID: 'externalCall.forged.1', PHONE_NUMBER: '+15550000000', USER_ID: String(userId),
    }, { forgeToken: true });
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.status === 401)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(starts.length).toBe(before);

    const forgedUninstall = await emulator.sendEvent(portal.memberId, 'ONAPPUNINSTALL', { CLEAN: 1 }, { forgeToken: true });
    expect(forgedUninstall.every((d) => d.status === 401)).toBe(true);
    expect(server.services.store.portals.get(portal.memberId)?.uninstalledAt).toBeUndefined();
    expect(server.services.store.portals.get(portal.memberId)?.refreshToken).not.toBe('');
  });

  it('answers a malformed event body with 400, not a crash', async () => {
    const res = await fetch(`${server.url}/b24/events`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'event=ONEXTERNALCALLSTART&auth=oops',
    });
    expect(res.status).toBe(400);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('lets any user of the portal read status, only admins change anything', async () => {
    const user = await emulator.frameToken(portal.memberId, userId);
    const admin = await emulator.frameToken(portal.memberId, adminId);

    const status = await api('/status', user.accessToken, portal.memberId);
    expect(status.status).toBe(200);
    const body = await status.json() as StatusResponse;
    expect(body.portal.memberId).toBe(portal.memberId);
    expect(body.portal.installed).toBe(true);
    expect(body.user).toEqual({ id: userId, isAdmin: false, extension: null });

    const put = await api('/settings', user.accessToken, portal.memberId, { method: 'PUT', body: JSON.stringify({ enabled: true }) });
    expect(put.status).toBe(403);
    expect((await put.json() as { error: string }).error).toBe('FORBIDDEN');
    const retry = await api('/outbox/nope/retry', user.accessToken, portal.memberId, { method: 'POST' });
    expect(retry.status).toBe(403);

    const adminRetry = await api('/outbox/nope/retry', admin.accessToken, portal.memberId, { method: 'POST' });
    expect(adminRetry.status).toBe(404);
  });

  it('refuses a missing token, a garbage token and another portal\'s token', async () => {
    expect((await fetch(`${server.url}/api/status`)).status).toBe(401);
    expect((await api('/status', 'garbage-token-123', portal.memberId)).status).toBe(401);
    const foreign = await emulator.frameToken(other.memberId, (await emulator.addUser(other.memberId, { name: 'X', lastName: 'Y', email: 'x@example.com' })).id);
    expect((await api('/status', foreign.accessToken, portal.memberId)).status).toBe(401);
    expect((await api('/status', foreign.accessToken, other.memberId)).status).toBe(200);
    expect((await api('/status', foreign.accessToken, 'no-such-portal')).status).toBe(401);
  });

  it('checks a frame token once and then trusts the cache', async () => {
    const user = await emulator.frameToken(portal.memberId, userId);
    await emulator.clearRequests();
    for (let i = 0; i < 5; i++) expect((await api('/status', user.accessToken, portal.memberId)).status).toBe(200);
    const profiles = await emulator.requests({ memberId: portal.memberId, method: 'profile' });
    expect(profiles).toHaveLength(1);
  });
});
