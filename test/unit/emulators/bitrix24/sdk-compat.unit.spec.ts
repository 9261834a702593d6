/**
 * The official SDK (@bitrix24/b24jssdk B24OAuth) works against the emulator unchanged: its URL shape
 * (`<client_endpoint>/<method>` with telemetry query params), JSON body with `auth`, batch command strings,
 * and its single-flight refresh on 401 expired_token through `<server_endpoint host>/oauth/token/`.
 */
import { B24OAuth } from '@bitrix24/b24jssdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp({ rateLimit: true }));
});

afterAll(() => stopCloudAndApp(cloud, app));

async function sdkForInstalledPortal() {
  const portal = await cloud.createPortal();
  const install = await cloud.install(portal.memberId, { appUrl: app.url });
  cloud.finishInstall(portal.memberId);
  const form = install.installEvent?.form ?? {};
  const b24 = new B24OAuth(
    {
      applicationToken: form['auth[application_token]'] ?? '',
      userId: Number(form['auth[user_id]']),
      memberId: form['auth[member_id]'] ?? '',
      accessToken: form['auth[access_token]'] ?? '',
      refreshToken: form['auth[refresh_token]'] ?? '',
      expires: Number(form['auth[expires]']),
      expiresIn: Number(form['auth[expires_in]']),
      scope: form['auth[scope]'] ?? '',
      domain: form['auth[domain]'] ?? '',
      clientEndpoint: form['auth[client_endpoint]'] ?? '',
      serverEndpoint: form['auth[server_endpoint]'] ?? '',
      status: 'L',
    } as ConstructorParameters<typeof B24OAuth>[0],
    { clientId: cloud.state.config.clientId, clientSecret: cloud.state.config.clientSecret },
  );
  return { portal, b24 };
}

describe('@bitrix24/b24jssdk against the emulator', () => {
  it('calls methods and batches with $result references', async () => {
    const { portal, b24 } = await sdkForInstalledPortal();
    const contactId = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Sdk', PHONE: [{ VALUE: '+1 555 300 4000' }] });
    const me = await b24.actions.v2.call.make<{ ID: string }>({ method: 'user.current', params: {}, requestId: 'r1' });
    expect(me.isSuccess).toBe(true);
    expect(me.getData()?.result.ID).toBe('1');

    const batch = await b24.actions.v2.batch.make({
      calls: {
        find: { method: 'crm.duplicate.findbycomm', params: { entity_type: 'CONTACT', type: 'PHONE', values: ['+15553004000'] } },
        get: { method: 'crm.contact.get', params: { id: '$result[find][CONTACT][0]' } },
      },
      options: { isHaltOnError: true, requestId: 'r2' },
    });
    expect(batch.isSuccess).toBe(true);
    const recorded = cloud.requests({ memberId: portal.memberId, method: 'crm.contact.get' });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.viaBatch).toBe(true);
    expect(recorded[0]?.params).toEqual({ id: String(contactId) });
    expect(JSON.stringify(batch.getData())).toContain('"NAME":"Sdk"');
  });

  // The SDK coalesces only refreshes in flight at the same moment; a 401 arriving after one settled starts
  // another. The emulator counts exactly what reached the OAuth server, so the count matches the SDK's callbacks.
  it('recovers from expired_token by refreshing through server_endpoint, every refresh counted and rotated', async () => {
    const { portal, b24 } = await sdkForInstalledPortal();
    const stored: string[] = [];
    b24.setCallbackRefreshAuth(async ({ authData }) => {
      stored.push(authData.refresh_token);
    });
    cloud.expireAccessTokens(portal.memberId);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => b24.actions.v2.call.make({ method: 'profile', params: {}, requestId: `p${i}` })),
    );
    expect(results.every((r) => r.isSuccess)).toBe(true);
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(cloud.refreshCount(portal.memberId)).toBe(stored.length);
    expect(new Set(stored).size).toBe(stored.length);
    const expired = cloud.requests({ memberId: portal.memberId, method: 'profile' }).filter((r) => r.error === 'expired_token');
    expect(expired.length).toBeGreaterThanOrEqual(1);
  });
});
