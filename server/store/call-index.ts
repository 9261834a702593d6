import { copyRecord } from './copy.js';
import type { CallRecord, CrmEntityType } from './records.js';
import { TimeIndex } from './sorted-index.js';

/**
 * One portal's calls in memory with the look-ups the history needs (call id, Bitrix24 CALL_ID, CRM entity, phone,
 * time), shared by the file store (store/calls.ts, replayed from its journal) and the PostgreSQL store
 * (store/postgres/calls.ts, loaded from its table).
 */
export interface CallIndexes {
  byId: Map<string, CallRecord>;
  byB24: Map<string, string>;
  byEntity: Map<string, Set<string>>;
  byPhone: Map<string, Set<string>>;
  recent: TimeIndex;
}

export const emptyCallIndexes = (): CallIndexes => ({ byId: new Map(), byB24: new Map(), byEntity: new Map(), byPhone: new Map(), recent: new TimeIndex() });

export const entityKey = (type: CrmEntityType, id: number): string => `${type}:${id}`;
const isOpen = (r: CallRecord): boolean => r.phase === 'live' || r.phase === 'ended';
/** The key of a call in the all-portals map of open calls. */
export const openKey = (r: CallRecord): string => `${r.portal}\u0000${r.pbxCallId}`;

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

/** Moves every index of call `id` from `prev` to `next` (either may be absent), the open-calls map included. */
export function reindexCall(s: CallIndexes, open: Map<string, CallRecord>, id: string, prev: CallRecord | undefined, next: CallRecord | undefined): void {
  if (next) s.byId.set(id, next);
  else s.byId.delete(id);
  if (prev?.b24CallId && prev.b24CallId !== next?.b24CallId && s.byB24.get(prev.b24CallId) === id) s.byB24.delete(prev.b24CallId);
  if (next?.b24CallId) s.byB24.set(next.b24CallId, id);
  const prevEntity = prev?.crm ? entityKey(prev.crm.entityType, prev.crm.entityId) : undefined;
  const nextEntity = next?.crm ? entityKey(next.crm.entityType, next.crm.entityId) : undefined;
  if (prevEntity !== nextEntity) {
    if (prevEntity) removeFrom(s.byEntity, prevEntity, id);
    if (nextEntity) addTo(s.byEntity, nextEntity, id);
  }
  if (prev?.external !== next?.external) {
    if (prev?.external) removeFrom(s.byPhone, prev.external, id);
    if (next?.external) addTo(s.byPhone, next.external, id);
  }
  if (prev?.startedAt !== next?.startedAt) {
    if (prev) s.recent.remove(prev.startedAt, id);
    if (next) s.recent.insert(next.startedAt, id);
  }
  const record = next ?? prev;
  if (record) {
    if (next && isOpen(next)) open.set(openKey(record), next);
    else open.delete(openKey(record));
  }
}

/** The calls among `ids` started before `before`, newest first (ties by call id, descending), at most `limit`, copied. */
export function newestFirst(s: CallIndexes | undefined, ids: Set<string> | undefined, limit: number, before?: number): CallRecord[] {
  if (!s || !ids) return [];
  const rows: CallRecord[] = [];
  for (const id of ids) {
    const r = s.byId.get(id);
    if (r && (before === undefined || r.startedAt < before)) rows.push(r);
  }
  rows.sort((a, b) => b.startedAt - a.startedAt || (a.pbxCallId < b.pbxCallId ? 1 : -1));
  return rows.slice(0, limit).map((r) => copyRecord(r));
}

/** listRecent of one portal: a page of its calls by start time, newest first, copied. */
export function recentCalls(s: CallIndexes | undefined, limit: number, before?: number): CallRecord[] {
  if (!s) return [];
  return s.recent.newestFirst(limit, before)
    .map((id) => s.byId.get(id))
    .filter((r): r is CallRecord => r !== undefined)
    .map((r) => copyRecord(r));
}
