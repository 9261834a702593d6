/**
 * CRM entities (contacts, leads, companies, deals) with the `crm_multifield` PHONE/EMAIL/WEB/IM values.
 * Multifield format and update rules: https://apidocs.bitrix24.com/api-reference/crm/data-types.html#crm_multifield,
 * https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-update.html
 */
import { dealFields } from './deal.js';
import { isRecord, isTruthyFlag } from './params.js';
import { samePhone } from './phone.js';
import { isoWithOffset } from './time-envelope.js';
import type { CrmEntity, CrmEntityType, MultiField, Portal } from './state.js';

export const MULTI_FIELDS = ['PHONE', 'EMAIL', 'WEB', 'IM'] as const;
export type MultiFieldType = (typeof MULTI_FIELDS)[number];

/** crm_enum_ownertype: 1 lead, 2 deal, 3 contact, 4 company. https://apidocs.bitrix24.com/api-reference/crm/data-types.html */
export const OWNER_TYPE_ID: Record<CrmEntityType, number> = { LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4 };

export function entityTypeFromOwnerTypeId(id: number): CrmEntityType | null {
  const found = (Object.entries(OWNER_TYPE_ID) as [CrmEntityType, number][]).find(([, v]) => v === id);
  return found ? found[0] : null;
}

function multiItems(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter(isRecord);
  if (isRecord(value)) return Object.values(value).filter(isRecord);
  return [];
}

function scalarFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    const key = k.toUpperCase();
    if ((MULTI_FIELDS as readonly string[]).includes(key) || key === 'ID') continue;
    out[key] = v;
  }
  return out;
}

/** Adds, changes or deletes multifield values the way crm.<entity>.update does. */
export function applyMultiFields(portal: Portal, entity: CrmEntity, fields: Record<string, unknown>): void {
  for (const type of MULTI_FIELDS) {
    const raw = fields[type] ?? fields[type.toLowerCase()];
    if (raw === undefined) continue;
    for (const item of multiItems(raw)) {
      const id = item.ID === undefined ? undefined : Number(item.ID);
      const value = item.VALUE === undefined || item.VALUE === null ? '' : String(item.VALUE);
      const valueType = item.VALUE_TYPE === undefined ? 'WORK' : String(item.VALUE_TYPE);
      if (id !== undefined && Number.isFinite(id)) {
        const existing = entity.multi.find((m) => m.ID === id && m.TYPE_ID === type);
        if (!existing) continue;
        if (isTruthyFlag(item.DELETE) || value === '') {
          entity.multi = entity.multi.filter((m) => m !== existing);
        } else {
          existing.VALUE = value;
          if (item.VALUE_TYPE !== undefined) existing.VALUE_TYPE = valueType;
        }
      } else if (value !== '') {
        entity.multi.push({ ID: portal.nextMultiId++, TYPE_ID: type, VALUE: value, VALUE_TYPE: valueType });
      }
    }
  }
}

export function createEntity(portal: Portal, type: CrmEntityType, fields: Record<string, unknown>, userId: number): CrmEntity {
  const store = portal.crm.get(type);
  if (!store) throw new Error(`no store for ${type}`);
  const id = portal.nextCrmId[type]++;
  const now = isoWithOffset(Date.now());
  const scalars = type === 'DEAL' ? dealFields(null, scalarFields(fields)) : scalarFields(fields);
  const entity: CrmEntity = {
    id,
    type,
    fields: { ASSIGNED_BY_ID: String(userId), CREATED_BY_ID: String(userId), OPENED: 'Y', ...scalars },
    multi: [],
    createdAt: now,
    updatedAt: now,
  };
  // Deals have no phone or e-mail of their own: they reach people through their contact and company.
  if (type !== 'DEAL') applyMultiFields(portal, entity, fields);
  store.set(id, entity);
  return entity;
}

export function updateEntity(portal: Portal, entity: CrmEntity, fields: Record<string, unknown>): void {
  if (entity.type === 'DEAL') {
    entity.fields = dealFields(entity.fields, scalarFields(fields));
  } else {
    Object.assign(entity.fields, scalarFields(fields));
    applyMultiFields(portal, entity, fields);
  }
  entity.updatedAt = isoWithOffset(Date.now());
}

export function getEntity(portal: Portal, type: CrmEntityType, id: number): CrmEntity | undefined {
  return portal.crm.get(type)?.get(id);
}

function multiView(m: MultiField): Record<string, unknown> {
  return { ID: String(m.ID), VALUE_TYPE: m.VALUE_TYPE, VALUE: m.VALUE, TYPE_ID: m.TYPE_ID };
}

/** The legacy (UPPER_CASE) view: values as strings, multifields as `[{ID, VALUE_TYPE, VALUE, TYPE_ID}]`. */
export function legacyView(entity: CrmEntity, withMulti = true): Record<string, unknown> {
  const base: Record<string, unknown> = { ID: String(entity.id) };
  for (const [k, v] of Object.entries(entity.fields)) base[k] = v === null || v === undefined ? null : typeof v === 'object' ? v : String(v);
  base.DATE_CREATE = entity.createdAt;
  base.DATE_MODIFY = entity.updatedAt;
  if (entity.type === 'DEAL') return base;
  base.HAS_PHONE = entity.multi.some((m) => m.TYPE_ID === 'PHONE') ? 'Y' : 'N';
  base.HAS_EMAIL = entity.multi.some((m) => m.TYPE_ID === 'EMAIL') ? 'Y' : 'N';
  if (withMulti) {
    for (const type of MULTI_FIELDS) {
      const values = entity.multi.filter((m) => m.TYPE_ID === type);
      if (values.length > 0) base[type] = values.map(multiView);
    }
  }
  return base;
}

export function displayName(entity: CrmEntity): string {
  const f = entity.fields;
  const personal = [f.NAME, f.LAST_NAME].filter((x) => typeof x === 'string' && x !== '').join(' ');
  if (entity.type === 'COMPANY') return String(f.TITLE ?? '');
  return personal !== '' ? personal : String(f.TITLE ?? '');
}

/** Entities having this phone, in the order Bitrix24's duplicate search returns types: lead, contact, company. */
export function findByPhone(portal: Portal, phone: string, types: CrmEntityType[] = ['LEAD', 'CONTACT', 'COMPANY']): CrmEntity[] {
  const out: CrmEntity[] = [];
  for (const type of types) {
    for (const entity of portal.crm.get(type)?.values() ?? []) {
      if (entity.multi.some((m) => m.TYPE_ID === 'PHONE' && samePhone(m.VALUE, phone))) out.push(entity);
    }
  }
  return out;
}

export function findByEmail(portal: Portal, email: string, types: CrmEntityType[] = ['LEAD', 'CONTACT', 'COMPANY']): CrmEntity[] {
  const want = email.trim().toLowerCase();
  const out: CrmEntity[] = [];
  for (const type of types) {
    for (const entity of portal.crm.get(type)?.values() ?? []) {
      if (entity.multi.some((m) => m.TYPE_ID === 'EMAIL' && m.VALUE.trim().toLowerCase() === want)) out.push(entity);
    }
  }
  return out;
}
