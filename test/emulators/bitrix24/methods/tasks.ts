/**
 * Tasks (scope `task`), the three methods the missed-call tasks use:
 * - tasks.task.add https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-add.html — "Who can execute the
 *   method: any user"; `fields` with TITLE and RESPONSIBLE_ID required; CREATED_BY defaults to the caller;
 *   UF_CRM_TASK binds CRM records as L_/C_/CO_/D_<id>. Answers `{ task: { id, title, … } }` with string ids.
 * - tasks.task.complete https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-complete.html — `taskId`;
 *   "any user with editing access to the task; creator, assignee, and participants of the task". Answers
 *   `{ task: { …, status: "5" } }` (5 = completed, tasks.task.getFields).
 * - task.commentitem.add https://apidocs.bitrix24.com/api-reference/tasks/comment-item/task-comment-item-add.html —
 *   `TASKID`, `FIELDS.POST_MESSAGE` (AUTHOR_ID defaults to the caller); answers the new comment's id; a user who
 *   cannot see the task may not comment on it.
 * Errors: the task methods answer ERROR_CORE (HTTP 400) for a missing field or a task the caller cannot reach
 * (tasks pages' error tables); the exact wording of the descriptions is not documented and is ours.
 * Administrators can see and edit every task (Bitrix24 tasks rights: admins have full access).
 */
import { getEntity } from '../crm-store.js';
import { coreError } from '../errors.js';
import { pick, pickRecord, pickString, type Params } from '../params.js';
import type { CrmEntityType, Portal } from '../state.js';
import { isoWithOffset } from '../time-envelope.js';
import { ok, type MethodContext, type MethodTable } from './types.js';

export interface EmulatedTask {
  id: number;
  title: string;
  description: string;
  responsibleId: number;
  createdBy: number;
  deadline: string | null;
  /** UF_CRM_TASK as given, e.g. ["C_7"]. */
  crm: string[];
  /** 2 pending, 5 completed (tasks.task.getFields STATUS). */
  status: 2 | 5;
  closedBy: number | null;
  comments: { id: number; authorId: number; message: string }[];
}

interface TaskBook {
  tasks: Map<number, EmulatedTask>;
  nextTaskId: number;
  nextCommentId: number;
}

/** Kept beside the portal (as crm-rights does), so the portal's shape is unchanged. */
const books = new WeakMap<Portal, TaskBook>();

function bookOf(portal: Portal): TaskBook {
  let book = books.get(portal);
  if (!book) {
    book = { tasks: new Map(), nextTaskId: 1, nextCommentId: 1 };
    books.set(portal, book);
  }
  return book;
}

/** Every task of the portal, for tests to assert on. */
export function tasksOf(portal: Portal): EmulatedTask[] {
  return [...bookOf(portal).tasks.values()].map((t) => structuredClone(t));
}

const CRM_PREFIX: Record<string, CrmEntityType> = { L: 'LEAD', C: 'CONTACT', CO: 'COMPANY', D: 'DEAL' };

function crmBindings(portal: Portal, value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    const text = String(v);
    const match = /^(L|C|CO|D)_(\d+)$/.exec(text);
    const type = match?.[1] ? CRM_PREFIX[match[1]] : undefined;
    if (!match || !type || !getEntity(portal, type, Number(match[2]))) throw coreError(`UF_CRM_TASK: no CRM record ${text}`);
    return text;
  });
}

function taskView(t: EmulatedTask): Record<string, unknown> {
  return {
    id: String(t.id), title: t.title, description: t.description, responsibleId: String(t.responsibleId),
    createdBy: String(t.createdBy), deadline: t.deadline, status: String(t.status), closedBy: String(t.closedBy ?? 0),
    ufCrmTask: t.crm, commentsCount: String(t.comments.length),
  };
}

const isAdmin = (portal: Portal, userId: number): boolean => portal.users.get(userId)?.ADMIN === true;

/** Who may see a task: its creator, its responsible and administrators. */
const canSee = (portal: Portal, t: EmulatedTask, userId: number): boolean =>
  t.createdBy === userId || t.responsibleId === userId || isAdmin(portal, userId);

function taskFor(ctx: MethodContext, params: Params, ...names: string[]): EmulatedTask {
  const id = Number(pick(params, ...names));
  const task = Number.isInteger(id) ? bookOf(ctx.portal).tasks.get(id) : undefined;
  // A task the caller may not see answers like one that does not exist.
  if (!task || !canSee(ctx.portal, task, ctx.auth.userId)) throw coreError('Task not found or not accessible');
  return task;
}

function add(ctx: MethodContext) {
  const fields = pickRecord(ctx.params, 'fields', 'FIELDS');
  if (!fields) throw coreError('fields is required');
  const title = typeof fields.TITLE === 'string' ? fields.TITLE.trim() : '';
  if (title === '') throw coreError('TITLE is required');
  const responsibleId = Number(fields.RESPONSIBLE_ID);
  const responsible = Number.isInteger(responsibleId) ? ctx.portal.users.get(responsibleId) : undefined;
  if (!responsible || !responsible.ACTIVE) throw coreError('RESPONSIBLE_ID: the responsible person is not found or not active');
  const deadline = fields.DEADLINE === undefined || fields.DEADLINE === '' ? null : String(fields.DEADLINE);
  if (deadline !== null && Number.isNaN(Date.parse(deadline))) throw coreError('DEADLINE is not a date');
  const book = bookOf(ctx.portal);
  const task: EmulatedTask = {
    id: book.nextTaskId++,
    // tasks.task.getFields: a TITLE longer than 460 characters is cut without warning.
    title: title.slice(0, 460),
    description: typeof fields.DESCRIPTION === 'string' ? fields.DESCRIPTION : '',
    responsibleId,
    createdBy: Number(fields.CREATED_BY ?? ctx.auth.userId),
    deadline: deadline === null ? null : isoWithOffset(Date.parse(deadline)),
    crm: crmBindings(ctx.portal, fields.UF_CRM_TASK),
    status: 2,
    closedBy: null,
    comments: [],
  };
  book.tasks.set(task.id, task);
  return ok({ task: taskView(task) });
}

function complete(ctx: MethodContext) {
  const task = taskFor(ctx, ctx.params, 'taskId', 'TASKID', 'id');
  task.status = 5;
  task.closedBy = ctx.auth.userId;
  return ok({ task: taskView(task) });
}

function comment(ctx: MethodContext) {
  const task = taskFor(ctx, ctx.params, 'TASKID', 'taskId', '0');
  const fields = pickRecord(ctx.params, 'FIELDS', 'fields', '1');
  const message = fields && typeof fields.POST_MESSAGE === 'string' ? fields.POST_MESSAGE : pickString(ctx.params, 'POST_MESSAGE');
  if (!message || message.trim() === '') throw coreError('POST_MESSAGE is required');
  const book = bookOf(ctx.portal);
  const id = book.nextCommentId++;
  task.comments.push({ id, authorId: Number(fields?.AUTHOR_ID ?? ctx.auth.userId), message });
  return ok(id);
}

export const taskMethods: MethodTable = {
  'tasks.task.add': { run: add },
  'tasks.task.complete': { run: complete },
  'task.commentitem.add': { run: comment },
};
