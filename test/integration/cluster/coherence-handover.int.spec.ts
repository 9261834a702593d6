import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';
import { tenantOwnedByA } from './support/portal-owned-by-a.js';

/**
 * Any instance receives Bitrix24's events, but only one, the portal's owner, holds its PBX link (Yeastar allows 8 API tokens per
 * PBX: the other must never log in). A click-to-call that reaches the instance without the link is handed to the
 * one with it (server/cluster/portal-work.ts), which dials: the PBX sees one link and one dial.
 */

let two: TwoInstances;
let tenant: Tenant;
beforeAll(async () => {
  two = await startTwoInstances();
  // Installed with B as the app's address (Bitrix24 sends this portal's events to B) while A owns it (its lease), so A
  // holds the portal's PBX link once the admin saves the PBX settings.
  tenant = await tenantOwnedByA(two, { events: 'websocket' });
}, 180_000);
afterAll(async () => {
  await two.close();
});

describe('live work handed to the instance holding the PBX link', () => {
  it('a click-to-call that reaches the instance without the link dials through the other\'s link', async () => {
    const { b24, pbx } = two.stack;
    const loginsBefore = (await pbx.tokens()).getTokenCalls;
    const { callId, deliveries } = await b24.clickToCall(tenant.memberId, { userId: tenant.agentId, phoneNumber: '+15550107788' });
    expect(deliveries.map((d) => d.handler)).toEqual([`${two.b.url}/b24/events`]);

    // The PBX was asked to dial once, and the call is stored under Bitrix24's CALL_ID (readable on both instances).
    await eventually(async () => (await pbx.requests()).some((r) => r.path.endsWith('call/dial')), 20_000, 100);
    await eventually(async () => JSON.stringify((await two.api('b', tenant, 'admin', 'GET', '/calls')).body).includes('5550107788'), 20_000, 100);
    const dials = (await pbx.requests()).filter((r) => r.path.endsWith('call/dial'));
    expect(dials).toHaveLength(1);
    // One link: one event socket, and B never logged in to the PBX.
    expect(await pbx.sockets()).toHaveLength(1);
    expect((await pbx.tokens()).getTokenCalls).toBe(loginsBefore);
    expect(two.logs()).toContain('handed the work to the owner');
    // The owner stored the dial under Bitrix24's CALL_ID: no second call was registered for it.
    expect((await b24.calls(tenant.memberId)).map((c) => c.callId)).toEqual([callId]);
  }, 60_000);

  it('the /api on the instance without the link reads the PBX through the other\'s link, never logging in itself', async () => {
    const { pbx } = two.stack;
    const loginsBefore = (await pbx.tokens()).getTokenCalls;
    const onB = await two.api('b', tenant, 'admin', 'GET', '/extensions');
    expect(onB.status, onB.text).toBe(200);
    const onA = await two.api('a', tenant, 'admin', 'GET', '/extensions');
    expect(onB.body).toEqual(onA.body);
    expect((onB.body as { number: string }[]).map((e) => e.number)).toContain('1001');
    expect((await pbx.tokens()).getTokenCalls).toBe(loginsBefore);
    expect(await pbx.sockets()).toHaveLength(1);
    // B's status shows the link as its holder sees it: connected.
    await eventually(async () => ((await two.api('b', tenant, 'admin', 'GET', '/status')).body as { pbx?: { state?: string } }).pbx?.state === 'connected', 10_000, 100);
  }, 60_000);

  it('the PBX switched off through the instance without the link closes the link on the other', async () => {
    const { pbx } = two.stack;
    const off = await two.api('b', tenant, 'admin', 'PUT', '/settings', { enabled: false });
    expect(off.status, off.text).toBe(200);
    await eventually(async () => ((await two.api('a', tenant, 'admin', 'GET', '/status')).body as { pbx?: { state?: string } }).pbx?.state === 'disabled', 15_000, 100);
    await eventually(async () => (await pbx.sockets()).length === 0, 15_000, 100);
  }, 60_000);
});
