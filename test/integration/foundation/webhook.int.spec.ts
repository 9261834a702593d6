import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import type { RunningServer } from '../../../server/index.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import { freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

describe('a portal connected by inbound webhook instead of OAuth (emulator)', () => {
  let emulator: Bitrix24Emulator;
  let server: RunningServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let userId: number;

  beforeAll(async () => {
    emulator = await startBitrix24Emulator({ rateLimit: false });
    data = await tempDataDir();
    server = await startTestServer(testConfig(data.dir, await freePort()));
    portal = await emulator.createPortal();
    userId = (await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true })).id;
    const hook = await emulator.createWebhook(portal.memberId, userId);
    await server.services.store.portals.put({
      memberId: portal.memberId, domain: portal.domain, clientEndpoint: portal.clientEndpoint, serverEndpoint: portal.serverEndpoint,
      applicationToken: portal.applicationToken, accessToken: '', refreshToken: '', expiresAt: 0, webhookUrl: hook.url,
      scope: '', status: 'L', ratePlan: 'standard', lineNumber: 'pbx-1', installedAt: Date.now(), updatedAt: Date.now(), installed: true,
    });
  });

  afterAll(async () => {
    await server?.close();
    await emulator?.stop();
    await data?.remove();
  });

  it('calls REST at the webhook URL as given', async () => {
    const me = await server.services.clients.forPortal(portal.memberId).call<{ ID: unknown }>('profile');
    expect(Number(me.ID)).toBe(userId);
    const recorded = await emulator.requests({ memberId: portal.memberId, method: 'profile' });
    expect(recorded.at(-1)?.authKind).toBe('webhook');
  });

  it('surfaces WRONG_AUTH_TYPE for app-only telephony methods with a message an admin can act on', async () => {
    const err = await server.services.clients.forPortal(portal.memberId).call('telephony.externalCall.register', {
      USER_ID: userId, PHONE_NUMBER: '+15551234567', TYPE: 2, EXTERNAL_CALL_ID: 'x-1',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitrixError);
    expect((err as BitrixError).code).toBe('WRONG_AUTH_TYPE');
    expect((err as BitrixError).retryable).toBe(false);
    expect((err as BitrixError).message).toMatch(/inbound webhook/);
  });
});
