/**
 * crm.activity.add/get/list, crm.timeline.comment.add, im.notify.system.add / im.notify.personal.add / im.notify.
 * https://apidocs.bitrix24.com/api-reference/crm/timeline/activities/activity-base/crm-activity-add.html (-list),
 * https://apidocs.bitrix24.com/api-reference/crm/timeline/comments/crm-timeline-comment-add.html,
 * https://apidocs.bitrix24.com/api-reference/chats/notifications/im-notify-system-add.html
 */
import { entityTypeFromOwnerTypeId, getEntity } from '../crm-store.js';
import { canReadActivity } from '../crm-rights.js';
import { RestError, argumentError } from '../errors.js';
import { isRecord, pickArray, pickInt, pickRecord, pickString, type Params } from '../params.js';
import type { Activity, CrmEntityType, Portal } from '../state.js';
import { isoWithOffset } from '../time-envelope.js';
import { matchesCrmFilterValue } from './filter.js';
import { ok, page, type MethodContext, type MethodTable } from './types.js';

const crmError = (description: string): RestError => new RestError('', description, 400);

/** crm.activity.fields: DEADLINE is not set directly; it is END_TIME for a task (TYPE_ID 3), START_TIME otherwise. */
function deadlineOf(a: Activity): string {
  return a.TYPE_ID === 3 ? a.END_TIME : a.START_TIME;
}

function activityView(a: Activity): Record<string, unknown> {
  return {
    ...a,
    DEADLINE: deadlineOf(a),
    ID: String(a.ID),
    OWNER_TYPE_ID: String(a.OWNER_TYPE_ID),
    OWNER_ID: String(a.OWNER_ID),
    TYPE_ID: String(a.TYPE_ID),
    DIRECTION: String(a.DIRECTION),
    RESPONSIBLE_ID: String(a.RESPONSIBLE_ID),
  };
}

export function addActivity(portal: Portal, fields: Record<string, unknown>, userId: number): number {
  const ownerTypeId = Number(fields.OWNER_TYPE_ID);
  const ownerId = Number(fields.OWNER_ID);
  const typeId = Number(fields.TYPE_ID);
  const comms = Array.isArray(fields.COMMUNICATIONS) ? fields.COMMUNICATIONS.filter(isRecord) : [];
  if (!Number.isFinite(ownerTypeId) || !Number.isFinite(ownerId) || ownerId <= 0) throw crmError('OWNER_ID is not defined or invalid.');
  const ownerType = entityTypeFromOwnerTypeId(ownerTypeId);
  if (!ownerType || !getEntity(portal, ownerType, ownerId)) throw crmError('Owner not found.');
  if (!Number.isFinite(typeId) || typeId <= 0) throw crmError('TYPE_ID is not defined or invalid.');
  if (comms.length === 0) throw crmError('COMMUNICATIONS is not defined or invalid.');
  const id = portal.nextActivityId++;
  portal.activities.set(id, {
    ID: id,
    OWNER_TYPE_ID: ownerTypeId,
    OWNER_ID: ownerId,
    TYPE_ID: typeId,
    PROVIDER_ID: String(fields.PROVIDER_ID ?? (typeId === 2 ? 'VOXIMPLANT_CALL' : 'REST_APP')),
    PROVIDER_TYPE_ID: String(fields.PROVIDER_TYPE_ID ?? (typeId === 2 ? 'CALL' : '')),
    SUBJECT: String(fields.SUBJECT ?? ''),
    DIRECTION: Number(fields.DIRECTION ?? 0),
    COMPLETED: String(fields.COMPLETED ?? 'N').toUpperCase() === 'Y' ? 'Y' : 'N',
    RESPONSIBLE_ID: Number(fields.RESPONSIBLE_ID ?? userId),
    START_TIME: String(fields.START_TIME ?? isoWithOffset(Date.now())),
    END_TIME: String(fields.END_TIME ?? fields.START_TIME ?? isoWithOffset(Date.now())),
    DESCRIPTION: String(fields.DESCRIPTION ?? ''),
    COMMUNICATIONS: comms.map((c) => ({ VALUE: String(c.VALUE ?? ''), ENTITY_ID: Number(c.ENTITY_ID ?? ownerId), ENTITY_TYPE_ID: Number(c.ENTITY_TYPE_ID ?? ownerTypeId) })),
    ORIGIN_ID: String(fields.ORIGIN_ID ?? ''),
    FILES: [],
    SETTINGS: isRecord(fields.SETTINGS) ? fields.SETTINGS : {},
  });
  return id;
}

