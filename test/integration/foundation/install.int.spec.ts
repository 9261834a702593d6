import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import type { RunningServer } from '../../../server/index.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';
import { BOUND_EVENTS } from '../../../server/portals/setup.js';

describe('install into a Bitrix24 portal (emulator)', () => {
  let emulator: Bitrix24Emulator;
  let server: RunningServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let appUrl: string;

  beforeAll(async () => {
    emulator = await startBitrix24Emulator();
    data = await tempDataDir();
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer(testConfig(data.dir, port));
    portal = await emulator.createPortal();
    await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true });
  });

  afterAll(async () => {
    await server?.close();
    await emulator?.stop();
    await data?.remove();
  });

  it('binds the call events, the uninstall event, the placements and the external line, then serves install.html', async () => {
    const result = await emulator.install(portal.memberId, { appUrl });
    expect(result.installerPage.status).toBe(200);
    expect(result.installerPage.body).toContain('<div id="install">');

    const bound = await emulator.bindings(portal.memberId);
    const events = bound.events.map((e) => `${e.event} ${e.handler}`).sort();
    // Issue 11: the CRM update/delete events of contacts, leads and companies keep synced phonebook entries true.
    expect(events).toEqual([
      `ONAPPUNINSTALL ${appUrl}/b24/events`,
      `ONCRMCOMPANYDELETE ${appUrl}/b24/events`,
      `ONCRMCOMPANYUPDATE ${appUrl}/b24/events`,
      `ONCRMCONTACTDELETE ${appUrl}/b24/events`,
      `ONCRMCONTACTUPDATE ${appUrl}/b24/events`,
      `ONCRMLEADDELETE ${appUrl}/b24/events`,
      `ONCRMLEADUPDATE ${appUrl}/b24/events`,
      `ONEXTERNALCALLBACKSTART ${appUrl}/b24/events`,
      `ONEXTERNALCALLSTART ${appUrl}/b24/events`,
    ]);
    const placements = bound.placements.map((p) => `${p.placement} ${p.handler}`).sort();
    expect(placements).toEqual([
      `CALL_CARD ${appUrl}/placement/call-card`,
      `CRM_COMPANY_DETAIL_TAB ${appUrl}/placement/crm-tab`,
      `CRM_CONTACT_DETAIL_TAB ${appUrl}/placement/crm-tab`,
      `CRM_DEAL_DETAIL_TAB ${appUrl}/placement/crm-tab`,
      `CRM_LEAD_DETAIL_TAB ${appUrl}/placement/crm-tab`,
    ]);
    expect(bound.lines.map((l) => l.NUMBER)).toEqual(['pbx-1']);

    const stored = server.services.store.portals.get(portal.memberId);
    expect(stored?.installed).toBe(true);
    expect(stored?.applicationToken).toBe(portal.applicationToken);
    expect(stored?.clientEndpoint).toBe(portal.clientEndpoint);
    expect(stored?.serverEndpoint).toBe(portal.serverEndpoint);
  });

  it('is idempotent: a second install binds nothing twice and answers 200', async () => {
    await emulator.clearRequests();
    const again = await emulator.install(portal.memberId, { appUrl });
    expect(again.installerPage.status).toBe(200);
    const bound = await emulator.bindings(portal.memberId);
    expect(bound.events).toHaveLength(BOUND_EVENTS.length);
    expect(bound.placements).toHaveLength(5);
    expect(bound.lines).toHaveLength(1);
    // The re-install only reads (one batch); ONAPPINSTALL may run the same read once more.
    await eventually(async () => (await emulator.requests({ memberId: portal.memberId, method: 'batch' })).length >= 1);
    const binds = (await emulator.requests({ memberId: portal.memberId })).filter((r) => r.method === 'event.bind' || r.method === 'placement.bind');
    expect(binds).toHaveLength(0);
  });

  it('refuses an install POST that would take over a known portal, and keeps its tokens', async () => {
    const before = server.services.store.portals.get(portal.memberId);
    const form = new URLSearchParams({
      AUTH_ID: 'attacker-access', REFRESH_ID: 'attacker-refresh', AUTH_EXPIRES: '3600', member_id: portal.memberId,
      APPLICATION_TOKEN: 'attacker-app-token', SERVER_ENDPOINT: 'http://127.0.0.1:9/rest/', status: 'L', PLACEMENT: 'DEFAULT',
    });
    const res = await fetch(`${server.url}/install?DOMAIN=127.0.0.1:9&PROTOCOL=0&LANG=en&APP_SID=x`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(),
    });
    expect(res.status).toBe(401);
    const after = server.services.store.portals.get(portal.memberId);
    expect(after?.refreshToken).toBe(before?.refreshToken);
    expect(after?.clientEndpoint).toBe(portal.clientEndpoint);
    expect(after?.applicationToken).toBe(portal.applicationToken);
  });

  it('refuses an installer POST without the Bitrix24 fields', async () => {
    const res = await fetch(`${server.url}/install?DOMAIN=x.bitrix24.com&PROTOCOL=1`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'member_id=abc',
    });
    expect(res.status).toBe(400);
    const body = await res.json() as { error: string; message: string };
    expect(body.error).toBe('BAD_REQUEST');
    expect(body.message).toMatch(/AUTH_ID/);
  });

  it('uninstall removes the tokens (CLEAN=0) and keeps the portal; a forged one first changes nothing', async () => {
    const forged = await emulator.sendEvent(portal.memberId, 'ONAPPUNINSTALL', { CLEAN: 0 }, { forgeToken: true });
    expect(forged.every((d) => d.status === 401)).toBe(true);
    expect(server.services.store.portals.get(portal.memberId)?.refreshToken).not.toBe('');

    await emulator.uninstall(portal.memberId, { clean: false });
    await eventually(() => server.services.store.portals.get(portal.memberId)?.uninstalledAt !== undefined);
    const stored = server.services.store.portals.get(portal.memberId);
    expect(stored?.accessToken).toBe('');
    expect(stored?.refreshToken).toBe('');
    expect(stored?.installed).toBe(false);
  });

  it('installs again after an uninstall, and CLEAN=1 then removes all of the portal\'s data', async () => {
    const again = await emulator.install(portal.memberId, { appUrl });
    expect(again.installerPage.status).toBe(200);
    await eventually(() => server.services.store.portals.get(portal.memberId)?.installed === true);
    const back = server.services.store.portals.get(portal.memberId);
    expect(back?.uninstalledAt).toBeUndefined();
    expect(back?.refreshToken).not.toBe('');
    const me = await server.services.clients.forPortal(portal.memberId).call<{ ID: unknown }>('profile');
    expect(Number(me.ID)).toBeGreaterThan(0);

    await server.services.outbox.enqueue([{ portal: portal.memberId, group: 'g', method: 'profile', params: {}, key: 'clean-me' }]);
    await server.services.outbox.idle(portal.memberId, 10_000);
    await emulator.uninstall(portal.memberId, { clean: true });
    await eventually(() => server.services.store.portals.get(portal.memberId) === undefined);
    expect(server.services.store.outbox.getByKey(portal.memberId, 'clean-me')).toBeUndefined();
  });
});
