/**
 * The Bitrix24 reads and writes contacts/ makes, through the typed wrappers of server/bitrix/ (crm.ts, users.ts)
 * and the portal's BitrixClient (rate limit, token refresh, retries). Reading a record's fields into CrmPerson is
 * done here because contact sync is its only reader.
 */
import { addEntity, findByPhone as findByPhoneCall, getEntity, readDuplicates } from '../bitrix/crm.js';
import type { RestCall } from '../bitrix/telephony.js';
import type { BitrixClient } from '../bitrix/types.js';
import { listActiveUsers as listUsers } from '../bitrix/users.js';
import type { CrmEntityType } from '../store/records.js';

export type PersonEntityType = 'CONTACT' | 'LEAD' | 'COMPANY';

export interface CrmUser {
  id: number;
  name: string;
  email: string;
  /** UF_PHONE_INNER: the user's internal number in Bitrix24. */
  innerPhone: string;
}

export interface CrmPhone {
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
  phones: CrmPhone[];
  emails: string[];
}

/** `crm.duplicate.findbycomm` answer: ids per entity type, keys only for types with hits. */
export type DuplicateHits = Partial<Record<PersonEntityType, number[]>>;

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
}

function positiveInt(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

function multifield(value: unknown): CrmPhone[] {
  if (!Array.isArray(value)) return [];
  const out: CrmPhone[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    const v = text(record.VALUE);
    if (v) out.push({ kind: text(record.VALUE_TYPE).toUpperCase() || 'OTHER', value: v });
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
export async function findByPhone(client: BitrixClient, values: string[]): Promise<DuplicateHits> {
  const hits: DuplicateHits = {};
  for (const ref of readDuplicates(await send<unknown>(client, findByPhoneCall(values)))) {
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
  const id = positiveInt(await send<unknown>(client, request));
  if (id === null) throw new Error(`${request.method} answered without an id`);
  return id;
}

/** Reads one contact, lead or company (`crm.<type>.get`); null when it no longer exists. */
export async function getPerson(client: BitrixClient, entityType: PersonEntityType, id: number): Promise<CrmPerson | null> {
  const result = await send<unknown>(client, getEntity({ entityType, entityId: id }));
  if (typeof result !== 'object' || result === null) return null;
  const r = result as Record<string, unknown>;
  const title = text(r.TITLE);
  return {
    entityType,
    id,
    firstName: entityType === 'COMPANY' ? '' : text(r.NAME),
    lastName: entityType === 'COMPANY' ? '' : text(r.LAST_NAME),
    title,
    companyName: entityType === 'COMPANY' ? title : text(r.COMPANY_TITLE),
    companyId: entityType === 'CONTACT' ? positiveInt(r.COMPANY_ID) : null,
    phones: multifield(r.PHONE),
    emails: multifield(r.EMAIL).map((e) => e.value),
  };
}

/** The TITLE of a company, for a contact's company field. */
export async function getCompanyTitle(client: BitrixClient, id: number): Promise<string> {
  const result = await send<unknown>(client, getEntity({ entityType: 'COMPANY', entityId: id }));
  return typeof result === 'object' && result !== null ? text((result as Record<string, unknown>).TITLE) : '';
}

/**
 * Active users, all pages. Auto-bind needs EMAIL, which `user_basic` gives (contact data; `user_brief` leaves it out)
 * and UF_PHONE_INNER, which already `user_brief` gives: the full `user` scope (edit and invite users) is not needed.
 * Field lists per scope: https://dev.1c-bitrix.ru/rest_help/users/index.php and the b24jssdk UserBrief/UserBasic types.
 */
export async function listActiveUsers(client: BitrixClient): Promise<CrmUser[]> {
  // user.get may ignore FILTER on some boxes; an inactive user must never be bound.
  return (await listUsers(client)).filter((u) => u.active).map((u) => ({
    id: u.id,
    name: [u.name.trim(), u.lastName.trim()].filter(Boolean).join(' ') || u.email.trim() || `#${u.id}`,
    email: u.email.trim(),
    innerPhone: u.innerPhone.trim(),
  }));
}

export function isPersonType(type: CrmEntityType): type is PersonEntityType {
  return type === 'CONTACT' || type === 'LEAD' || type === 'COMPANY';
}