function notify(kind: 'system' | 'personal') {
  return ({ portal, params }: MethodContext) => {
    const userId = pickInt(params, 'USER_ID', 'to', 'TO');
    const message = pickString(params, 'MESSAGE', 'message') ?? '';
    if (userId === undefined || !portal.users.has(userId)) throw argumentError('User not found');
    if (message.trim() === '') throw argumentError('Message can\'t be empty');
    const id = portal.notifications.length + 1;
    portal.notifications.push({ userId, message, tag: pickString(params, 'TAG') ?? '', kind, at: Date.now() });
    return ok(id);
  };
}

function activityFilter(params: Params): Record<string, unknown> {
  return pickRecord(params, 'filter', 'FILTER') ?? {};
}

/** `order: {FIELD: ASC|DESC, …}`: numbers compare as numbers, the rest as text (ISO dates sort as text); ID last. */
function activityOrder(params: Params): (a: Record<string, unknown>, b: Record<string, unknown>) => number {
  const order = Object.entries(pickRecord(params, 'order', 'ORDER') ?? {}).map(([k, v]) => [k.toUpperCase(), String(v).toUpperCase() === 'DESC' ? -1 : 1] as const);
  return (a, b) => {
    for (const [key, dir] of order) {
      const x = a[key];
      const y = b[key];
      const nx = Number(x);
      const ny = Number(y);
      const cmp = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : String(x ?? '').localeCompare(String(y ?? ''));
      if (cmp !== 0) return cmp * dir;
    }
    return Number(a.ID) - Number(b.ID);
  };
}

/** `select`: the named fields and ID; `*` is every field but COMMUNICATIONS and FILES, which must be named. No select: all. */
function selectActivityFields(view: Record<string, unknown>, select: unknown[] | undefined): Record<string, unknown> {
  if (!select || select.length === 0) return view;
  const names = select.map((s) => String(s).toUpperCase());
  const explicitOnly = ['COMMUNICATIONS', 'FILES'];
  return Object.fromEntries(
    Object.entries(view).filter(([k]) => k === 'ID' || names.includes(k) || (names.includes('*') && !explicitOnly.includes(k))),
  );
}

export const activityMethods: MethodTable = {
  'crm.activity.add': {
    run: ({ portal, params, auth }) => {
      const fields = pickRecord(params, 'fields', 'FIELDS');
      if (!fields) throw crmError('The parameter \'fields\' must be array.');
      return ok(addActivity(portal, fields, auth.userId));
    },
  },
  'crm.activity.get': {
    run: ({ portal, params, auth }) => {
      const a = portal.activities.get(pickInt(params, 'id', 'ID') ?? 0);
      if (!a) throw crmError('Not found');
      if (!canReadActivity(portal, auth, a)) throw crmError('Access denied');
      return ok(activityView(a));
    },
  },
  'crm.activity.list': {
    run: ({ portal, params, auth }) => {
      const filter = activityFilter(params);
      const select = pickArray(params, 'select', 'SELECT');
      const items = [...portal.activities.values()]
        .filter((a) => canReadActivity(portal, auth, a))
        .map(activityView)
        .filter((view) => Object.entries(filter).every(([k, v]) => matchesCrmFilterValue(k, view, v)))
        .sort(activityOrder(params))
        .map((view) => selectActivityFields(view, select));
      return page(items, pickInt(params, 'start', 'START'));
    },
  },
  'crm.timeline.comment.add': {
    run: ({ portal, params, auth }) => {
      // Since crm 23.100.0 only the lower-case `fields` key is accepted.
      const fields = pickRecord(params, 'fields');
      if (!fields) throw argumentError('Required parameter "fields" is not set');
      const entityType = String(fields.ENTITY_TYPE ?? '').toLowerCase();
      const entityId = Number(fields.ENTITY_ID);
      const comment = String(fields.COMMENT ?? '');
      const typeMap: Record<string, CrmEntityType> = { contact: 'CONTACT', lead: 'LEAD', company: 'COMPANY', deal: 'DEAL' };
      const type = typeMap[entityType];
      if (!type || !Number.isFinite(entityId) || !getEntity(portal, type, entityId)) throw argumentError('Entity not found');
      if (comment.trim() === '') throw argumentError('Comment is empty');
      const id = portal.comments.length + 1;
      portal.comments.push({ ID: id, ENTITY_TYPE: entityType, ENTITY_ID: entityId, COMMENT: comment, AUTHOR_ID: auth.userId, CREATED: isoWithOffset(Date.now()) });
      return ok(id);
    },
  },
  'im.notify.system.add': { run: notify('system') },
  'im.notify.personal.add': { run: notify('personal') },
  // Legacy alias: `TYPE` SYSTEM|USER. https://apidocs.bitrix24.com/api-reference/chats/notifications/index.html
  'im.notify': {
    run: (ctx) => notify(String(ctx.params.TYPE ?? ctx.params.type ?? 'USER').toUpperCase() === 'SYSTEM' ? 'system' : 'personal')(ctx),
  },
};
