/**
 * crm.duplicate.findbycomm, crm.contact/lead/company get/add/update, crm.activity.add — param builders and reads, and
 * the few calls contacts/ makes through a portal's BitrixClient (lookup, auto-create, contact sync).
 * https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html
 */
import type { CrmEntityType, CrmRef } from '../store/records.js';
import { fieldText, positiveId } from './fields.js';
import type { RestCall } from './telephony.js';
import type { BitrixClient } from './types.js';

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

// What contacts/ reads and writes (lookup, auto-create, contact sync), through the portal's BitrixClient.

export type PersonEntityType = 'CONTACT' | 'LEAD' | 'COMPANY';

export interface CrmPersonPhone {
  /** WORK, MOBILE, FAX, HOME, PAGER, MAILING, OTHER (b24restdocs: crm/data-types.md#crm_multifield). */
  kind: string;
  value: string;
}

/** What contact sync needs of a contact, lead or company. */
export interface CrmPerson {
  entityType: PersonEntityType;
  id: number;
  firstName: string;
  lastName: string;
  /** Company TITLE, or a lead's TITLE. */
  title: string;
  /** The organisation: a lead's COMPANY_TITLE, a contact's company (by COMPANY_ID), a company's own TITLE. */
  companyName: string;
  companyId: number | null;
  phones: CrmPersonPhone[];
  emails: string[];
}

/** `crm.duplicate.findbycomm` answer: ids per entity type, keys only for types with hits. */
export type DuplicateHits = Partial<Record<PersonEntityType, number[]>>;

function multifield(value: unknown): CrmPersonPhone[] {
  if (!Array.isArray(value)) return [];
  const out: CrmPersonPhone[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    const v = fieldText(record.VALUE);
    if (v) out.push({ kind: fieldText(record.VALUE_TYPE).toUpperCase() || 'OTHER', value: v });
  }
  return out;
}

function send<T>(client: BitrixClient, request: RestCall): Promise<T> {
  return client.call<T>(request.method, request.params);
}

/**
 * Ids of contacts, leads and companies having one of these numbers, all three types in ONE request
 * (no entity_type; at most 20 values — b24restdocs: crm/duplicates/crm-duplicate-find-by-comm.md).
 */
export async function findPersonsByPhone(client: BitrixClient, values: string[]): Promise<DuplicateHits> {
  const hits: DuplicateHits = {};
  for (const ref of readDuplicates(await send<unknown>(client, findByPhone(values)))) {
    if (!isPersonType(ref.entityType)) continue;
    (hits[ref.entityType] ??= []).push(ref.entityId);
  }
  return hits;
}

/** Creates a contact or lead (`crm.contact.add` / `crm.lead.add`); returns its id. */
export async function addPerson(
  client: BitrixClient,
  entityType: 'CONTACT' | 'LEAD',
  person: { name: string; phone: string; assignedById: number | undefined },
): Promise<number> {
  // A lead's card and lists show TITLE; its NAME is the person. Both carry the name so the lead reads right in
  // Bitrix24 and contact sync (which uses NAME/LAST_NAME) can put it in the PBX phonebook.
  const request = addEntity(entityType, {
    ...(entityType === 'LEAD' ? { title: person.name } : {}),
    name: person.name,
    phones: [{ value: person.phone, valueType: 'WORK' }],
    ...(person.assignedById !== undefined ? { assignedById: person.assignedById } : {}),
    sourceId: 'CALL',
  });
  const id = positiveId(await send<unknown>(client, request));
  if (id === null) throw new Error(`${request.method} answered without an id`);
  return id;
}

/** Reads one contact, lead or company (`crm.<type>.get`); null when it no longer exists. */
export async function getPerson(client: BitrixClient, entityType: PersonEntityType, id: number): Promise<CrmPerson | null> {
  const result = await send<unknown>(client, getEntity({ entityType, entityId: id }));
  if (typeof result !== 'object' || result === null) return null;
  const r = result as Record<string, unknown>;
  const title = fieldText(r.TITLE);
  return {
    entityType,
    id,
    firstName: entityType === 'COMPANY' ? '' : fieldText(r.NAME),
    lastName: entityType === 'COMPANY' ? '' : fieldText(r.LAST_NAME),
    title,
    companyName: entityType === 'COMPANY' ? title : fieldText(r.COMPANY_TITLE),
    companyId: entityType === 'CONTACT' ? positiveId(r.COMPANY_ID) : null,
    phones: multifield(r.PHONE),
    emails: multifield(r.EMAIL).map((e) => e.value),
  };
}

/** The TITLE of a company, for a contact's company field. */
export async function getCompanyTitle(client: BitrixClient, id: number): Promise<string> {
  const result = await send<unknown>(client, getEntity({ entityType: 'COMPANY', entityId: id }));
  return typeof result === 'object' && result !== null ? fieldText((result as Record<string, unknown>).TITLE) : '';
}

export function isPersonType(type: CrmEntityType): type is PersonEntityType {
  return type === 'CONTACT' || type === 'LEAD' || type === 'COMPANY';
}
