/**
 * crm.duplicate.findbycomm, crm.contact/lead/company get/add/update, crm.activity.add — param builders and reads.
 * https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html
 */
import type { CrmEntityType, CrmRef } from '../store/records.js';
import type { RestCall } from './telephony.js';

export type CrmKind = Exclude<CrmEntityType, 'DEAL'>;

/** Lower-case params, as the docs and CRest spell them; at most 20 values per request. */
export function findByPhone(phones: string[], entityType?: CrmKind): RestCall {
  const params: Record<string, unknown> = { type: 'PHONE', values: phones.slice(0, 20) };
  if (entityType) params.entity_type = entityType;
  return { method: 'crm.duplicate.findbycomm', params };
}

/** {"CONTACT":[275,2297], "LEAD":[…]} → refs; a contact is preferred over a company, a company over a lead. */
export function readDuplicates(result: unknown): CrmRef[] {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return [];
  const r = result as Record<string, unknown>;
  const order: CrmKind[] = ['CONTACT', 'COMPANY', 'LEAD'];
  return order.flatMap((entityType) => {
    const ids = r[entityType];
    if (!Array.isArray(ids)) return [];
    return ids.map(Number).filter((id) => Number.isInteger(id) && id > 0).map((entityId) => ({ entityType, entityId }));
  });
}

const family = (t: CrmEntityType) => `crm.${t.toLowerCase()}`;

export const getEntity = (ref: CrmRef): RestCall => ({ method: `${family(ref.entityType)}.get`, params: { id: ref.entityId } });

/** The responsible user (ASSIGNED_BY_ID) of a record `crm.<type>.get` answered; undefined when it names none. */
export function readResponsibleUserId(entity: unknown): number | undefined {
  if (typeof entity !== 'object' || entity === null) return undefined;
  const id = Number((entity as Record<string, unknown>).ASSIGNED_BY_ID);
  return Number.isInteger(id) ? id : undefined;
}

export interface CrmPhone {
  value: string;
  valueType?: 'WORK' | 'MOBILE' | 'FAX' | 'HOME' | 'PAGER' | 'MAILING' | 'OTHER';
}

export interface NewCrmEntity {
  title?: string;
  name?: string;
  lastName?: string;
  phones: CrmPhone[];
  assignedById?: number;
  sourceId?: string;
}

export function addEntity(entityType: CrmKind, entity: NewCrmEntity): RestCall {
  const fields: Record<string, unknown> = {
    PHONE: entity.phones.map((p) => ({ VALUE: p.value, VALUE_TYPE: p.valueType ?? 'WORK' })),
  };
  if (entity.title !== undefined) fields.TITLE = entity.title;
  if (entity.name !== undefined) fields.NAME = entity.name;
  if (entity.lastName !== undefined) fields.LAST_NAME = entity.lastName;
  if (entity.assignedById !== undefined) fields.ASSIGNED_BY_ID = entity.assignedById;
  if (entity.sourceId !== undefined) fields.SOURCE_ID = entity.sourceId;
  return { method: `${family(entityType)}.add`, params: { fields, params: { REGISTER_SONET_EVENT: 'Y' } } };
}

export function updateEntity(ref: CrmRef, fields: Record<string, unknown>): RestCall {
  return { method: `${family(ref.entityType)}.update`, params: { id: ref.entityId, fields } };
}

/** CRM owner type ids: 1 lead, 2 deal, 3 contact, 4 company (crm data types). */
const OWNER_TYPE_ID: Record<CrmEntityType, number> = { LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4 };

/** A manual call activity (TYPE_ID 2); normally finish() creates it — this is for calls Bitrix24 cannot log. */
export function addCallActivity(input: {
  owner: CrmRef; responsibleId: number; phone: string; subject: string; start: Date; end: Date; incoming: boolean; description?: string;
}): RestCall {
  return {
    method: 'crm.activity.add',
    params: {
      fields: {
        OWNER_TYPE_ID: OWNER_TYPE_ID[input.owner.entityType],
        OWNER_ID: input.owner.entityId,
        TYPE_ID: 2,
        COMMUNICATIONS: [{ VALUE: input.phone, ENTITY_ID: input.owner.entityId, ENTITY_TYPE_ID: OWNER_TYPE_ID[input.owner.entityType] }],
        RESPONSIBLE_ID: input.responsibleId,
        SUBJECT: input.subject,
        START_TIME: input.start.toISOString(),
        END_TIME: input.end.toISOString(),
        COMPLETED: 'Y',
        DIRECTION: input.incoming ? 1 : 2,
        ...(input.description ? { DESCRIPTION: input.description } : {}),
      },
    },
  };
}
