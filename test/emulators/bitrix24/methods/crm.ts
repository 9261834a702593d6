/**
 * Legacy crm.contact.* / crm.lead.* / crm.company.* / crm.deal.* (add, get, update, list, delete) and crm.duplicate.findbycomm.
 * https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-add.html (-get, -update, -list),
 * https://apidocs.bitrix24.com/api-reference/crm/leads/crm-lead-add.html,
 * https://apidocs.bitrix24.com/api-reference/crm/companies/crm-company-list.html,
 * https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-add.html (-get, -update, -list; deal rules in ../deal.ts),
 * https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html
 */
import { MULTI_FIELDS, createEntity, findByEmail, findByPhone, getEntity, legacyView, updateEntity } from '../crm-store.js';
import { canReadEntity } from '../crm-rights.js';
import { RestError } from '../errors.js';
import { pickArray, pickInt, pickRecord, pickString, type Params } from '../params.js';
import type { CrmEntity, CrmEntityType, Portal } from '../state.js';
import { matchesCrmFilterValue } from './filter.js';
import { ok, page, type MethodTable } from './types.js';

/** Legacy CRM errors come with an empty code and the text in the description (HTTP 400). */
const crmError = (description: string): RestError => new RestError('', description, 400);

function requireId(params: Params): number {
  const id = pickInt(params, 'id', 'ID');
  if (id === undefined || id <= 0) throw crmError('ID is not defined or invalid.');
  return id;
}

function requireEntity(portal: Portal, type: CrmEntityType, params: Params): CrmEntity {
  const entity = getEntity(portal, type, requireId(params));
  if (!entity) throw crmError('Not found');
  return entity;
}

/** Filter semantics of crm.*.list: prefix operators; multifields (PHONE, EMAIL…) by exact value. */
export function matchesCrmFilter(entity: CrmEntity, filter: Record<string, unknown>): boolean {
  const view = legacyView(entity);
  for (const type of MULTI_FIELDS) view[type] = entity.multi.filter((x) => x.TYPE_ID === type).map((x) => x.VALUE);
  return Object.entries(filter).every(([key, expected]) => matchesCrmFilterValue(key, view, expected));
}

function selectFields(view: Record<string, unknown>, select: unknown[] | undefined): Record<string, unknown> {
  const names = (select ?? []).map((s) => String(s).toUpperCase());
  const all = names.length === 0 || names.includes('*');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(view)) {
    const multi = (MULTI_FIELDS as readonly string[]).includes(k);
    // `*` does not include multifields; they must be named. https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-list.html
    if (k === 'ID' || (multi ? names.includes(k) : all || names.includes(k))) out[k] = v;
  }
  return out;
}

function crudFor(type: CrmEntityType): MethodTable {
  const prefix = `crm.${type.toLowerCase()}`;
  return {
    [`${prefix}.add`]: {
      run: ({ portal, params, auth, state }) => {
        const fields = pickRecord(params, 'fields', 'FIELDS');
        if (!fields) throw crmError('Parameter \'fields\' must be array.');
        const id = createEntity(portal, type, fields, auth.userId).id;
        state.emitEvent?.(portal.memberId, `ONCRM${type}ADD`, { FIELDS: { ID: String(id) } });
        return ok(id);
      },
    },
    [`${prefix}.get`]: {
      run: ({ portal, params, auth }) => {
        const entity = requireEntity(portal, type, params);
        if (!canReadEntity(portal, auth, entity)) throw crmError('Access denied');
        return ok(legacyView(entity));
      },
    },
    [`${prefix}.update`]: {
      run: ({ portal, params, state }) => {
        const entity = requireEntity(portal, type, params);
        const fields = pickRecord(params, 'fields', 'FIELDS');
        if (!fields) throw crmError('Parameter \'fields\' must be array.');
        updateEntity(portal, entity, fields);
        state.emitEvent?.(portal.memberId, `ONCRM${type}UPDATE`, { FIELDS: { ID: String(entity.id) } });
        return ok(true);
      },
    },
    [`${prefix}.delete`]: {
      run: ({ portal, params, state }) => {
        const entity = requireEntity(portal, type, params);
        portal.crm.get(type)?.delete(entity.id);
        state.emitEvent?.(portal.memberId, `ONCRM${type}DELETE`, { FIELDS: { ID: String(entity.id) } });
        return ok(true);
      },
    },
    [`${prefix}.list`]: {
      run: ({ portal, params, auth }) => {
        const filter = pickRecord(params, 'filter', 'FILTER') ?? {};
        const order = pickRecord(params, 'order', 'ORDER') ?? {};
        const desc = String(order.ID ?? order.id ?? 'ASC').toUpperCase() === 'DESC';
        const items = [...(portal.crm.get(type)?.values() ?? [])]
          .filter((e) => canReadEntity(portal, auth, e) && matchesCrmFilter(e, filter))
          .sort((a, b) => (desc ? b.id - a.id : a.id - b.id))
          .map((e) => selectFields(legacyView(e), pickArray(params, 'select', 'SELECT')));
        return page(items, pickInt(params, 'start', 'START'));
      },
    },
  };
}

const ENTITY_TYPES: CrmEntityType[] = ['LEAD', 'CONTACT', 'COMPANY'];

export const crmMethods: MethodTable = {
  ...crudFor('CONTACT'),
  ...crudFor('LEAD'),
  ...crudFor('COMPANY'),
  ...crudFor('DEAL'),
  'crm.duplicate.findbycomm': {
    run: ({ portal, params }) => {
      const type = pickString(params, 'type')?.toUpperCase();
      if (!type) throw new RestError('Communication type is not defined', "Parameter 'type' is required.", 400);
      if (type !== 'PHONE' && type !== 'EMAIL') {
        throw new RestError(`Communication type '${type}' is not supported in current context`, '', 400);
      }
      const values = (pickArray(params, 'values') ?? []).filter((v) => typeof v === 'string' || typeof v === 'number').map(String);
      if (values.length === 0) throw new RestError('Communication values is not defined', "Parameter 'values' is required.", 400);
      // "Maximum number of values — 20"; the wording of the refusal is the emulator's.
      if (values.length > 20) throw new RestError('Too many communication values', 'The maximum number of values is 20.', 400);
      const entityType = pickString(params, 'entity_type')?.toUpperCase();
      const types = entityType && (ENTITY_TYPES as string[]).includes(entityType) ? [entityType as CrmEntityType] : ENTITY_TYPES;
      const result: Record<string, number[]> = {};
      for (const t of types) {
        const ids = new Set<number>();
        for (const value of values) {
          const hits = type === 'PHONE' ? findByPhone(portal, value, [t]) : findByEmail(portal, value, [t]);
          for (const hit of hits) ids.add(hit.id);
        }
        if (ids.size > 0) result[t] = [...ids].sort((a, b) => a - b);
        // "If 20 or more duplicates are found for one object, the other types are not returned."
        if (ids.size >= 20) break;
      }
      return ok(Object.keys(result).length === 0 ? [] : result);
    },
  },
};

