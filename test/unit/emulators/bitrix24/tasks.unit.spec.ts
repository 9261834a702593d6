/**
 * The emulated task methods refuse what Bitrix24 refuses, so the missed-call tasks are tested against a portal that
 * can say no: tasks.task.add needs TITLE and an active RESPONSIBLE_ID and checks its CRM bindings; completing or
 * commenting a task needs the right to it (creator, responsible, admin); without the `task` scope nothing passes.
 * https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-add.html,
 * https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-complete.html,
 * https://apidocs.bitrix24.com/api-reference/tasks/comment-item/task-comment-item-add.html
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { callRest, installedPortal, startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
});

afterAll(() => stopCloudAndApp(cloud, app));

describe('tasks', () => {
  it('adds a task bound to a CRM record, comments and completes it; refuses missing fields and unknown records', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const agent = cloud.addUser(portal.memberId, { name: 'Anna', email: 'anna@example.test' }).id;
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Carl', PHONE: [{ VALUE: '+14155550177', VALUE_TYPE: 'WORK' }] });

    const added = await rest('tasks.task.add', { fields: { TITLE: 'Call back', RESPONSIBLE_ID: agent, DEADLINE: '2026-12-31T10:00:00Z', UF_CRM_TASK: [`C_${contact}`] } });
    expect(added.status).toBe(200);
    const task = (added.body.result as { task: { id: string; status: string; responsibleId: string } }).task;
    expect(task).toMatchObject({ status: '2', responsibleId: String(agent) });

    expect((await rest('tasks.task.add', { fields: { RESPONSIBLE_ID: agent } })).body.error).toBe('ERROR_CORE');
    expect((await rest('tasks.task.add', { fields: { TITLE: 'x' } })).body.error).toBe('ERROR_CORE');
    expect((await rest('tasks.task.add', { fields: { TITLE: 'x', RESPONSIBLE_ID: agent, UF_CRM_TASK: ['C_999'] } })).body.error).toBe('ERROR_CORE');

    expect((await rest('task.commentitem.add', { TASKID: task.id, FIELDS: { POST_MESSAGE: 'again' } })).status).toBe(200);
    expect((await rest('task.commentitem.add', { TASKID: task.id, FIELDS: { POST_MESSAGE: '' } })).body.error).toBe('ERROR_CORE');
    expect((await rest('tasks.task.complete', { taskId: 999 })).body.error).toBe('ERROR_CORE');
    expect((await rest('tasks.task.complete', { taskId: task.id })).status).toBe(200);
    expect(cloud.tasks(portal.memberId)).toEqual([expect.objectContaining({ status: 5, crm: [`C_${contact}`], comments: [expect.objectContaining({ message: 'again' })] })]);
  });

  it('a user who is neither creator, responsible nor admin may not complete or comment the task', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const agent = cloud.addUser(portal.memberId, { name: 'Anna', email: 'anna2@example.test' }).id;
    const outsider = cloud.addUser(portal.memberId, { name: 'Olaf', email: 'olaf@example.test' }).id;
    const added = await rest('tasks.task.add', { fields: { TITLE: 'Call back', RESPONSIBLE_ID: agent } });
    const taskId = (added.body.result as { task: { id: string } }).task.id;
    const outsiderToken = cloud.frameToken(portal.memberId, outsider).accessToken;
    const refused = await callRest(portal.clientEndpoint, 'tasks.task.complete', { auth: outsiderToken, taskId });
    expect([refused.status, refused.body.error]).toEqual([400, 'ERROR_CORE']);
    expect((await callRest(portal.clientEndpoint, 'task.commentitem.add', { auth: outsiderToken, TASKID: taskId, FIELDS: { POST_MESSAGE: 'hi' } })).body.error).toBe('ERROR_CORE');
    const agentToken = cloud.frameToken(portal.memberId, agent).accessToken;
    expect((await callRest(portal.clientEndpoint, 'tasks.task.complete', { auth: agentToken, taskId })).status).toBe(200);
  });

  it('a webhook without the task scope gets insufficient_scope', async () => {
    const { portal } = await installedPortal(cloud, app);
    const hook = cloud.createWebhook(portal.memberId, 1, ['crm']);
    const answer = await fetch(`${hook.url}tasks.task.add`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fields: { TITLE: 'x', RESPONSIBLE_ID: 1 } }),
    });
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { error: string }).error).toBe('insufficient_scope');
  });
});
