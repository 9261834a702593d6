/**
 * Route to the responsible employee (issue 13), end to end: the Yeastar emulator holds each inbound call of its trunk
 * (Control Inbound Call on), sends 30016 and waits up to 10 s for accept / redirect; the real server decides from the
 * Bitrix24 emulator's CRM. What a customer cares about: a known customer reaches the person who handles them; when that
 * person cannot take the call, or the CRM is slow, or anything fails, the caller is not kept waiting — the call takes
 * its normal route well inside the PBX's window; with routing off nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../foundation/server-under-test.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';
import type { DecisionRecord } from '../../emulators/yeastar/inbound-control.js';

const CUSTOMER = '+14155550111';

describe('routing: held inbound calls go to the responsible employee', () => {
  let stack: Stack;
  let tenant: Tenant;
  let rita = 0;

  const decisionFor = async (callId: string): Promise<DecisionRecord | undefined> => {
    let found: DecisionRecord | undefined;
    await eventually(async () => (found = (await stack.pbx.inboundDecisions()).find((d) => d.callId === callId)) !== undefined, 15_000);
    return found;
  };
  const creditedUser = async (callId: string): Promise<unknown> => {
    let user: unknown;
    await eventually(async () => {
      const call = (await stack.b24.calls(tenant.memberId)).find((c) => (c.externalCallId ?? '').includes(callId) && c.finished);
      user = Number(call?.finished?.params.USER_ID);
      return call !== undefined;
    }, 15_000);
    return user;
  };
  const routing = async (enabled: boolean): Promise<void> => {
    const saved = await stack.api(tenant, 'admin', 'PUT', '/settings', { routing: { enabled } });
    expect(saved.status, saved.text).toBe(200);
  };

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    tenant = await stack.addTenant();
    rita = (await stack.b24.addUser(tenant.memberId, { name: 'Rita', lastName: 'Responsible', email: `rita-${tenant.memberId}@example.com` })).id;
    const bound = await stack.api(tenant, 'admin', 'PUT', '/bindings', { bindings: [{ userId: tenant.agentId, extension: '1001' }, { userId: rita, extension: '1002' }] });
    expect(bound.status, bound.text).toBe(200);
    await stack.b24.seedCrm(tenant.memberId, 'CONTACT', { NAME: 'Carl', LAST_NAME: 'Customer', ASSIGNED_BY_ID: String(rita), PHONE: [{ VALUE: CUSTOMER, VALUE_TYPE: 'WORK' }] });
    // The PBX admin switched Control Inbound Call on for the trunk (README: Integrations > API > trunk settings).
    await stack.pbx.controlInbound({ on: true });
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('off by default: the held call is accepted to its inbound route at once, untouched', async () => {
    expect((await stack.api(tenant, 'admin', 'GET', '/settings')).body).toMatchObject({ routing: { enabled: false } });
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: CUSTOMER, to: '1001', talkSeconds: 2, wait: true });
    expect((await decisionFor(callId))?.decision).toBe('accept');
    expect(await creditedUser(callId)).toBe(tenant.agentId);
  }, 40_000);

  it('a known customer\'s call rings the responsible employee\'s extension, and the call log credits who answered', async () => {
    await routing(true);
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: CUSTOMER, to: '1001', talkSeconds: 2, wait: true });
    expect(await decisionFor(callId)).toMatchObject({ decision: 'redirect', to: '1002' });
    expect(await creditedUser(callId)).toBe(rita);
  }, 40_000);

  it('the responsible employee is busy on another call (as the PBX reports): the call takes its normal route', async () => {
    await routing(true);
    // Rita talks to someone else: an unknown caller routed to her extension by the inbound route, held mid-talk.
    const talking = await stack.pbx.scenario('inbound-answered', { from: '+14155550999', to: '1002', talkSeconds: 2, hold: true });
    await eventually(async () => (await stack.pbx.inboundDecisions()).some((d) => d.callId === talking.callId), 15_000);
    await new Promise((r) => setTimeout(r, 200));
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: CUSTOMER, to: '1001', talkSeconds: 2, wait: true });
    expect((await decisionFor(callId))?.decision).toBe('accept');
    expect(await creditedUser(callId)).toBe(tenant.agentId);
    await stack.pbx.continue(talking.callId);
  }, 40_000);

  it('the CRM answers slower than the PBX window: the call is accepted to its normal route, not left to the window', async () => {
    await routing(true);
    // Every Bitrix24 answer 12 s late: a decision that waited for the CRM would let the PBX's 10 s window run out.
    await stack.b24.setFault(tenant.memberId, { kind: 'slow', delayMs: 12_000, forMs: 8_000 });
    const { callId } = await stack.pbx.scenario('inbound-answered', { from: CUSTOMER, to: '1001', talkSeconds: 2, wait: true });
    expect((await decisionFor(callId))?.decision).toBe('accept');
    await stack.b24.setFault(tenant.memberId, null);
    expect(await creditedUser(callId)).toBe(tenant.agentId);
  }, 60_000);
});
