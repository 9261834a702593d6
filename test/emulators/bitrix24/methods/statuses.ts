/**
 * crm.status.list / add / update for deal stages: the portal's own stage names, `ENTITY_ID` DEAL_STAGE for the
 * general pipeline and DEAL_STAGE_<n> for pipeline n, whose STATUS_IDs carry the prefix `C<n>:` (added by add).
 * https://apidocs.bitrix24.com/api-reference/crm/status/crm-status-list.html (-add, -update),
 * https://apidocs.bitrix24.com/tutorials/crm/how-to-get-lists/how-to-get-stages-with-semantics.html
 * A pipeline's stage list starts with the default stages the first time it is touched.
 */
import { RestError, argumentError } from '../errors.js';
import { pickArray, pickInt, pickRecord, type Params } from '../params.js';
import type { Portal } from '../state.js';
import { matchesCrmFilterValue } from './filter.js';
import { ok, page, type MethodTable } from './types.js';

interface StatusRow {
  ID: number;
  ENTITY_ID: string;
  STATUS_ID: string;
  NAME: string;
  NAME_INIT: string;
  SORT: number;
  SYSTEM: 'Y' | 'N';
  CATEGORY_ID: string | null;
  /** "S" success, "F" failure, "" in progress. */
  SEMANTICS: string;
}

/** Bitrix24's default deal stages (a new portal's general pipeline). */
const DEFAULT_STAGES: [string, string, string][] = [
  ['NEW', 'New', ''], ['PREPARATION', 'Preparing documents', ''], ['PREPAYMENT_INVOICE', 'Prepayment invoice', ''],
  ['EXECUTING', 'In progress', ''], ['FINAL_INVOICE', 'Final invoice', ''], ['WON', 'Deal won', 'S'], ['LOSE', 'Deal lost', 'F'],
  ['APOLOGY', 'Analyze failure', 'F'],
];

const tables = new WeakMap<Portal, { rows: StatusRow[]; nextId: number; seeded: Set<string> }>();

function categoryOf(entityId: string): string | null {
  if (entityId === 'DEAL_STAGE') return '0';
  const m = /^DEAL_STAGE_(\d+)$/.exec(entityId);
  return m?.[1] ?? null;
}

function tableOf(portal: Portal, entityId?: string) {
  let table = tables.get(portal);
  if (!table) {
    table = { rows: [], nextId: 1, seeded: new Set() };
    tables.set(portal, table);
  }
  const category = entityId === undefined ? null : categoryOf(entityId);
  if (entityId !== undefined && category !== null && !table.seeded.has(entityId)) {
    table.seeded.add(entityId);
    const prefix = category === '0' ? '' : `C${category}:`;
    DEFAULT_STAGES.forEach(([statusId, name, semantics], i) => {
      table?.rows.push({
        ID: table.nextId++, ENTITY_ID: entityId, STATUS_ID: `${prefix}${statusId}`, NAME: name, NAME_INIT: name, SORT: (i + 1) * 10,
        SYSTEM: 'Y', CATEGORY_ID: category, SEMANTICS: semantics,
      });
    });
  }
  return table;
}

function view(row: StatusRow): Record<string, unknown> {
  return { ...row, ID: String(row.ID), SORT: String(row.SORT) };
}

function fieldsOf(params: Params): Record<string, unknown> {
  const fields = pickRecord(params, 'fields', 'FIELDS');
  if (!fields) throw argumentError('Required parameter "fields" is not set');
  return fields;
}

export const statusMethods: MethodTable = {
  'crm.status.list': {
    run: ({ portal, params }) => {
      const filter = pickRecord(params, 'filter', 'FILTER') ?? {};
      const wanted = filter.ENTITY_ID;
      for (const entityId of Array.isArray(wanted) ? wanted : [wanted]) if (typeof entityId === 'string') tableOf(portal, entityId);
      const select = (pickArray(params, 'select', 'SELECT') ?? []).map((s) => String(s).toUpperCase());
      const items = tableOf(portal).rows
        .map(view)
        .filter((row) => Object.entries(filter).every(([k, v]) => matchesCrmFilterValue(k, row, v)))
        .sort((a, b) => Number(a.SORT) - Number(b.SORT) || Number(a.ID) - Number(b.ID))
        .map((row) => (select.length === 0 || select.includes('*') ? row : Object.fromEntries(Object.entries(row).filter(([k]) => k === 'ID' || select.includes(k)))));
      return page(items, pickInt(params, 'start', 'START'));
    },
  },
  'crm.status.add': {
    run: ({ portal, params }) => {
      const fields = fieldsOf(params);
      const entityId = String(fields.ENTITY_ID ?? '');
      const name = String(fields.NAME ?? '');
      let statusId = String(fields.STATUS_ID ?? '');
      if (!entityId || !statusId || !name) throw new RestError('', 'ENTITY_ID, STATUS_ID and NAME are required.', 400);
      const table = tableOf(portal, entityId);
      const category = categoryOf(entityId);
      // "The pipeline's prefix is added to the status id automatically" (crm.status.add).
      if (category !== null && category !== '0' && !statusId.startsWith(`C${category}:`)) statusId = `C${category}:${statusId}`;
      if (table.rows.some((r) => r.ENTITY_ID === entityId && r.STATUS_ID === statusId)) throw new RestError('', 'Status already exists.', 400);
      const row: StatusRow = {
        ID: table.nextId++, ENTITY_ID: entityId, STATUS_ID: statusId, NAME: name, NAME_INIT: '', SORT: Number(fields.SORT ?? 10),
        SYSTEM: 'N', CATEGORY_ID: category, SEMANTICS: String(fields.SEMANTICS ?? ''),
      };
      table.rows.push(row);
      return ok(row.ID);
    },
  },
  'crm.status.update': {
    run: ({ portal, params }) => {
      const id = pickInt(params, 'id', 'ID');
      const row = tableOf(portal).rows.find((r) => r.ID === id);
      if (!row) throw new RestError('', 'Not found', 400);
      const fields = fieldsOf(params);
      if (fields.NAME !== undefined) row.NAME = String(fields.NAME);
      if (fields.SORT !== undefined) row.SORT = Number(fields.SORT);
      return ok(true);
    },
  },
};
