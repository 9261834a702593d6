import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Portal } from '../../../server/store/records.js';
import { EMPTY_REPORT, expectEachLoggedOnce } from '../../support/calls.js';
import { startFakePortal, type FakePortal } from '../../support/fake-portal.js';
import { postInstallEvent, postInstaller } from '../../support/install-requests.js';
import { findLeaks, issuedSecrets } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';

/**
 * Attack (issue 10 point 1): take a tenant over by "re-installing" the app for its member_id. Before the fix a
 * re-install of a known member_id was accepted with the portal's old application token alone, or with any user's
 * token, and stored the new DOMAIN / client_endpoint on the request's word; the attacker's fake portal then answered
 * `profile` with ADMIN: true for any bearer and the server sent the tenant's calls there.
 *
 * What the customer cares about: every such re-install is refused; the tenant's stored record (portals.json) does not
 * change by a byte; the fake portal never hears from us (so none of our secrets reach it); the tenant's admin keeps
 * using the app and its calls keep being logged on its real portal. The real admin's own re-install still works, and
 * a verdict "admin" cached before it is asked again after it.
 */
describe('tenancy: a re-install cannot take a portal over', () => {
  let stack: Stack;
  let victim: Tenant;
  /** A real tenant of ours whose admin is the attacker (valid tokens of our app, for another portal). */
  let attacker: Tenant;
  let fake: FakePortal;

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    victim = await stack.addTenant();
    attacker = await stack.addTenant({ pbx: 'none' });
    fake = await startFakePortal();
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    const secrets = await issuedSecrets(stack.b24, [stack.pbx], { 'B24 client secret (config)': stack.config.b24ClientSecret });
    const leaks = findLeaks(secrets, [
      { source: 'fake portal', text: JSON.stringify(fake.requests) },
      { source: 'server log', text: await stack.logs() },
    ]);
    await fake.close();
    await stack.close();
    expect(leaks).toEqual([]);
  });

  const record = (): Portal | undefined => stack.server().services.store.portals.get(victim.memberId);
  const portalsFile = () => readFile(join(stack.dataDir, 'portals.json'));

  async function unchanged<T>(attack: () => Promise<T>): Promise<T> {
    const before = { record: structuredClone(record()), file: await portalsFile() };
    const result = await attack();
    expect(record()).toEqual(before.record);
    expect((await portalsFile()).equals(before.file)).toBe(true);
    return result;
  }

  it('(i) refuses a re-install naming a fake DOMAIN with the old application token and garbage or foreign tokens: 401, nothing changed, the fake portal never called', async () => {
    const oldAppToken = victim.info.applicationToken;
    const attackersOwn = await stack.b24.frameToken(attacker.memberId, attacker.adminId);
    const attempts: (() => Promise<Response>)[] = [
      // The old application token with made-up tokens, pointing the tenant at the fake portal.
      () => postInstaller(stack.url(), {
        AUTH_ID: 'garbage-access-token-1', REFRESH_ID: 'garbage-refresh-token-1', member_id: victim.memberId, APPLICATION_TOKEN: oldAppToken,
      }, { DOMAIN: fake.domain }),
      // The same on the tenant's real address: the application token alone proves nothing either.
      () => postInstaller(stack.url(), {
        AUTH_ID: 'garbage-access-token-2', REFRESH_ID: 'garbage-refresh-token-2', member_id: victim.memberId, APPLICATION_TOKEN: oldAppToken,
      }, { DOMAIN: victim.info.domain }),
      // Real tokens of our app, but issued on the attacker's own portal: the OAuth server names another member_id.
      () => postInstaller(stack.url(), {
        AUTH_ID: attackersOwn.accessToken, REFRESH_ID: attackersOwn.refreshToken, member_id: victim.memberId, APPLICATION_TOKEN: oldAppToken,
      }, { DOMAIN: fake.domain }),
      () => postInstallEvent(stack.url(), {
        access_token: 'garbage-access-token-3', refresh_token: 'garbage-refresh-token-3', member_id: victim.memberId,
        application_token: oldAppToken, domain: fake.domain, client_endpoint: fake.clientEndpoint,
      }),
    ];
    for (const attempt of attempts) {
      const res = await unchanged(attempt);
      expect(res.status, await res.text()).toBe(401);
    }
    // No request at all reached the fake portal: none can have carried a token, the client secret or a call.
    expect(fake.requests).toEqual([]);
    expect(record()?.clientEndpoint).toBe(victim.info.clientEndpoint);

    // The tenant's admin keeps working, and its calls are still logged on its real portal.
    expect((await stack.api(victim, 'admin', 'GET', '/status')).status).toBe(200);
    const { callId } = await stack.pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 3, record: true, wait: true });
    expect(await expectEachLoggedOnce(stack.b24, victim.memberId, [callId], 30_000)).toEqual(EMPTY_REPORT);
    expect(fake.requests).toEqual([]);
    expect(await stack.logs()).toMatch(/install refused: the OAuth server/);
  }, 60_000);

  it('(ii) refuses a re-install by a plain employee of the real portal with their own valid token: 403, nothing changed', async () => {
    // The agent's token is genuine: the OAuth server confirms it for this very member_id, domain and app. Only the
    // admin check (profile ADMIN with the installing token) stops it.
    for (const door of ['installer', 'event'] as const) {
      const mine = await stack.b24.frameToken(victim.memberId, victim.agentId);
      const res = await unchanged(() => door === 'installer'
        ? postInstaller(stack.url(), {
          AUTH_ID: mine.accessToken, REFRESH_ID: mine.refreshToken, member_id: victim.memberId, APPLICATION_TOKEN: 'employee-chosen-app-token',
        }, { DOMAIN: victim.info.domain })
        : postInstallEvent(stack.url(), {
          access_token: mine.accessToken, refresh_token: mine.refreshToken, member_id: victim.memberId, application_token: 'employee-chosen-app-token',
          domain: victim.info.domain, client_endpoint: victim.info.clientEndpoint,
        }));
      expect(res.status, `${door}: ${await res.text()}`).toBe(403);
    }
    expect(record()?.applicationToken).toBe(victim.info.applicationToken);
    expect(await stack.logs()).toMatch(/install refused: the installing user is not a portal administrator/);
  });

  it('(iv) refuses ONAPPINSTALL with the old application token and a new client_endpoint, even with the real admin\'s valid token: 401', async () => {
    const admins = await stack.b24.frameToken(victim.memberId, victim.adminId);
    for (const accessToken of ['garbage-access-token-4', admins.accessToken]) {
      const res = await unchanged(() => postInstallEvent(stack.url(), {
        access_token: accessToken, refresh_token: 'r-0123456789', member_id: victim.memberId,
        application_token: victim.info.applicationToken, domain: victim.info.domain, client_endpoint: fake.clientEndpoint,
      }));
      expect(res.status, await res.text()).toBe(401);
    }
    expect(fake.requests).toEqual([]);
  });

  it('(iii) admits the real admin\'s re-install, and a verdict cached before it is checked again after it', async () => {
    // The admin's frame token is cached (checked once); a second read costs no request.
    const profileChecks = async () => (await stack.b24.requests({ memberId: victim.memberId, method: 'profile' }))
      .filter((r) => r.userId === victim.adminId && r.authKind === 'frame').length;
    expect((await stack.api(victim, 'admin', 'GET', '/status')).status).toBe(200);
    const cached = await profileChecks();
    expect((await stack.api(victim, 'admin', 'GET', '/status')).status).toBe(200);
    expect(await profileChecks()).toBe(cached);

    const installedAt = record()?.updatedAt ?? 0;
    const again = await stack.b24.install(victim.memberId, { appUrl: stack.url() });
    expect(again.installerPage.status).toBe(200);
    expect(again.installEvent?.status).toBe(200);
    await eventually(() => (record()?.updatedAt ?? 0) > installedAt && record()?.installed === true);
    expect(record()?.clientEndpoint).toBe(victim.info.clientEndpoint);

    expect((await stack.api(victim, 'admin', 'GET', '/status')).status).toBe(200);
    expect(await profileChecks()).toBe(cached + 1);
    // Still a working tenant after its re-install.
    const { callId } = await stack.pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 3, record: true, wait: true });
    expect(await expectEachLoggedOnce(stack.b24, victim.memberId, [callId], 30_000)).toEqual(EMPTY_REPORT);
  }, 60_000);
});
