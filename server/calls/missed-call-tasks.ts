/**
 * Missed-call tasks (issue 13): a missed inbound call becomes a Bitrix24 task for the person who should call back;
 * the next missed calls from the same number comment on it; the first answered call with the number (inbound or
 * outbound, by anyone) completes it with a comment naming that call.
 *
 * Durability: the calls service calls `onCallLogged` while the call's finish intent is still pending in the call
 * record, so a crash before this returns makes the service redo it at the next start. Every write is an outbox
 * item with a key derived from the PBX call id (a redo enqueues nothing new), and the open task of a number is kept
 * in the store (missed-call-tasks.json), so a restart between the missed call and the callback loses nothing.
 * Work on one number is serialized here, so two missed calls ending together make one task and one comment.
 */
import { getEntity } from '../bitrix/crm.js';
import { addTask, commentTask, completeTask } from '../bitrix/tasks.js';
import type { BitrixClients } from '../bitrix/types.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import { ref, type NewOutboxItem, type Outbox } from '../outbox/types.js';
import type { CallRecord, CrmRef, MissedCallTaskEntry, OutboxItem } from '../store/records.js';
import type { Store } from '../store/types.js';

export const MISSED_TASK_HANDLERS = Object.freeze({ created: 'missedCallTasks.created' });

/** Results that mean no one talked to the caller. `failed` (the caller gave up at once, the PBX refused the call,
 * e.g. a number on the PBX's blocklist) is not a missed call anyone should return. */
const MISSED_RESULTS = new Set(['missed', 'busy', 'voicemail']);

export interface MissedCallTasksDeps {
  log: Logger;
  store: Pick<Store, 'missedCallTasks' | 'settings' | 'bindings' | 'portals'>;
  outbox: Outbox;
  clients: BitrixClients;
  /** The CRM read for the record's responsible and name waits this long at most (ms); then the next candidate. */
  crmBudgetMs?: number;
  now?: () => number;
}

const taskGroup = (phone: string): string => `missed-task:${phone}`;
const createItemId = (portal: string, pbxCallId: string): string => `missed-task:${portal}:${pbxCallId}:add`;
const itemKey = (portal: string, pbxCallId: string, what: string): string => `${portal}:${pbxCallId}:${what}`;

interface CrmFacts {
  responsibleId?: number;
  name?: string;
}

export class MissedCallTasks {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly budgetMs: number;
  /** One task per portal + number at a time: two missed calls from one number must not open two tasks. */
  private readonly perNumber = createKeyedSerial();

  constructor(private readonly deps: MissedCallTasksDeps) {
    this.log = deps.log.child({ part: 'missed-call-tasks' });
    this.now = deps.now ?? Date.now;
    this.budgetMs = deps.crmBudgetMs ?? 1_500;
  }

  /** By name, before outbox.start(): the id of a task created before a crash still reaches the stored entry. */
  registerHandlers(outbox: Outbox): void {
    outbox.onResult(MISSED_TASK_HANDLERS.created, (item, result) => this.onCreated(item, result));
  }

