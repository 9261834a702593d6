/**
 * Missed-call tasks (issue 13), end to end: the real server as a child process (so it can be SIGKILLed), the
 * Yeastar emulator placing the calls and the Bitrix24 emulator keeping the tasks.
 * What a customer cares about: a caller no one answered is called back by the person responsible for them; a
 * caller who tries three times makes one task, not three; the task closes itself once someone talked to the caller;
 * and a server crash between the missed call and the callback neither loses the task nor leaves it open forever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../foundation/server-under-test.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';
import type { EmulatedTask } from '../../emulators/bitrix24/harness.js';
import type { MissedCallTaskRow } from '../../../contract/api-shapes.js';

const CUSTOMER = '+14155550177';
const STRANGER = '+14155550188';
const OTHER = '+14155550199';

describe('routing: missed-call tasks', () => {
  let stack: Stack;
  let tenant: Tenant;
  let rita = 0;
  let contactId = 0;

  const tasksFor = async (phone: string): Promise<EmulatedTask[]> =>
    (await stack.b24.tasks(tenant.memberId)).filter((t) => t.title.includes(phone));

  beforeAll(async () => {
    stack = await startStack({ mode: 'child', pbxSpeed: 1000 });
    tenant = await stack.addTenant();
    rita = (await stack.b24.addUser(tenant.memberId, { name: 'Rita', lastName: 'Responsible', email: `rita-${tenant.memberId}@example.com` })).id;
    contactId = await stack.b24.seedCrm(tenant.memberId, 'CONTACT', {
      NAME: 'Carl', LAST_NAME: 'Customer', ASSIGNED_BY_ID: String(rita), PHONE: [{ VALUE: CUSTOMER, VALUE_TYPE: 'WORK' }],
    });
    const saved = await stack.api(tenant, 'admin', 'PUT', '/settings', { missedCallTasks: { enabled: true, deadlineHours: 2 } });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body).toMatchObject({ missedCallTasks: { enabled: true, defaultUserId: null, deadlineHours: 2 } });
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('a missed call from a known customer makes one task for the CRM record\'s responsible, bound to the record, due in 2 hours', async () => {
    const { callId } = await stack.pbx.scenario('inbound-missed', { from: CUSTOMER, to: '1001', ringSeconds: 2, wait: true });
    await eventually(async () => (await tasksFor(CUSTOMER)).length === 1, 15_000);
    const [task] = await tasksFor(CUSTOMER);
    expect(task).toMatchObject({ responsibleId: rita, crm: [`C_${contactId}`], status: 2, title: `Missed call from Carl Customer (${CUSTOMER})` });
    expect(task?.description).toContain(`/crm/contact/details/${contactId}/`);
    expect(task?.description).toContain(callId);
    const call = (await stack.b24.calls(tenant.memberId)).find((c) => (c.externalCallId ?? '').includes(callId));
    const endedAt = call?.finished?.at ?? Date.now();
    // Deadline = the call's end + 2 plain hours; compared to the hour, not to the millisecond.
    expect(Math.round((Date.parse(String(task?.deadline)) - endedAt) / 3_600_000)).toBe(2);

    // The admin sees it on the Activity page; an employee does not (it names callers and who must call them).
    const rows = (await stack.api(tenant, 'admin', 'GET', '/missed-call-tasks')).body as MissedCallTaskRow[];
    expect(rows).toEqual([expect.objectContaining({ phone: CUSTOMER, responsibleId: rita, responsibleFrom: 'crm', missedCalls: 1 })]);
    expect((await stack.api(tenant, 'agent', 'GET', '/missed-call-tasks')).body).toEqual([]);
  }, 40_000);

  it('a second missed call from the number adds a comment to the open task, not a second task', async () => {
    const { callId } = await stack.pbx.scenario('inbound-missed', { from: CUSTOMER, to: '1001', ringSeconds: 2, wait: true });
    await eventually(async () => (await tasksFor(CUSTOMER))[0]?.comments.length === 1, 15_000);
    const tasks = await tasksFor(CUSTOMER);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.comments[0]?.message).toContain(callId);
    const rows = (await stack.api(tenant, 'admin', 'GET', '/missed-call-tasks')).body as MissedCallTaskRow[];
    expect(rows).toEqual([expect.objectContaining({ phone: CUSTOMER, missedCalls: 2 })]);
  }, 40_000);

  it('the answered callback (an outbound call by anyone) completes the task with a comment naming the call', async () => {
    const { callId } = await stack.pbx.scenario('outbound-answered', { from: '1001', to: CUSTOMER, talkSeconds: 3, wait: true });
    await eventually(async () => (await tasksFor(CUSTOMER))[0]?.status === 5, 15_000);
    const [task] = await tasksFor(CUSTOMER);
    expect(task?.comments).toHaveLength(2);
    expect(task?.comments[1]?.message).toContain(callId);
    expect(task?.comments[1]?.message).toContain('outbound call');
    expect((await stack.api(tenant, 'admin', 'GET', '/missed-call-tasks')).body).toEqual([]);
  }, 40_000);

  it('SIGKILL between the missed call and the callback (the task not even sent yet) loses nothing: one task, then completed', async () => {
    // Bitrix24 answers QUERY_LIMIT_EXCEEDED: the missed call's writes, the task included, wait in the outbox at the kill.
    await stack.b24.setFault(tenant.memberId, { kind: 'query_limit' });
    const { callId } = await stack.pbx.scenario('inbound-missed', { from: STRANGER, to: '1001', ringSeconds: 2, wait: true });
    await eventually(async () => {
      const rows = (await stack.api(tenant, 'admin', 'GET', '/missed-call-tasks')).body as MissedCallTaskRow[];
      return rows.some((r) => r.phone === STRANGER && r.taskId === null);
    }, 15_000);
    await stack.killServer();
    await stack.b24.setFault(tenant.memberId, null);
    await stack.startServer();
    // An unknown caller: the task goes to the first bound employee whose phone rang (Anna, extension 1001).
    await eventually(async () => (await tasksFor(STRANGER)).length === 1, 20_000);
    expect((await tasksFor(STRANGER))[0]).toMatchObject({ responsibleId: tenant.agentId, crm: [], status: 2 });
    expect((await tasksFor(STRANGER))[0]?.description).toContain(callId);

    await stack.killServer();
    await stack.startServer();
    const callback = await stack.pbx.scenario('inbound-answered', { from: STRANGER, to: '1001', talkSeconds: 3, wait: true });
    await eventually(async () => (await tasksFor(STRANGER))[0]?.status === 5, 20_000);
    const tasks = await tasksFor(STRANGER);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.comments.map((c) => c.message)).toEqual([expect.stringContaining(callback.callId)]);
    expect(tasks[0]?.comments[0]?.message).toContain('answered by extension 1001');
  }, 90_000);

  // Last: both portals hear the one emulated PBX, so this call reaches the first portal too (under a number of its own).
  it('is off by default: a new portal creates no task for a missed call', async () => {
    const other = await stack.addTenant();
    const settings = await stack.api(other, 'admin', 'GET', '/settings');
    expect(settings.body).toMatchObject({ missedCallTasks: { enabled: false } });
    const { callId } = await stack.pbx.scenario('inbound-missed', { from: OTHER, to: '1001', ringSeconds: 2, wait: true });
    await eventually(async () => (await stack.b24.calls(other.memberId)).some((c) => (c.externalCallId ?? '').includes(callId) && c.finished), 15_000);
    expect(await stack.b24.tasks(other.memberId)).toEqual([]);
  }, 40_000);
});
