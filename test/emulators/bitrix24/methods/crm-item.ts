/**
 * crm.item.add/get/update/list for leads (1), contacts (3) and companies (4): camelCase fields and the `fm`
 * multifield — an array on add, an object keyed `n0…` (new) or by id (change; empty value deletes) on update;
 * entries without `typeId` are ignored. https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-add.html
 * (-get, -update, -list), https://apidocs.bitrix24.com/tutorials/crm/how-to-edit-crm-objects/how-to-change-email-or-phone.html
 */
import { MULTI_FIELDS, createEntity, entityTypeFromOwnerTypeId, getEntity, updateEntity } from '../crm-store.js';
import { canReadEntity } from '../crm-rights.js';
import { RestError } from '../errors.js';
import { isRecord, pickArray, pickInt, pickRecord, type Params } from '../params.js';
import type { CrmEntity, CrmEntityType, Portal } from '../state.js';
import { matchesCrmFilterValue } from './filter.js';
import { ok, type MethodContext, type MethodOutcome, type MethodTable } from './types.js';

const SPECIAL: Record<string, string> = {
  ID: 'id',
  STATUS_ID: 'stageId',
  DATE_CREATE: 'createdTime',
  DATE_MODIFY: 'updatedTime',
  CREATED_BY_ID: 'createdBy',
  MODIFY_BY_ID: 'updatedBy',
};
const SPECIAL_BACK = Object.fromEntries(Object.entries(SPECIAL).map(([k, v]) => [v, k]));

export function toCamel(upper: string): string {
  if (SPECIAL[upper]) return SPECIAL[upper];
  if (upper.startsWith('UF_')) return upper;
  return upper.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export function toUpper(camel: string): string {
  if (SPECIAL_BACK[camel]) return SPECIAL_BACK[camel];
  if (camel.startsWith('UF_')) return camel;
  return camel.replace(/([A-Z])/g, '_$1').toUpperCase();
}

function itemView(entity: CrmEntity): Record<string, unknown> {
  const out: Record<string, unknown> = { id: entity.id, createdTime: entity.createdAt, updatedTime: entity.updatedAt };
  for (const [k, v] of Object.entries(entity.fields)) {
    const key = toCamel(k);
    if (k === 'OPENED') out.opened = v === 'Y' || v === true;
    else if (/_ID$/.test(k) && v !== null && v !== '' && Number.isFinite(Number(v))) out[key] = Number(v);
    else out[key] = v;
  }
  out.fm = entity.multi.map((m) => ({ id: m.ID, typeId: m.TYPE_ID, valueType: m.VALUE_TYPE, value: m.VALUE }));
  return out;
}

function entityTypeOf(params: Params): CrmEntityType {
  const id = pickInt(params, 'entityTypeId', 'ENTITY_TYPE_ID');
  const type = id === undefined ? null : entityTypeFromOwnerTypeId(id);
  if (!type) throw new RestError('NOT_FOUND', 'Smart process not found', 400);
  return type;
}

function upperFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'fm' || k === 'id') continue;
    out[toUpper(k)] = k === 'opened' && typeof v === 'boolean' ? (v ? 'Y' : 'N') : v;
  }
  return out;
}

/** fm on add → legacy multifield arrays (entries without a known typeId are ignored). */
function fmForAdd(fm: unknown): Record<string, unknown> {
  const out: Record<string, { VALUE: string; VALUE_TYPE: string }[]> = {};
  const items = Array.isArray(fm) ? fm : isRecord(fm) ? Object.values(fm) : [];
  for (const item of items) {
    if (!isRecord(item)) continue;
    const typeId = String(item.typeId ?? '').toUpperCase();
    if (!(MULTI_FIELDS as readonly string[]).includes(typeId)) continue;
    (out[typeId] ??= []).push({ VALUE: String(item.value ?? ''), VALUE_TYPE: String(item.valueType ?? 'WORK') });
  }
  return out;
}

