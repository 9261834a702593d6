/**
 * The Bitrix24 REST calls contacts/ makes, and the only place in contacts/ that knows Bitrix24 field names.
 * They go through the portal's BitrixClient (rate limit, token refresh, retries). When the typed wrappers in
 * server/bitrix/crm.ts and users.ts cover these methods, this file shrinks to re-exports of them.
 */
import type { BitrixClient } from '../bitrix/types.js';
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

const METHOD_SUFFIX: Record<PersonEntityType, string> = { CONTACT: 'contact', LEAD: 'lead', COMPANY: 'company' };

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

/**
 * Ids of contacts, leads and companies having one of these numbers, all three types in ONE request
 * (no entity_type). Lower-case parameter names as in the official docs; at most 20 values
 * (b24restdocs: crm/duplicates/crm-duplicate-find-by-comm.md). An empty answer may come back as `[]`.
 */
export async function findByPhone(client: BitrixClient, values: string[]): Promise<DuplicateHits> {
  const result = await client.call<unknown>('crm.duplicate.findbycomm', { type: 'PHONE', values: values.slice(0, 20) });
  const hits: DuplicateHits = {};
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return hits;
  const record = result as Record<string, unknown>;
  for (const type of ['CONTACT', 'COMPANY', 'LEAD'] as const) {
    const ids = record[type];
    if (!Array.isArray(ids)) continue;
    const clean = ids.map(positiveInt).filter((id): id is number => id !== null);
    if (clean.length > 0) hits[type] = clean;
  }
  return hits;
}

/** Creates the record `crm.contact.add` / `crm.lead.add` describes; returns its id. */
export async function addPerson(
  client: BitrixClient,
  entityType: 'CONTACT' | 'LEAD',
  person: { name: string; phone: string; assignedById: number | undefined },
): Promise<number> {
  // A lead's card and lists show TITLE; its NAME is the person. Both carry the name so the lead reads right in
  // Bitrix24 and contact sync (which uses NAME/LAST_NAME) can put it in the PBX phonebook.
  const fields: Record<string, unknown> = {
    NAME: person.name,
    PHONE: [{ VALUE: person.phone, VALUE_TYPE: 'WORK' }],
    SOURCE_ID: 'CALL',
    OPENED: 'Y',
  };
  if (entityType === 'LEAD') fields.TITLE = person.name;
  if (person.assignedById !== undefined) fields.ASSIGNED_BY_ID = person.assignedById;
  const result = await client.call<unknown>(`crm.${METHOD_SUFFIX[entityType]}.add`, { fields, params: { REGISTER_SONET_EVENT: 'Y' } });
  const id = positiveInt(result);
  if (id === null) throw new Error(`crm.${METHOD_SUFFIX[entityType]}.add answered without an id`);
  return id;
}

/** Reads one contact, lead or company (`crm.<type>.get`); null when it no longer exists. */
export async function getPerson(client: BitrixClient, entityType: PersonEntityType, id: number): Promise<CrmPerson | null> {
  const result = await client.call<unknown>(`crm.${METHOD_SUFFIX[entityType]}.get`, { id });
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
  const result = await client.call<unknown>('crm.company.get', { id });
  return typeof result === 'object' && result !== null ? text((result as Record<string, unknown>).TITLE) : '';
}

/**
 * Active users, all pages (`user.get` with FILTER ACTIVE; b24restdocs: user/user-get.md). UF_PHONE_INNER is only
 * returned with the `user` scope; without it every inner phone reads empty and binding falls back to e-mail.
 */
export async function listActiveUsers(client: BitrixClient): Promise<CrmUser[]> {
  const rows = await client.list<unknown>('user.get', { FILTER: { ACTIVE: true }, sort: 'ID', order: 'ASC' });
  const users: CrmUser[] = [];
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const r = row as Record<string, unknown>;
    const id = positiveInt(r.ID);
    // user.get may ignore FILTER on some boxes; an inactive user must never be bound.
    if (id === null || r.ACTIVE === false || r.ACTIVE === 'N') continue;
    users.push({
      id,
      name: [text(r.NAME), text(r.LAST_NAME)].filter(Boolean).join(' ') || text(r.EMAIL) || `#${id}`,
      email: text(r.EMAIL),
      innerPhone: text(r.UF_PHONE_INNER),
    });
  }
  return users;
}

export function isPersonType(type: CrmEntityType): type is PersonEntityType {
  return type === 'CONTACT' || type === 'LEAD' || type === 'COMPANY';
}
