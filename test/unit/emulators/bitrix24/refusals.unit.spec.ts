/**
 * The emulator refuses what Bitrix24 refuses: unknown/expired tokens, app-only methods from a webhook,
 * the rate limit, oversized or nested batches, and the injected faults.
 * https://apidocs.bitrix24.com/_includes/system-errors.html, https://apidocs.bitrix24.com/limits.html
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { callRest, installedPortal, resultOf, startCloud, startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
});

afterAll(() => stopCloudAndApp(cloud, app));

describe('authentication', () => {
  it('answers 401 NO_AUTH_FOUND without a token, with an unknown one, and with another portal\'s', async () => {
    const { portal } = await installedPortal(cloud, app);
    const other = await installedPortal(cloud, app);
    for (const auth of [undefined, 'not-a-token', other.adminToken]) {
      const answer = await callRest(portal.clientEndpoint, 'user.current', auth === undefined ? {} : { auth });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('NO_AUTH_FOUND');
    }
  });

  it('answers 401 expired_token once the access token has expired', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    expect((await callRest(portal.clientEndpoint, 'user.current', { auth: adminToken })).status).toBe(200);
    expect(cloud.expireAccessTokens(portal.memberId)).toBeGreaterThan(0);
    const answer = await callRest(portal.clientEndpoint, 'user.current', { auth: adminToken });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('expired_token');
  });

  it('accepts auth in the query string and form bodies, and method names with .json and any case', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    const viaQuery = await fetch(`${portal.clientEndpoint}USER.CURRENT.json?auth=${adminToken}`);
    expect(viaQuery.status).toBe(200);
    const viaForm = await fetch(`${portal.clientEndpoint}profile`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ auth: adminToken }).toString(),
    });
    expect(((await viaForm.json()) as { result: { ADMIN: boolean } }).result.ADMIN).toBe(true);
  });

  it('refuses app-context methods from an inbound webhook with 403 WRONG_AUTH_TYPE, allows the others', async () => {
    const { portal } = await installedPortal(cloud, app);
    const hook = cloud.createWebhook(portal.memberId, 1);
    for (const method of ['telephony.externalCall.register', 'telephony.externalCall.finish', 'telephony.externalLine.add', 'telephony.externalLine.get', 'event.bind', 'placement.bind']) {
      const answer = await callRest(hook.url, method, { NUMBER: '1', event: 'ONEXTERNALCALLSTART', handler: `${app.url}/x` });
      expect(answer.status, method).toBe(403);
      expect(answer.body.error, method).toBe('WRONG_AUTH_TYPE');
    }
    const list = await callRest(hook.url, 'crm.contact.list', {});
    expect(list.status).toBe(200);
    const show = await callRest(hook.url, 'telephony.externalCall.show', { CALL_ID: 'externalCall.x.1' });
    expect(show.body.result).toBe(false);
    const wrongCode = await callRest(hook.url.replace(hook.code, 'bad'), 'crm.contact.list', {});
    expect(wrongCode.status).toBe(401);
    expect(wrongCode.body.error).toBe('NO_AUTH_FOUND');
  });

  it('answers 404 ERROR_METHOD_NOT_FOUND for an unknown method', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    const answer = await callRest(portal.clientEndpoint, 'crm.nothing.here', { auth: adminToken });
    expect(answer.status).toBe(404);
    expect(answer.body.error).toBe('ERROR_METHOD_NOT_FOUND');
  });
});

describe('OAuth server', () => {
  it('refuses wrong client credentials and a used refresh token, counts refreshes', async () => {
    const portal = await cloud.createPortal();
    await cloud.install(portal.memberId, { appUrl: app.url });
    const frame = cloud.frameToken(portal.memberId, 1);
    const tokenUrl = new URL('/oauth/token/', portal.serverEndpoint).toString();
    const bad = await fetch(`${tokenUrl}?${new URLSearchParams({ grant_type: 'refresh_token', client_id: cloud.state.config.clientId, client_secret: 'wrong', refresh_token: frame.refreshToken }).toString()}`);
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_client');
    const good = new URLSearchParams({ grant_type: 'refresh_token', client_id: cloud.state.config.clientId, client_secret: cloud.state.config.clientSecret, refresh_token: frame.refreshToken });
    const first = await fetch(`${tokenUrl}?${good.toString()}`);
    const body = (await first.json()) as Record<string, unknown>;
    expect(first.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      ['access_token', 'client_endpoint', 'domain', 'expires', 'expires_in', 'member_id', 'refresh_token', 'scope', 'server_endpoint', 'status', 'user_id'],
    );
    expect(body.expires_in).toBe(3600);
    const again = await fetch(`${tokenUrl}?${good.toString()}`);
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    expect(cloud.refreshCount(portal.memberId)).toBe(1);
    const answer = await callRest(portal.clientEndpoint, 'user.current', { auth: body.access_token });
    expect(answer.status).toBe(200);
  });

  it('revokes every token at uninstall and sends ONAPPUNINSTALL without tokens', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    const bind = await callRest(portal.clientEndpoint, 'event.bind', { auth: adminToken, event: 'ONAPPUNINSTALL', handler: `${app.url}/uninstalled` });
    expect(bind.body.result).toBe(true);
    const deliveries = await cloud.uninstall(portal.memberId, { clean: true });
    expect(deliveries).toHaveLength(1);
    const got = app.received.filter((r) => r.path === '/uninstalled').at(-1);
    expect(got?.body.get('event')).toBe('ONAPPUNINSTALL');
    expect(got?.body.get('data[CLEAN]')).toBe('1');
    expect(got?.body.get('auth[application_token]')).toBe(portal.applicationToken);
    expect(got?.body.get('auth[access_token]')).toBeNull();
    expect((await callRest(portal.clientEndpoint, 'user.current', { auth: adminToken })).body.error).toBe('NO_AUTH_FOUND');
  });
});

describe('rate limit', () => {
  it('lets a burst of 50 through, refuses the 51st with 503 QUERY_LIMIT_EXCEEDED, counts a batch as one', async () => {
    // A near-zero drain keeps the test exact however slow the machine is; the default drain is tested below.
    const limited = await startCloud({ rateLimit: true, drainRate: 0.001 });
    try {
      const { portal, adminToken } = await installedPortal(limited, app);
      const cmd = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`u${i}`, 'user.current']));
      const batch = await callRest(portal.clientEndpoint, 'batch', { auth: adminToken, cmd });
      expect(batch.status).toBe(200);
      const answers = await Promise.all(Array.from({ length: 49 }, () => callRest(portal.clientEndpoint, 'profile', { auth: adminToken })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const over = await callRest(portal.clientEndpoint, 'profile', { auth: adminToken });
      expect(over.status).toBe(503);
      expect(over.body.error).toBe('QUERY_LIMIT_EXCEEDED');
      const recorded = limited.requests({ memberId: portal.memberId }).filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED');
      expect(recorded).toHaveLength(1);
    } finally {
      await limited.stop();
    }
  });

  it('drains at the configured rate', async () => {
    const limited = await startCloud({ rateLimit: true, burst: 2, drainRate: 20 });
    try {
      const { portal, adminToken } = await installedPortal(limited, app);
      await callRest(portal.clientEndpoint, 'profile', { auth: adminToken });
      await callRest(portal.clientEndpoint, 'profile', { auth: adminToken });
      expect((await callRest(portal.clientEndpoint, 'profile', { auth: adminToken })).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect((await callRest(portal.clientEndpoint, 'profile', { auth: adminToken })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

describe('batch', () => {
  it('refuses more than 50 commands with ERROR_BATCH_LENGTH_EXCEEDED', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    const cmd = Array.from({ length: 51 }, () => 'profile');
    const answer = await callRest(portal.clientEndpoint, 'batch', { auth: adminToken, cmd });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('ERROR_BATCH_LENGTH_EXCEEDED');
  });

  it('resolves $result references, reports nested batch per command, halts on error', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    const contactId = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Ref', COMPANY_ID: '0', PHONE: [{ VALUE: '+1 (555) 010-2030', VALUE_TYPE: 'WORK' }] });
    const answer = await callRest(portal.clientEndpoint, 'batch', {
      auth: adminToken,
      halt: 0,
      cmd: {
        find: `crm.duplicate.findbycomm?${new URLSearchParams({ entity_type: 'CONTACT', type: 'PHONE', 'values[0]': '15550102030' }).toString()}`,
        get: 'crm.contact.get?id=$result[find][CONTACT][0]',
        nested: 'batch?cmd[0]=profile',
        me: 'user.current',
      },
    });
    expect(answer.status).toBe(200);
    const result = resultOf(answer);
    const results = result.result as Record<string, Record<string, unknown>>;
    expect(results.get?.ID).toBe(String(contactId));
    expect(results.me?.ID).toBe('1');
    expect((result.result_error as Record<string, { error: string }>).nested?.error).toBe('ERROR_BATCH_METHOD_NOT_ALLOWED');
    expect(Object.keys(result.result_time as object)).toEqual(['find', 'get', 'me']);
    const recorded = cloud.requests({ memberId: portal.memberId }).filter((r) => r.viaBatch);
    expect(recorded.map((r) => r.method)).toEqual(['crm.duplicate.findbycomm', 'crm.contact.get', 'batch', 'user.current']);

    const halted = await callRest(portal.clientEndpoint, 'batch', { auth: adminToken, halt: 1, cmd: ['crm.contact.get?id=999999', 'profile'] });
    const haltedResult = resultOf(halted);
    expect(haltedResult.result).toEqual([]);
    expect((haltedResult.result_error as unknown[])[0]).toEqual({ error: '', error_description: 'Not found' });
  });
});

describe('faults', () => {
  it('serves each fault kind, per portal or for all, and lifts a timed fault', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    cloud.setFault(portal.memberId, { kind: 'query_limit' });
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: adminToken })).body.error).toBe('QUERY_LIMIT_EXCEEDED');
    cloud.setFault(portal.memberId, { kind: 'operation_time_limit' });
    const slow = await callRest(portal.clientEndpoint, 'profile', { auth: adminToken });
    expect([slow.status, slow.body.error]).toEqual([429, 'OPERATION_TIME_LIMIT']);
    cloud.setFault(portal.memberId, { kind: 'http503' });
    const down = await callRest(portal.clientEndpoint, 'profile', { auth: adminToken });
    expect(down.status).toBe(503);
    expect(down.body.raw).toContain('503');
    cloud.setFault(portal.memberId, null);
    cloud.setFault('*', { kind: 'network_down' });
    await expect(fetch(`${portal.clientEndpoint}profile?auth=${adminToken}`)).rejects.toThrow();
    cloud.setFault('*', null);
    cloud.setFault(portal.memberId, { kind: 'expire_all_tokens', forMs: 80 });
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: adminToken })).body.error).toBe('expired_token');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: adminToken })).status).toBe(200);
  });

  it('makes the refresh fail with invalid_grant', async () => {
    const { portal } = await installedPortal(cloud, app);
    const frame = cloud.frameToken(portal.memberId, 1);
    cloud.setFault(portal.memberId, { kind: 'invalid_grant' });
    const params = new URLSearchParams({ grant_type: 'refresh_token', client_id: cloud.state.config.clientId, client_secret: cloud.state.config.clientSecret, refresh_token: frame.refreshToken });
    const answer = await fetch(new URL('/oauth/token/', portal.serverEndpoint), { method: 'POST', body: params });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: string }).error).toBe('invalid_grant');
  });
});

describe('scopes', () => {
  it('answers 403 insufficient_scope for a method outside the app\'s or the webhook\'s scopes', async () => {
    const scoped = await startCloud({ rateLimit: false, appScopes: ['crm', 'telephony', 'user_basic', 'placement'] });
    try {
      const { portal, adminToken } = await installedPortal(scoped, app);
      const notify = await callRest(portal.clientEndpoint, 'im.notify.system.add', { auth: adminToken, USER_ID: 1, MESSAGE: 'x' });
      expect([notify.status, notify.body.error]).toEqual([403, 'insufficient_scope']);
      expect((await callRest(portal.clientEndpoint, 'user.get', { auth: adminToken })).status).toBe(200);
      const hook = scoped.createWebhook(portal.memberId, 1, ['crm']);
      expect((await callRest(hook.url, 'telephony.externalCall.show', { CALL_ID: 'x' })).body.error).toBe('insufficient_scope');
      expect((await callRest(hook.url, 'crm.contact.list', {})).status).toBe(200);
      const batch = resultOf(await callRest(portal.clientEndpoint, 'batch', { auth: adminToken, cmd: { n: 'im.notify.system.add?USER_ID=1&MESSAGE=x' } }));
      expect((batch.result_error as Record<string, { error: string }>).n?.error).toBe('insufficient_scope');
    } finally {
      await scoped.stop();
    }
  });

  it('user.get gives EMAIL with user_basic (and user) but not with user_brief alone; UF_PHONE_INNER with all three', async () => {
    // Why the app asks for user_basic: auto-bind matches by e-mail (issue 11).
    const { portal } = await installedPortal(cloud, app);
    const read = async (scopes: string[]) => {
      const hook = cloud.createWebhook(portal.memberId, 1, scopes);
      const rows = (await callRest(hook.url, 'user.get', {})).body.result as Record<string, unknown>[];
      return rows[0] ?? {};
    };
    expect(Object.keys(await read(['user_basic']))).toEqual(expect.arrayContaining(['EMAIL', 'UF_PHONE_INNER']));
    expect(Object.keys(await read(['user']))).toContain('EMAIL');
    const brief = await read(['user_brief']);
    expect(Object.keys(brief)).toContain('UF_PHONE_INNER');
    expect(Object.keys(brief)).not.toContain('EMAIL');
  });
});
