import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../foundation/server-under-test.js';
import { startCanary, type Canary } from '../../support/hostile-upstream.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 10, point 3: redirects. The attack: a portal (the Bitrix24 emulator's `redirect` switch: every REST call
 * answered 307 to another host) or the OAuth token endpoint (`oauth_redirect`: 302) points the app elsewhere. A
 * client that follows re-sends the request there: for REST the `auth` token in the body (307 keeps the body), for
 * the refresh our client_secret and the portal's refresh token. The canary stands for the attacker's host.
 *
 * What the customer cares about: the canary receives nothing (no connection, so no auth and no body), the Bitrix24
 * write is not lost (it stays in the outbox with the reason, and goes out once the portal answers normally), no
 * re-install is demanded for it, and the operator reads in the log that a redirect was refused.
 */

describe('tenancy: no outbound client follows a redirect to another host', () => {
  let stack: Stack;
  let tenant: Tenant;
  let canary: Canary;

  beforeAll(async () => {
    stack = await startStack();
    canary = await startCanary();
    tenant = await stack.addTenant({ pbx: 'none' });
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    await stack.b24.setFault(tenant.memberId, null).catch(() => undefined);
    const leaks = await closeStackFindingLeaks(stack);
    await canary.close();
    expect(leaks).toEqual([]);
  });

  const outbox = () => stack.server().services.store.outbox;
  const itemOf = (key: string) => outbox().getByKey(tenant.memberId, key);
  const leadTitles = async () => (await stack.b24.listCrm(tenant.memberId, 'LEAD')).map((l) => String(l.TITLE ?? ''));

  async function enqueueLead(key: string): Promise<void> {
    await stack.server().services.outbox.enqueue([{
      portal: tenant.memberId, group: key, method: 'crm.lead.add', params: { fields: { TITLE: key } }, key,
    }]);
  }

  it('a portal answering 307 to another host: nothing reaches it, the write stays queued with the reason, and goes out once the portal behaves', async () => {
    await stack.b24.setFault(tenant.memberId, { kind: 'redirect', location: canary.url });
    await enqueueLead('redirected-lead');
    await eventually(async () => /REDIRECT_REFUSED|redirect/i.test(itemOf('redirected-lead')?.lastError ?? ''), 10_000, 50);

    const item = itemOf('redirected-lead');
    expect(item?.status).toBe('pending');
    expect(item?.lastError).toMatch(/HTTP 307.*not followed/);
    // The portal did answer 307 (the attack was played) and the canary saw nothing at all.
    const answered = await stack.b24.requests({ memberId: tenant.memberId });
    expect(answered.some((r) => r.httpStatus === 307)).toBe(true);
    expect(canary.connections()).toBe(0);
    expect(canary.requests).toEqual([]);
    expect(await stack.logs()).toMatch(/Bitrix24 redirect refused: the Bitrix24 REST call answered HTTP 307/);

    await stack.b24.setFault(tenant.memberId, null);
    await eventually(async () => (await leadTitles()).includes('redirected-lead'), 15_000, 100);
    expect(itemOf('redirected-lead')?.status).toBe('done');
    expect(canary.connections()).toBe(0);
  }, 40_000);

  it('the OAuth server answering the token refresh with 302: client_secret and the refresh token go nowhere, the write waits, no re-install asked', async () => {
    const refreshesBefore = await stack.b24.refreshCount(tenant.memberId);
    // The app's access token expires, so the next write needs a refresh, and the token endpoint redirects.
    await stack.b24.expireAccessTokens(tenant.memberId);
    await stack.b24.setFault(tenant.memberId, { kind: 'oauth_redirect', location: canary.url });
    await enqueueLead('refresh-redirected-lead');
    await eventually(async () => /redirect/i.test(itemOf('refresh-redirected-lead')?.lastError ?? ''), 10_000, 50);

    expect(itemOf('refresh-redirected-lead')?.status).toBe('pending');
    expect(itemOf('refresh-redirected-lead')?.lastError).toMatch(/OAuth server \(token refresh\) answered HTTP 302/);
    expect(canary.connections()).toBe(0);
    expect(canary.requests).toEqual([]);
    expect(await stack.logs()).toMatch(/Bitrix24 redirect refused: the OAuth server \(token refresh\) answered HTTP 302/);
    expect(stack.server().services.store.portals.get(tenant.memberId)?.needsReinstall).toBeFalsy();

    await stack.b24.setFault(tenant.memberId, null);
    await eventually(async () => (await leadTitles()).includes('refresh-redirected-lead'), 15_000, 100);
    expect(await stack.b24.refreshCount(tenant.memberId)).toBeGreaterThan(refreshesBefore);
    expect(canary.connections()).toBe(0);
  }, 40_000);
});
