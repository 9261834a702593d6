import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import type { RunningServer } from '../../../server/index.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import { createBitrixClients } from '../../../server/bitrix/client.js';
import { createLogger } from '../../../server/log.js';
import type { Config } from '../../../server/config.js';
import type { StatusResponse } from '../../../contract/api-shapes.js';
import { freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

describe('Bitrix24 tokens: single-flight refresh, rotation persisted, needs-reinstall (emulator)', () => {
  let emulator: Bitrix24Emulator;
  let server: RunningServer;
  let config: Config;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let adminId: number;

  beforeAll(async () => {
    emulator = await startBitrix24Emulator({ rateLimit: false });
    data = await tempDataDir();
    const port = await freePort();
    config = testConfig(data.dir, port);
    server = await startTestServer(config);
    portal = await emulator.createPortal();
    adminId = (await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true })).id;
    await emulator.install(portal.memberId, { appUrl: `http://127.0.0.1:${port}` });
  });

  afterAll(async () => {
    await server?.close();
    await emulator?.stop();
    await data?.remove();
  });

  it('refreshes an expired token ONCE for 25 concurrent calls, and the rotated refresh token survives a restart', async () => {
    const before = await emulator.refreshCount(portal.memberId);
    const oldRefresh = server.services.store.portals.get(portal.memberId)?.refreshToken;
    await emulator.expireAccessTokens(portal.memberId);

    const client = server.services.clients.forPortal(portal.memberId);
    const answers = await Promise.all(Array.from({ length: 25 }, () => client.call<{ ID: unknown }>('profile')));
    expect(answers.every((a) => Number(a.ID) > 0)).toBe(true);
    expect(await emulator.refreshCount(portal.memberId)).toBe(before + 1);

    const rotated = server.services.store.portals.get(portal.memberId)?.refreshToken;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(oldRefresh);

    // Restart over the same DATA_DIR: the persisted (rotated) refresh token must still work.
    await server.close();
    server = await startTestServer(config);
    await emulator.expireAccessTokens(portal.memberId);
    const after = await server.services.clients.forPortal(portal.memberId).call<{ ID: unknown }>('profile');
    expect(Number(after.ID)).toBeGreaterThan(0);
    expect(await emulator.refreshCount(portal.memberId)).toBe(before + 2);
  });

  it('a 401 arriving after the refresh, for a request sent with the old token, is retried without a second refresh', async () => {
    const client = server.services.clients.forPortal(portal.memberId);
    await client.call('profile');
    const before = await emulator.refreshCount(portal.memberId);
    await emulator.expireAccessTokens(portal.memberId);
    await emulator.clearRequests();
    // Bitrix24 answers 400 ms late: the second request leaves with the expired token while the first one's refusal
    // is on its way, and its own refusal arrives once that refresh is done.
    await emulator.setFault(portal.memberId, { kind: 'slow', delayMs: 400, forMs: 1_500 });
    const first = client.call<{ ID: unknown }>('profile');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = client.call<{ ID: unknown }>('profile');
    const answers = await Promise.all([first, second]);
    expect(answers.every((a) => Number(a.ID) > 0)).toBe(true);
    const profiles = await emulator.requests({ memberId: portal.memberId, method: 'profile' });
    expect(profiles.map((r) => r.error)).toEqual(['expired_token', 'expired_token', null, null]);
    expect(await emulator.refreshCount(portal.memberId)).toBe(before + 1);
    expect(server.services.store.portals.get(portal.memberId)?.needsReinstall).toBeUndefined();
  });

  it('persists the rotated refresh token before the new access token is used', async () => {
    const store = server.services.store;
    const events: string[] = [];
    // The same store, with its durable write slowed down and observed.
    const observed = {
      ...store,
      portals: {
        ...store.portals,
        get: (id: string) => store.portals.get(id),
        list: () => store.portals.list(),
        update: async (id: string, patch: Parameters<typeof store.portals.update>[1]) => {
          if (patch.refreshToken) {
            events.push('persist-start');
            await new Promise((r) => setTimeout(r, 150));
          }
          const done = await store.portals.update(id, patch);
          if (patch.refreshToken) events.push('persisted');
          return done;
        },
      },
    };
    const clients = createBitrixClients({ store: observed, config, log: createLogger('silent') });
    await emulator.expireAccessTokens(portal.memberId);
    await emulator.clearRequests();
    const answer = clients.forPortal(portal.memberId).call<{ ID: unknown }>('profile').then((a) => { events.push('answered'); return a; });
    await answer;
    expect(events).toEqual(['persist-start', 'persisted', 'answered']);
    const profiles = await emulator.requests({ memberId: portal.memberId, method: 'profile' });
    // One refused with expired_token, then one with the new token — sent after the write resolved.
    expect(profiles.map((r) => r.error)).toEqual(['expired_token', null]);
  });

  it('batch runs many commands in one request, with per-key results and errors', async () => {
    const client = server.services.clients.forPortal(portal.memberId);
    // The previous test rotated the tokens through another client instance: this one refreshes from the store first.
    await client.call('profile');
    const sentBefore = server.services.clients.requestCount(portal.memberId);
    const answer = await client.batch([
      { key: 'me', method: 'profile', params: {} },
      { key: 'lines', method: 'telephony.externalLine.get', params: {} },
      { key: 'bad', method: 'telephony.externalCall.finish', params: { CALL_ID: 'externalCall.none.1', USER_ID: 1 } },
      { key: 'lead', method: 'crm.lead.add', params: { fields: { TITLE: 'Batch +1 (555) & co', PHONE: [{ VALUE: '+15550001111', VALUE_TYPE: 'WORK' }] } } },
    ]);
    expect(server.services.clients.requestCount(portal.memberId) - sentBefore).toBe(1);
    expect(Number((answer.results.me as { ID: unknown }).ID)).toBeGreaterThan(0);
    expect(Array.isArray(answer.results.lines)).toBe(true);
    expect(answer.errors.bad?.description).toMatch(/not found/i);
    const leadId = Number(answer.results.lead);
    const lead = await emulator.getCrm(portal.memberId, 'LEAD', leadId);
    expect(lead?.TITLE).toBe('Batch +1 (555) & co');
  });

  it('list() walks every page', async () => {
    for (let i = 0; i < 60; i++) {
      await emulator.addUser(portal.memberId, { name: `U${i}`, lastName: 'Paged', email: `u${i}@example.com` });
    }
    const users = await server.services.clients.forPortal(portal.memberId).list<{ ID: string }>('user.get', {});
    expect(users.length).toBeGreaterThanOrEqual(61);
    expect(new Set(users.map((u) => u.ID)).size).toBe(users.length);
  });

  it('invalid_grant marks the portal needsReinstall, and later calls fail fast without another refresh', async () => {
    await emulator.setFault(portal.memberId, { kind: 'invalid_grant' });
    await emulator.expireAccessTokens(portal.memberId);
    const client = server.services.clients.forPortal(portal.memberId);
    const first = await client.call('profile').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(BitrixError);
    expect((first as BitrixError).code).toBe('PORTAL_NEEDS_REINSTALL');
    expect((first as BitrixError).retryable).toBe(false);
    const marked = server.services.store.portals.get(portal.memberId)?.needsReinstall;
    expect(marked?.reason).toBe('invalid_grant');

    const refreshes = await emulator.refreshCount(portal.memberId);
    const sent = server.services.clients.requestCount(portal.memberId);
    const again = await client.call('profile').catch((e: unknown) => e);
    expect((again as BitrixError).code).toBe('PORTAL_NEEDS_REINSTALL');
    expect(server.services.clients.requestCount(portal.memberId)).toBe(sent);
    expect(await emulator.refreshCount(portal.memberId)).toBe(refreshes);

    // Visible to the admin on the settings page.
    const admin = await emulator.frameToken(portal.memberId, adminId);
    const res = await fetch(`${server.url}/api/status`, { headers: { authorization: `Bearer ${admin.accessToken}`, 'x-member-id': portal.memberId } });
    expect(res.status).toBe(200);
    const status = await res.json() as StatusResponse;
    expect(status.portal.needsReinstall).toMatchObject({ reason: 'invalid_grant' });
    expect(status.portal.notice).toMatch(/reinstall/);
    await emulator.setFault(portal.memberId, null);
  });
});