  /** The open missed-call tasks of the portal, oldest first (the Activity page). */
  list(portal: string): MissedCallTaskEntry[] {
    return this.deps.store.missedCallTasks.list(portal).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** A call was logged (its finish queued): open, comment or close the number's task. Safe to call twice. */
  onCallLogged(record: CallRecord): Promise<void> {
    if (!record.external || record.direction === 'internal') return Promise.resolve();
    return this.perNumber.run(`${record.portal}\u0000${record.external}`, () => this.handle(record));
  }

  private async handle(record: CallRecord): Promise<void> {
    const open = this.deps.store.missedCallTasks.get(record.portal, record.external);
    if (record.result === 'answered') {
      if (open && !open.calls.includes(record.pbxCallId)) await this.close(open, record);
      return;
    }
    if (record.direction !== 'inbound' || !MISSED_RESULTS.has(record.result ?? '')) return;
    const settings = this.deps.store.settings.get(record.portal).missedCallTasks;
    if (open) {
      // A redo after a crash finds its own call in the entry and enqueues the same keyed item again (a no-op).
      if (open.calls[0] === record.pbxCallId) {
        await this.deps.outbox.enqueue([this.createItem(open)]);
        return;
      }
      if (!settings.enabled && !open.calls.includes(record.pbxCallId)) return;
      await this.deps.outbox.enqueue([this.commentItem(open, record)]);
      if (!open.calls.includes(record.pbxCallId)) {
        await this.deps.store.missedCallTasks.put({ ...open, calls: [...open.calls, record.pbxCallId] });
      }
      return;
    }
    if (!settings.enabled) return;
    await this.open(record, settings.defaultUserId, settings.deadlineHours);
  }

  private async open(record: CallRecord, defaultUserId: number | null, deadlineHours: number): Promise<void> {
    const facts = record.crm ? await this.crmFacts(record.portal, record.crm) : {};
    const rang = record.extensions.map((ext) => this.deps.store.bindings.userForExtension(record.portal, ext)).find((u) => u !== undefined);
    const [responsibleId, responsibleFrom] = facts.responsibleId !== undefined ? [facts.responsibleId, 'crm' as const]
      : rang !== undefined ? [rang, 'rang' as const]
        : defaultUserId !== null ? [defaultUserId, 'default' as const] : [undefined, undefined];
    if (responsibleId === undefined || responsibleFrom === undefined) {
      this.log.warn({ portal: record.portal, callId: record.pbxCallId },
        'missed call: no task created, no responsible is known (no CRM responsible, no bound extension rang, no default employee set)');
      return;
    }
    // Plain hours after the call ended, not working hours: Bitrix24's own working-time calendar is not read.
    const at = record.endedAt ?? this.now();
    const entry: MissedCallTaskEntry = {
      portal: record.portal,
      phone: record.external,
      createItemId: createItemId(record.portal, record.pbxCallId),
      responsibleId,
      responsibleFrom,
      title: `Missed call from ${facts.name ? `${facts.name} (${record.external})` : record.external}`,
      ...(record.crm ? { crm: record.crm } : {}),
      calls: [record.pbxCallId],
      createdAt: at,
      deadline: at + Math.round(deadlineHours * 3_600_000),
    };
    await this.deps.outbox.enqueue([this.createItem(entry)]);
    await this.deps.store.missedCallTasks.put(entry);
    this.log.info({ portal: record.portal, callId: record.pbxCallId, responsibleId, responsibleFrom }, 'missed call: task queued');
  }

  private async close(open: MissedCallTaskEntry, record: CallRecord): Promise<void> {
    const how = record.direction === 'outbound'
      ? `outbound call to ${record.external} from extension ${record.extensions[0] ?? 'unknown'}`
      : `inbound call from ${record.external} answered by extension ${record.answeredBy ?? 'unknown'}`;
    const message = `Closed by the ${how} at ${new Date(record.answeredAt ?? record.startedAt).toISOString()} (PBX call ${record.pbxCallId}).`;
    const taskId = this.taskIdParam(open);
    const comment = commentTask(taskId, message);
    const complete = completeTask(taskId);
    await this.deps.outbox.enqueue([
      { ...this.base(open, record.pbxCallId, 'missed-task-closing-comment'), method: comment.method, params: comment.params },
      { ...this.base(open, record.pbxCallId, 'missed-task-complete'), method: complete.method, params: complete.params },
    ]);
    await this.deps.store.missedCallTasks.remove(open.portal, open.phone);
    this.log.info({ portal: open.portal, callId: record.pbxCallId, taskId: open.taskId }, 'answered call: missed-call task completion queued');
  }

  private createItem(entry: MissedCallTaskEntry): NewOutboxItem {
    const [first = ''] = entry.calls;
    const domain = this.deps.store.portals.get(entry.portal)?.domain;
    const link = entry.crm && domain ? `https://${domain}/crm/${entry.crm.entityType.toLowerCase()}/details/${entry.crm.entityId}/` : '';
    const call = addTask({
      title: entry.title,
      description: [
        `No one answered the call from ${entry.phone} at ${new Date(entry.createdAt).toISOString()}. Please call back.`,
        link ? `CRM record: ${link}` : '',
        `PBX call ${first}.`,
      ].filter(Boolean).join('\n'),
      responsibleId: entry.responsibleId,
      deadline: new Date(entry.deadline),
      crm: entry.crm ?? null,
    });
    return {
      ...this.base(entry, first, 'missed-task'),
      id: entry.createItemId,
      method: call.method,
      params: call.params,
      onDone: MISSED_TASK_HANDLERS.created,
      meta: { phone: entry.phone },
    };
  }

  private commentItem(open: MissedCallTaskEntry, record: CallRecord): NewOutboxItem {
    const call = commentTask(this.taskIdParam(open),
      `Another missed call from ${record.external} at ${new Date(record.startedAt).toISOString()} (PBX call ${record.pbxCallId}).`);
    return { ...this.base(open, record.pbxCallId, 'missed-task-comment'), method: call.method, params: call.params };
  }

  private base(entry: MissedCallTaskEntry, pbxCallId: string, what: string): Pick<NewOutboxItem, 'portal' | 'group' | 'key'> {
    return { portal: entry.portal, group: taskGroup(entry.phone), key: itemKey(entry.portal, pbxCallId, what) };
  }

  /** The task id once known; until then a reference to tasks.task.add's answer (`result.task.id`), resolved when sent. */
  private taskIdParam(entry: MissedCallTaskEntry): unknown {
    return entry.taskId ?? ref(entry.createItemId, 'task', 'id');
  }

  private async onCreated(item: OutboxItem, result: unknown): Promise<void> {
    const phone = typeof item.meta?.phone === 'string' ? item.meta.phone : undefined;
    const task = typeof result === 'object' && result !== null ? (result as { task?: { id?: unknown } }).task : undefined;
    const taskId = Number(task?.id);
    if (!phone || !Number.isInteger(taskId) || taskId <= 0) return;
    const open = this.deps.store.missedCallTasks.get(item.portal, phone);
    if (open && open.createItemId === item.id && open.taskId === undefined) {
      await this.deps.store.missedCallTasks.put({ ...open, taskId });
    }
  }

  /** The CRM record's responsible (ASSIGNED_BY_ID) and name, within the budget; nothing on error or past it. */
  private async crmFacts(portal: string, crm: CrmRef): Promise<CrmFacts> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = getEntity(crm);
      const entity = await Promise.race([
        this.deps.clients.forPortal(portal).call<Record<string, unknown>>(call.method, call.params),
        new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), this.budgetMs); }),
      ]);
      if (!entity) return {};
      const responsibleId = Number(entity.ASSIGNED_BY_ID);
      const person = [entity.NAME, entity.LAST_NAME].filter((p): p is string => typeof p === 'string' && p.trim() !== '').join(' ');
      const name = person || (typeof entity.TITLE === 'string' ? entity.TITLE : '');
      return {
        ...(Number.isInteger(responsibleId) && responsibleId > 0 ? { responsibleId } : {}),
        ...(name ? { name } : {}),
      };
    } catch (err) {
      this.log.warn({ err, portal }, 'missed call: could not read the CRM record; the task goes to the next candidate');
      return {};
    } finally {
      clearTimeout(timer);
    }
  }
}
