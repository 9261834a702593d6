import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';

/**
 * Two product instances on one database (issue 14): any instance answers HTTP, so what one instance writes must be
 * what the other reads, and a portal's single-use Bitrix24 refresh token must be spent by one of them only.
 */

let two: TwoInstances;
let tenant: Tenant;
beforeAll(async () => {
  two = await startTwoInstances();
  // Installed through A; its settings are saved on A, so A's supervisor links the PBX and logs the calls.
  tenant = await two.stack.addTenant({ pbx: 'websocket' });
}, 180_000);
afterAll(async () => {
  await two.close();
});

type Settings = { defaultCountry?: string };
type CallsPage = { calls: { pbxCallId?: string; id?: string; direction?: string }[] };

describe('two instances on one database', () => {
  it('a settings save on one instance is what the other reads', async () => {
    const before = await two.api('b', tenant, 'admin', 'GET', '/settings');
    expect(before.status).toBe(200);
    expect((before.body as Settings).defaultCountry).toBe('US');
    const saved = await two.api('a', tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' });
    expect(saved.status, saved.text).toBe(200);
    await eventually(async () => ((await two.api('b', tenant, 'admin', 'GET', '/settings')).body as Settings).defaultCountry === 'DE', 10_000, 50);
    // And back the other way: B saves, A reads.
    expect((await two.api('b', tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'US' })).status).toBe(200);
    await eventually(async () => ((await two.api('a', tenant, 'admin', 'GET', '/settings')).body as Settings).defaultCountry === 'US', 10_000, 50);
  }, 60_000);

  it('a call the linked instance logs shows in the other instance\'s timeline', async () => {
    const { callId } = await two.stack.pbx.scenario('inbound-answered', { from: '+15550201234', to: '1001', talkSeconds: 3, ringSeconds: 1, wait: true });
    await eventually(async () => {
      const page = await two.api('b', tenant, 'admin', 'GET', '/calls');
      return page.status === 200 && JSON.stringify(page.body).includes(callId);
    }, 20_000, 100);
    const onB = (await two.api('b', tenant, 'admin', 'GET', '/calls')).body as CallsPage;
    const onA = (await two.api('a', tenant, 'admin', 'GET', '/calls')).body as CallsPage;
    expect(onB.calls.length).toBeGreaterThan(0);
    // Both instances show the same page once the call is logged.
    await eventually(async () => JSON.stringify((await two.api('b', tenant, 'admin', 'GET', '/calls')).body)
      === JSON.stringify((await two.api('a', tenant, 'admin', 'GET', '/calls')).body), 10_000, 100);
    expect(onA.calls.length).toBeGreaterThan(0);
  }, 60_000);

  it('concurrent token refreshes on both instances spend the refresh token once, and both keep working', async () => {
    const refreshesBefore = await two.stack.b24.refreshCount(tenant.memberId);
    // Both instances have used the portal's token (their SDK instances hold it)...
    expect((await two.api('a', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    expect((await two.api('b', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    // ...then Bitrix24 expires it: the next read on each instance must refresh, at the same moment.
    expect(await two.stack.b24.expireAccessTokens(tenant.memberId)).toBeGreaterThan(0);
    const answers = await Promise.all([
      two.api('a', tenant, 'admin', 'GET', '/users'), two.api('b', tenant, 'admin', 'GET', '/users'),
      two.api('a', tenant, 'admin', 'GET', '/users'), two.api('b', tenant, 'admin', 'GET', '/users'),
    ]);
    expect(answers.map((r) => r.status), answers.map((r) => r.text).join('\n')).toEqual([200, 200, 200, 200]);
    expect(await two.stack.b24.refreshCount(tenant.memberId)).toBe(refreshesBefore + 1);
    // Both keep working with the one new pair, and neither marked the portal for reinstall.
    expect((await two.api('b', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    expect((await two.api('a', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    const status = (await two.api('b', tenant, 'admin', 'GET', '/status')).body as { needsReinstall?: unknown };
    expect(status.needsReinstall ?? null).toBeNull();
  }, 60_000);
});
