import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityResponse, CallsPage, OpenItemsResponse } from '../../../contract/api-shapes.js';
import { eventually } from '../foundation/server-under-test.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 10 point 7, played end to end (the real product, both emulators). The attack: an employee who is not an admin
 * opens the app and lists the portal's calls, opens a colleague's call and plays its recording, and reads a record's
 * open deals through the call card — calls and records that Bitrix24's own rights keep from them.
 * What the customer cares about: an employee sees their own calls and the calls on CRM records Bitrix24 lets them
 * read, and nothing else (a forbidden call answers exactly like a call that does not exist); an admin still sees
 * everything; the rights are Bitrix24's, asked with the employee's own token (the emulator records which token made
 * each request), never decided by the app's token.
 *
 * The portal: Anna (agent, extension 1001, reads the whole CRM) and Bob (extension 1002, may read only the CRM records
 * assigned to him — Bitrix24's "own" level). Calls: Anna talks to a customer Bob may not read (with a recording), to
 * a customer assigned to Bob, and Bob takes a call from an unknown number.
 */
describe('tenancy: an employee sees only the calls and recordings Bitrix24 lets them see', () => {
  let stack: Stack;
  let t: Tenant;
  let bobId = 0;
  let bobToken = '';
  let hiddenContact = 0;
  let bobsContact = 0;
  const calls = { annaHidden: '', annaOnBobs: '', bobOwn: '' };

  const asBob = async (path: string) => {
    const res = await fetch(`${stack.url()}/api${path}`, { headers: { authorization: `Bearer ${bobToken}`, 'x-member-id': t.memberId } });
    const text = await res.text();
    stack.answers.push(text);
    return { status: res.status, text, body: JSON.parse(text) as unknown };
  };

  beforeAll(async () => {
    stack = await startStack();
    t = await stack.addTenant();
    bobId = (await stack.b24.addUser(t.memberId, {
      name: 'Bob', lastName: 'Jones', email: `bob-${t.memberId}@example.com`,
      crmRead: { CONTACT: 'own', LEAD: 'own', COMPANY: 'own', DEAL: 'own' },
    })).id;
    bobToken = (await stack.b24.frameToken(t.memberId, bobId)).accessToken;
    const bound = await stack.api(t, 'admin', 'PUT', '/bindings', { bindings: [{ userId: t.agentId, extension: '1001' }, { userId: bobId, extension: '1002' }] });
    expect(bound.status).toBe(200);
    hiddenContact = await stack.b24.seedCrm(t.memberId, 'CONTACT', { NAME: 'Hidden', LAST_NAME: 'Customer', PHONE: [{ VALUE: '+14155550101', VALUE_TYPE: 'WORK' }] });
    bobsContact = await stack.b24.seedCrm(t.memberId, 'CONTACT', {
      NAME: 'Bobs', LAST_NAME: 'Customer', ASSIGNED_BY_ID: String(bobId), PHONE: [{ VALUE: '+14155550102', VALUE_TYPE: 'WORK' }],
    });
    // The hidden customer's open deal and to-do: Bob's call card must not list them.
    await stack.b24.seedCrm(t.memberId, 'DEAL', { TITLE: 'Secret renewal', CONTACT_ID: String(hiddenContact), STAGE_ID: 'NEW', OPPORTUNITY: '9000' });
    await stack.b24.seedCrm(t.memberId, 'DEAL', { TITLE: 'Bobs deal', CONTACT_ID: String(bobsContact), STAGE_ID: 'NEW', ASSIGNED_BY_ID: String(bobId) });

    calls.annaHidden = (await stack.pbx.scenario('inbound-answered', { from: '+14155550101', to: '1001', record: true, talkSeconds: 5, wait: true })).callId;
    calls.annaOnBobs = (await stack.pbx.scenario('inbound-answered', { from: '+14155550102', to: '1001', talkSeconds: 5, wait: true })).callId;
    calls.bobOwn = (await stack.pbx.scenario('inbound-answered', { from: '+14155550199', to: '1002', talkSeconds: 5, wait: true })).callId;
    const { store } = stack.server().services;
    await eventually(() => Object.values(calls).every((id) => store.calls.get(t.memberId, id)?.phase === 'logged')
      && store.calls.get(t.memberId, calls.annaHidden)?.recording !== undefined, 30_000, 100);
    expect(store.calls.get(t.memberId, calls.annaHidden)?.crm).toEqual({ entityType: 'CONTACT', entityId: hiddenContact });
    expect(store.calls.get(t.memberId, calls.annaOnBobs)?.crm).toEqual({ entityType: 'CONTACT', entityId: bobsContact });
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('Bob lists calls: his own and the one on a record he can read; never the call on a record he cannot read', async () => {
    await stack.b24.clearRequests();
    const recent = await asBob('/calls/recent');
    expect(recent.status).toBe(200);
    expect((recent.body as ActivityResponse).calls.map((c) => c.id).sort()).toEqual([calls.annaOnBobs, calls.bobOwn].sort());
    // Parked writes are an admin's business.
    expect((recent.body as ActivityResponse).failedWrites).toEqual([]);
    expect((await asBob('/outbox/failed')).body).toEqual([]);
    const list = await asBob('/calls');
    expect((list.body as CallsPage).calls.map((c) => c.id).sort()).toEqual([calls.annaOnBobs, calls.bobOwn].sort());
    const timeline = await asBob(`/calls?entityType=CONTACT&entityId=${hiddenContact}`);
    expect(timeline.status).toBe(200);
    expect((timeline.body as CallsPage).calls).toEqual([]);
    expect(recent.text + list.text + timeline.text).not.toContain(calls.annaHidden);
    // Bitrix24 decided, asked with BOB's token: every rights check is a frame request as Bob, none with the app's token.
    const checks = await stack.b24.requests({ memberId: t.memberId, method: 'crm.item.get' });
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.every((r) => r.authKind === 'frame' && r.userId === bobId)).toBe(true);
    expect(checks.some((r) => r.error === 'ACCESS_DENIED' && Number(r.params.id) === hiddenContact)).toBe(true);
  });

  it("Bob opens Anna's call on the hidden record and plays its recording: 404, exactly as for a call that does not exist", async () => {
    const call = await asBob(`/calls/${calls.annaHidden}`);
    const recording = await asBob(`/calls/${calls.annaHidden}/recording`);
    const missing = await asBob('/calls/no-such-call/recording');
    expect(call.status).toBe(404);
    expect(recording.status).toBe(404);
    expect(recording.body).toEqual(missing.body);
    expect((await asBob(`/calls/${calls.annaOnBobs}`)).status).toBe(200);
    expect((await asBob(`/calls/${calls.bobOwn}`)).status).toBe(200);
  });

  it('Anna (not an admin, reads the whole CRM) sees her calls but not the unknown caller of Bob; the admin sees all three', async () => {
    const anna = await stack.api(t, 'agent', 'GET', '/calls/recent');
    expect((anna.body as ActivityResponse).calls.map((c) => c.id).sort()).toEqual([calls.annaHidden, calls.annaOnBobs].sort());
    expect((await stack.api(t, 'agent', 'GET', `/calls/${calls.bobOwn}`)).status).toBe(404);
    const played = await fetch(`${stack.url()}/api/calls/${calls.annaHidden}/recording`, { headers: { authorization: `Bearer ${t.agentToken}`, 'x-member-id': t.memberId } });
    expect(played.status).toBe(200);
    expect(played.headers.get('content-type')).toMatch(/^audio\//);
    await played.arrayBuffer();
    const admin = await stack.api(t, 'admin', 'GET', '/calls/recent');
    expect((admin.body as ActivityResponse).calls.map((c) => c.id).sort()).toEqual(Object.values(calls).sort());
    expect((await stack.api(t, 'admin', 'GET', `/calls/${calls.bobOwn}`)).status).toBe(200);
  });

  it("the call card's open items are read with the agent's own token: Bob gets nothing of the hidden customer, his own deal of his", async () => {
    await stack.b24.clearRequests();
    const hidden = await asBob(`/crm/open-items?entityType=CONTACT&entityId=${hiddenContact}`);
    expect(hidden.status).toBe(200);
    expect((hidden.body as OpenItemsResponse).deals).toEqual([]);
    expect(hidden.text).not.toContain('Secret renewal');
    const own = await asBob(`/crm/open-items?entityType=CONTACT&entityId=${bobsContact}`);
    expect((own.body as OpenItemsResponse).deals.map((d) => d.title)).toEqual(['Bobs deal']);
    // Anna reads the same hidden customer: her token, her rights, her own cache entry (not Bob's empty answer).
    const anna = await stack.api(t, 'agent', 'GET', `/crm/open-items?entityType=CONTACT&entityId=${hiddenContact}`);
    expect((anna.body as OpenItemsResponse).deals.map((d) => d.title)).toEqual(['Secret renewal']);
    const reads = [
      ...await stack.b24.requests({ memberId: t.memberId, method: 'crm.deal.list' }),
      ...await stack.b24.requests({ memberId: t.memberId, method: 'crm.activity.list' }),
    ];
    expect(reads.length).toBeGreaterThanOrEqual(6);
    expect(reads.every((r) => r.authKind === 'frame')).toBe(true);
    expect(new Set(reads.map((r) => r.userId))).toEqual(new Set([bobId, t.agentId]));
  });
});
