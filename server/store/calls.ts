import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import { copyRecord } from './copy.js';
import { Journal, readJournal } from './journal.js';
import type { StoreLayout } from './layout.js';
import { moveAside, unreadableReason } from './portal-documents.js';
import { emptyCallIndexes, entityKey, newestFirst, openKey, recentCalls, reindexCall, type CallIndexes } from './call-index.js';
import type { CallRecord } from './records.js';
import type { CallsRepository } from './types.js';

const DEFAULT_PAGE = 50;

interface PortalCalls extends CallIndexes {
  journal: Journal;
}

export interface CallsStore extends CallsRepository {
  load(memberId: string): Promise<void>;
  /** Repair: the unreadable journal is moved aside and the portal's history starts empty. Returns the kept name. */
  startAfresh(memberId: string, at: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Call history: one append-only journal per portal (calls.jsonl), replayed into memory at start with indexes by
 * call id, Bitrix24 CALL_ID, CRM entity, phone and time. put() appends one line: O(record), not O(history).
 * A journal that cannot be read fences its portal (store/fences.ts): no history served, nothing appended to it.
 */
export function createCallsRepository(fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences): CallsStore {
  const portals = new Map<string, PortalCalls>();
  const open = new Map<string, CallRecord>();

  const stateFor = (memberId: string): PortalCalls => {
    let state = portals.get(memberId);
    if (state) return state;
    const byId = new Map<string, CallRecord>();
    const journal = new Journal({
      fs, log, kind: 'calls', portal: memberId, file: layout.portalFile(memberId, 'calls.jsonl'),
      live: () => byId.values(), liveCount: () => byId.size,
    });
    state = { ...emptyCallIndexes(), journal, byId };
    portals.set(memberId, state);
    return state;
  };

  const reindex = (s: PortalCalls, id: string, prev: CallRecord | undefined, next: CallRecord | undefined): void => reindexCall(s, open, id, prev, next);

  const forgetPortal = async (memberId: string): Promise<void> => {
    const s = portals.get(memberId);
    portals.delete(memberId);
    if (!s) return;
    await s.journal.close();
    for (const r of s.byId.values()) open.delete(openKey(r));
  };

  const load = async (memberId: string): Promise<void> => {
    const file = layout.portalFile(memberId, 'calls.jsonl');
    const s = stateFor(memberId);
    let loaded;
    try {
      loaded = await readJournal(fs, file, 'calls', log, (raw) => {
        const record = raw as unknown as CallRecord;
        if (typeof record.pbxCallId !== 'string') return;
        record.portal = memberId;
        reindex(s, record.pbxCallId, s.byId.get(record.pbxCallId), record);
      });
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      await forgetPortal(memberId);
      log.error({ portal: memberId, file, err }, `PORTAL_FENCED: calls.jsonl of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      fences.add(memberId, { file: 'calls.jsonl', repair: 'repair', reason });
      return;
    }
    s.journal.countExisting(loaded.lines);
    if (loaded.migrated && loaded.lines > 0) await s.journal.rewrite();
  };

  return {
    load,

    async startAfresh(memberId, at) {
      await forgetPortal(memberId);
      const file = layout.portalFile(memberId, 'calls.jsonl');
      await moveAside(fs, file, `${file}.corrupt-${at}`);
      fences.lift(memberId, 'calls.jsonl');
      await load(memberId);
      return `calls.jsonl.corrupt-${at}`;
    },

    get: (portal, pbxCallId) => {
      const r = portals.get(portal)?.byId.get(pbxCallId);
      return r ? copyRecord(r) : undefined;
    },

    getByB24CallId: (portal, b24CallId) => {
      const s = portals.get(portal);
      const id = s?.byB24.get(b24CallId);
      const r = id === undefined ? undefined : s?.byId.get(id);
      return r ? copyRecord(r) : undefined;
    },

    async put(record) {
      if (fences.has(record.portal, 'calls.jsonl')) throw fences.refuse(record.portal, 'calls.jsonl');
      const next = copyRecord(record);
      const s = stateFor(next.portal);
      const prev = s.byId.get(next.pbxCallId);
      // Memory is updated at once (reads see the write) and put back if the disk refuses it.
      reindex(s, next.pbxCallId, prev, next);
      try {
        await s.journal.append([next]);
      } catch (err) {
        if (s.byId.get(next.pbxCallId) === next) reindex(s, next.pbxCallId, next, prev);
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

    // A fenced portal's calls are not resumed: its live work waits for the repair.
    listOpen: () => [...open.values()].filter((r) => !fences.isFenced(r.portal)).map((r) => copyRecord(r)),

    count: (portal) => portals.get(portal)?.byId.size ?? 0,

    async removePortal(portal) {
      await forgetPortal(portal);
      // rm, not unlink: a fenced portal's unreadable journal may be a directory (uninstall with CLEAN still removes it).
      await fs.rm(layout.portalFile(portal, 'calls.jsonl'));
      fences.lift(portal, 'calls.jsonl');
    },

    async close() {
      await Promise.all([...portals.values()].map((s) => s.journal.close()));
    },
  };
}
