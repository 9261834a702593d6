import { copyRecord, copyThroughIndex } from './copy.js';
import type { PortalFences } from './fences.js';
import type { CallRecord, CrmEntityType } from './records.js';
import { TimeIndex } from './sorted-index.js';
import type { CallsRepository, MemoryIndexBackend, PortalMemoryIndex } from './types.js';

const DEFAULT_PAGE = 50;

/**
 * One portal's calls in memory with the look-ups the history needs (call id, Bitrix24 CALL_ID, CRM entity, phone,
 * time); createCallIndex below is the whole in-memory side of both stores.
 */
interface CallIndexes {
  byId: Map<string, CallRecord>;
  byB24: Map<string, string>;
  byEntity: Map<string, Set<string>>;
  byPhone: Map<string, Set<string>>;
  recent: TimeIndex;
}

const emptyCallIndexes = (): CallIndexes => ({ byId: new Map(), byB24: new Map(), byEntity: new Map(), byPhone: new Map(), recent: new TimeIndex() });

const entityKey = (type: CrmEntityType, id: number): string => `${type}:${id}`;
const isOpen = (r: CallRecord): boolean => r.phase === 'live' || r.phase === 'ended';
/** The key of a call in the all-portals map of open calls. */
const openKey = (r: CallRecord): string => `${r.portal}\u0000${r.pbxCallId}`;

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
function reindexCall(s: CallIndexes, open: Map<string, CallRecord>, id: string, prev: CallRecord | undefined, next: CallRecord | undefined): void {
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
function newestFirst(s: CallIndexes | undefined, ids: Set<string> | undefined, limit: number, before?: number): CallRecord[] {
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
function recentCalls(s: CallIndexes | undefined, limit: number, before?: number): CallRecord[] {
  if (!s) return [];
  return s.recent.newestFirst(limit, before)
    .map((id) => s.byId.get(id))
    .filter((r): r is CallRecord => r !== undefined)
    .map((r) => copyRecord(r));
}

export interface CallsBackend extends MemoryIndexBackend {
  /** Writes one call's new version; a throw puts memory back as it was. */
  save(record: CallRecord): Promise<void>;
}

/** `forget` drops the portal's open calls too. */
export type CallIndex = PortalMemoryIndex<CallRecord, CallsRepository>;

/**
 * Every portal's calls in memory and the reads over them, shared by the file store (store/calls.ts) and the
 * PostgreSQL store (store/postgres/calls.ts): put() shows the new version at once and puts memory back when the
 * backend refuses it. A fenced portal's open calls are not resumed: its live work waits for the repair.
 */
export function createCallIndex(fences: PortalFences, backend: CallsBackend): CallIndex {
  const portals = new Map<string, CallIndexes>();
  const open = new Map<string, CallRecord>();

  const stateFor = (memberId: string): CallIndexes => {
    let state = portals.get(memberId);
    if (!state) portals.set(memberId, (state = emptyCallIndexes()));
    return state;
  };

  const repository: Omit<CallsRepository, 'removePortal'> = {
    get: (portal, pbxCallId) => {
      const r = portals.get(portal)?.byId.get(pbxCallId);
      return r ? copyRecord(r) : undefined;
    },

    has: (portal, pbxCallId) => portals.get(portal)?.byId.has(pbxCallId) ?? false,

    getByB24CallId: (portal, b24CallId) => {
      const s = portals.get(portal);
      return copyThroughIndex(s?.byB24, s?.byId, b24CallId);
    },

    async put(record) {
      backend.refuse?.(record.portal);
      const next = copyRecord(record);
      const s = stateFor(next.portal);
      const prev = s.byId.get(next.pbxCallId);
      // Memory is updated at once (reads see the write) and put back if the backend refuses it.
      reindexCall(s, open, next.pbxCallId, prev, next);
      try {
        await backend.save(next);
      } catch (err) {
        if (s.byId.get(next.pbxCallId) === next) reindexCall(s, open, next.pbxCallId, next, prev);
        throw err;
      }
    },

    listByEntity: (portal, entityType, entityId, opts) => {
      const s = portals.get(portal);
      return newestFirst(s, s?.byEntity.get(entityKey(entityType, entityId)), opts?.limit ?? DEFAULT_PAGE, opts?.before);
    },

    listByPhone: (portal, e164, opts) => {
      const s = portals.get(portal);
      return newestFirst(s, s?.byPhone.get(e164), opts?.limit ?? DEFAULT_PAGE);
    },

    listRecent: (portal, opts) => recentCalls(portals.get(portal), opts?.limit ?? DEFAULT_PAGE, opts?.before),

    listOpen: () => [...open.values()].filter((r) => !fences.isFenced(r.portal)).map((r) => copyRecord(r)),

    countOpen: () => {
      let n = 0;
      for (const r of open.values()) if (!fences.isFenced(r.portal)) n += 1;
      return n;
    },

    count: (portal) => portals.get(portal)?.byId.size ?? 0,
  };

  return {
    repository,
    load(memberId, record) {
      record.portal = memberId;
      const s = stateFor(memberId);
      reindexCall(s, open, record.pbxCallId, s.byId.get(record.pbxCallId), record);
    },
    live: (memberId) => (portals.get(memberId)?.byId ?? new Map<string, CallRecord>()).values(),
    liveCount: (memberId) => portals.get(memberId)?.byId.size ?? 0,
    forget(memberId) {
      const s = portals.get(memberId);
      portals.delete(memberId);
      for (const r of s?.byId.values() ?? []) open.delete(openKey(r));
    },
  };
}
