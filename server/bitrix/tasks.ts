/**
 * Bitrix24 tasks (scope `task`): typed builders only, sent through the outbox.
 * - tasks.task.add https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-add.html — "any user"; required
 *   fields TITLE and RESPONSIBLE_ID; DEADLINE an ISO date-time; UF_CRM_TASK binds CRM records as `L_<id>` (lead),
 *   `C_<id>` (contact), `CO_<id>` (company), `D_<id>` (deal), which puts the task in the record's timeline.
 *   Answers `{ task: { id, … } }`.
 * - tasks.task.complete https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-complete.html — `taskId`;
 *   allowed to the creator, the assignee, participants and anyone with edit access to the task. The app creates the
 *   task with its own (installer's) token, so it is the creator and may complete it.
 * - task.commentitem.add https://apidocs.bitrix24.com/api-reference/tasks/comment-item/task-comment-item-add.html —
 *   `TASKID` and `FIELDS.POST_MESSAGE`; answers the comment id. UNCONFIRMED: portals on the new task card (chat in
 *   the task) document `tasks.task.chat.message.send` as the newer way to post; we did not find a page saying
 *   task.commentitem.add is refused there, so the classic method is used (it works on every portal we know of).
 */
import type { CrmRef } from '../store/records.js';
import type { RestCall } from './telephony.js';

const CRM_PREFIX: Record<CrmRef['entityType'], string> = { LEAD: 'L', CONTACT: 'C', COMPANY: 'CO', DEAL: 'D' };

/** The UF_CRM_TASK value binding a task to one CRM record. */
export const crmTaskBinding = (crm: CrmRef): string => `${CRM_PREFIX[crm.entityType]}_${crm.entityId}`;

export interface NewTask {
  title: string;
  description: string;
  responsibleId: number;
  deadline: Date;
  crm?: CrmRef | null;
}

export function addTask(task: NewTask): RestCall {
  return {
    method: 'tasks.task.add',
    params: {
      fields: {
        TITLE: task.title,
        DESCRIPTION: task.description,
        RESPONSIBLE_ID: task.responsibleId,
        DEADLINE: task.deadline.toISOString(),
        ...(task.crm ? { UF_CRM_TASK: [crmTaskBinding(task.crm)] } : {}),
      },
    },
  };
}

/** `taskId` may be a result reference (the outbox resolves it when it sends). */
export function completeTask(taskId: unknown): RestCall {
  return { method: 'tasks.task.complete', params: { taskId } };
}

export function commentTask(taskId: unknown, message: string): RestCall {
  return { method: 'task.commentitem.add', params: { TASKID: taskId, FIELDS: { POST_MESSAGE: message } } };
}
