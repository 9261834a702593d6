/**
 * The harness starts the emulator as its own process; the core flow works through the URLs Bitrix24 would
 * send (client_endpoint, server_endpoint) and the control API records what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../../emulators/bitrix24/harness.js';
import { startFakeApp, type AppRequest, type FakeApp } from './helpers.js';

let emulator: Bitrix24Emulator;
let app: FakeApp;
let appUrl: string;
let received: AppRequest[];

beforeAll(async () => {
  emulator = await startBitrix24Emulator({ accessTokenTtlSec: 3600 });
  app = await startFakeApp();
  ({ url: appUrl, received } = app);
});

afterAll(async () => {
  await emulator.stop();
  await app.close();
});

async function rest(endpoint: string, method: string, params: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${endpoint}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Bitrix24 emulator through the harness', () => {
  it('installs, refreshes tokens, registers and finishes a call, records everything', async () => {
    const portal = await emulator.createPortal();
    const agent = await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Agent', innerPhone: '101' });
    const contactId = await emulator.seedCrm(portal.memberId, 'CONTACT', {
      NAME: 'Carl', LAST_NAME: 'Client', PHONE: [{ VALUE: '+49 30 1234-567', VALUE_TYPE: 'WORK' }],
    });

    const installed = await emulator.install(portal.memberId, { appUrl });
    expect(installed.installEvent?.status).toBe(200);
    expect(installed.installerPage.status).toBe(200);
    const installPost = received.find((r) => r.path.startsWith('/install?'));
    expect(installPost?.path).toContain(`DOMAIN=${encodeURIComponent(portal.domain)}`);
    const event = received.find((r) => r.path === '/b24/events');
    expect(event?.body.get('event')).toBe('ONAPPINSTALL');
    expect(event?.body.get('auth[application_token]')).toBe(installed.installEvent?.form['auth[application_token]']);
    const refreshToken = event?.body.get('auth[refresh_token]') ?? '';
    const accessToken = event?.body.get('auth[access_token]') ?? '';

    // The refresh goes to server_endpoint's host, with the app's credentials; the refresh token rotates.
    const tokenUrl = new URL('/oauth/token/', portal.serverEndpoint);
    const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: emulator.clientId, client_secret: emulator.clientSecret, refresh_token: refreshToken });
    const refreshed = await fetch(tokenUrl, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const tokens = (await refreshed.json()) as Record<string, unknown>;
    expect(refreshed.status).toBe(200);
    expect(tokens.member_id).toBe(portal.memberId);
    expect(tokens.client_endpoint).toBe(portal.clientEndpoint);
    const reused = await fetch(`${tokenUrl.toString()}?${form.toString()}`);
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as Record<string, unknown>).error).toBe('invalid_grant');
    expect(await emulator.refreshCount(portal.memberId)).toBe(1);
    expect(accessToken).not.toBe(tokens.access_token);

    const auth = String(tokens.access_token);
    const reg = await rest(portal.clientEndpoint, 'telephony.externalCall.register', {
      auth, USER_PHONE_INNER: '101', PHONE_NUMBER: '+49301234567', TYPE: 2, LINE_NUMBER: 'line-1', EXTERNAL_CALL_ID: 'pbx-1',
    });
    expect(reg.status).toBe(200);
    const regResult = reg.body.result as Record<string, unknown>;
    expect(regResult.CALL_ID).toMatch(/^externalCall\.[0-9a-f]{32}\.\d+$/);
    expect(regResult.CRM_ENTITY_TYPE).toBe('CONTACT');
    expect(regResult.CRM_ENTITY_ID).toBe(contactId);

    const fin = await rest(portal.clientEndpoint, 'telephony.externalCall.finish.json', {
      auth, CALL_ID: regResult.CALL_ID, USER_ID: agent.id, DURATION: 42, STATUS_CODE: '200',
    });
    expect(fin.status).toBe(200);
    const finResult = fin.body.result as Record<string, unknown>;
    expect(finResult.CALL_DURATION).toBe(42);
    expect(typeof finResult.CRM_ACTIVITY_ID).toBe('number');

    const calls = await emulator.calls(portal.memberId);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.finished?.params.DURATION).toBe(42);
    const recorded = await emulator.requests({ memberId: portal.memberId });
    expect(recorded.map((r) => r.method)).toEqual(['telephony.externalCall.register', 'telephony.externalCall.finish']);
    expect(JSON.stringify(recorded)).not.toContain(auth);

    const secrets = await emulator.issuedSecrets();
    expect(secrets.tokens).toEqual(expect.arrayContaining([auth, refreshToken, String(tokens.refresh_token)]));
    expect(secrets.applicationTokens).toContain(portal.applicationToken);
    expect(secrets.clientSecret).toBe(emulator.clientSecret);

    // The process side of the control API: the delivery log and settle().
    await emulator.settle();
    const deliveries = await emulator.deliveries({ memberId: portal.memberId, event: 'ONAPPINSTALL' });
    expect(deliveries.map((d) => [d.handler, d.status])).toEqual([[`${appUrl}/b24/events`, 200]]);
  });
});