/** fm on update: `n…` keys add, numeric keys change (empty value deletes). */
function fmForUpdate(fm: unknown): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>[]> = {};
  if (!isRecord(fm)) return fmForAdd(fm);
  for (const [key, item] of Object.entries(fm)) {
    if (!isRecord(item)) continue;
    const typeId = String(item.typeId ?? '').toUpperCase();
    if (!(MULTI_FIELDS as readonly string[]).includes(typeId)) continue;
    const entry: Record<string, unknown> = { VALUE: String(item.value ?? '') };
    if (item.valueType !== undefined) entry.VALUE_TYPE = String(item.valueType);
    if (!/^n\d+$/.test(key)) entry.ID = key;
    (out[typeId] ??= []).push(entry);
  }
  return out;
}

function requireItem(portal: Portal, type: CrmEntityType, params: Params): CrmEntity {
  const entity = getEntity(portal, type, pickInt(params, 'id', 'ID') ?? 0);
  if (!entity) throw new RestError('NOT_FOUND', 'Element not found', 400);
  return entity;
}

function listItems(portal: Portal, params: Params, auth: MethodContext['auth']): MethodOutcome {
  const type = entityTypeOf(params);
  const filter = pickRecord(params, 'filter') ?? {};
  const order = pickRecord(params, 'order') ?? {};
  const desc = String(order.id ?? order.ID ?? 'ASC').toUpperCase() === 'DESC';
  const all = [...(portal.crm.get(type)?.values() ?? [])]
    .filter((entity) => canReadEntity(portal, auth, entity))
    .map(itemView)
    .filter((view) => Object.entries(filter).every(([k, v]) => matchesCrmFilterValue(k, Object.fromEntries(Object.entries(view).map(([vk, vv]) => [vk.toUpperCase(), vv])), v)))
    .sort((a, b) => (desc ? Number(b.id) - Number(a.id) : Number(a.id) - Number(b.id)));
  const select = (pickArray(params, 'select') ?? []).map(String);
  const shaped = select.length === 0 || select.includes('*') ? all : all.map((v) => Object.fromEntries(Object.entries(v).filter(([k]) => k === 'id' || select.includes(k))));
  const start = pickInt(params, 'start') ?? 0;
  if (start === -1) return { result: { items: shaped.slice(0, 50) } };
  const out: MethodOutcome = { result: { items: shaped.slice(start, start + 50) }, total: shaped.length };
  if (start + 50 < shaped.length) out.next = start + 50;
  return out;
}

export const crmItemMethods: MethodTable = {
  'crm.item.add': {
    run: ({ portal, params, auth, state }) => {
      const type = entityTypeOf(params);
      const fields = pickRecord(params, 'fields') ?? {};
      const entity = createEntity(portal, type, { ...upperFields(fields), ...fmForAdd(fields.fm) }, auth.userId);
      state.emitEvent?.(portal.memberId, `ONCRM${type}ADD`, { FIELDS: { ID: String(entity.id) } });
      return ok({ item: itemView(entity) });
    },
  },
  'crm.item.get': {
    run: ({ portal, params, auth }) => {
      const entity = requireItem(portal, entityTypeOf(params), params);
      if (!canReadEntity(portal, auth, entity)) throw new RestError('ACCESS_DENIED', 'You do not have permission to view this item', 400);
      return ok({ item: itemView(entity) });
    },
  },
  'crm.item.update': {
    run: ({ portal, params, state }) => {
      const entity = requireItem(portal, entityTypeOf(params), params);
      const fields = pickRecord(params, 'fields') ?? {};
      updateEntity(portal, entity, { ...upperFields(fields), ...fmForUpdate(fields.fm) });
      state.emitEvent?.(portal.memberId, `ONCRM${entity.type}UPDATE`, { FIELDS: { ID: String(entity.id) } });
      return ok({ item: itemView(entity) });
    },
  },
  'crm.item.list': { run: ({ portal, params, auth }) => listItems(portal, params, auth) },
};
