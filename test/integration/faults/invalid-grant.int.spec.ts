import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResponse } from '../../../contract/api-shapes.js';
import { eventually } from '../foundation/server-under-test.js';
import { EMPTY_REPORT, callLogReport, expectEachLoggedOnce } from '../../support/calls.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Bitrix24 refuses a portal's refresh token for good (invalid_grant: the app was reinstalled elsewhere, the admin
 * revoked it). That portal is shown as needing a re-install, its call logs wait (none lost, none parked as failed);
 * another portal on the same server and the same PBX goes on logging as if nothing happened. After the admin
 * re-installs, the waiting calls are logged, each once, with its recording.
 */

describe('faults: invalid_grant on one portal', () => {
  let stack: Stack;
  let broken: Tenant;
  let healthy: Tenant;

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    broken = await stack.addTenant();
    healthy = await stack.addTenant();
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    expect(await closeStackFindingLeaks(stack)).toEqual([]);
  });

  it('shows the portal as needing re-install, leaves the other portal unaffected, and logs the waiting calls once after the re-install', async () => {
    await stack.b24.setFault(broken.memberId, { kind: 'invalid_grant' });
    await stack.b24.expireAccessTokens(broken.memberId);
    const callIds: string[] = [];
    for (let n = 0; n < 5; n += 1) {
      callIds.push((await stack.pbx.scenario('inbound-answered', { from: `+1555020${String(1000 + n)}`, to: '1001', talkSeconds: 12, record: true, wait: true })).callId);
    }

    // Both portals listen to the same PBX: the healthy one logs every call at once.
    expect(await expectEachLoggedOnce(stack.b24, healthy.memberId, callIds, 20_000)).toEqual(EMPTY_REPORT);

    let status: StatusResponse | undefined;
    await eventually(async () => {
      status = (await stack.api(broken, 'admin', 'GET', '/status')).body as StatusResponse;
      return status.portal.needsReinstall !== null;
    }, 15_000, 100);
    expect(status?.portal.needsReinstall?.reason).toMatch(/invalid_grant/);
    expect(status?.portal.notice).toMatch(/reinstall/i);
    expect(status?.outbox.failed).toBe(0);
    const healthyStatus = (await stack.api(healthy, 'admin', 'GET', '/status')).body as StatusResponse;
    expect(healthyStatus.portal.needsReinstall).toBeNull();
    expect(healthyStatus.portal.notice ?? null).toBeNull();
    expect(healthyStatus.outbox).toMatchObject({ pending: 0, failed: 0 });

    // Nothing of the broken portal's calls reached Bitrix24, and no refresh storm against the OAuth server.
    const before = await callLogReport(stack.b24, broken.memberId, callIds);
    expect(before.unfinished.length + before.missing.length).toBeGreaterThan(0);
    const refreshAttempts = await stack.b24.refreshCount(broken.memberId);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await stack.b24.refreshCount(broken.memberId)).toBe(refreshAttempts);

    // The admin re-installs the app: the waiting call logs go out, each once, well before any periodic recheck.
    await stack.b24.setFault(broken.memberId, null);
    const reinstalled = await stack.b24.install(broken.memberId, { appUrl: stack.url() });
    expect(reinstalled.installerPage.status).toBe(200);
    await stack.b24.finishInstall(broken.memberId);
    expect(await expectEachLoggedOnce(stack.b24, broken.memberId, callIds, 10_000)).toEqual(EMPTY_REPORT);
    // The re-install drops the portal's cached frame verdicts (issue 10 point 1), so the admin's frame token is checked
    // again — and it expired above with every token of the portal. The admin's frame has a fresh one by now.
    broken.adminToken = (await stack.b24.frameToken(broken.memberId, broken.adminId)).accessToken;
    const after = (await stack.api(broken, 'admin', 'GET', '/status')).body as StatusResponse;
    expect(after.portal.needsReinstall).toBeNull();
    expect(after.outbox).toMatchObject({ pending: 0, failed: 0 });
  }, 60_000);
});
