import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import { Journal, readJournal } from './journal.js';
import type { StoreLayout } from './layout.js';
import { moveAside, unreadableReason } from './portal-documents.js';
import { createCallIndex } from './call-index.js';
import type { CallRecord } from './records.js';
import type { CallsRepository } from './types.js';

export interface CallsStore extends CallsRepository {
  load(memberId: string): Promise<void>;
  /** Repair: the unreadable journal is moved aside and the portal's history starts empty. Returns the kept name. */
  startAfresh(memberId: string, at: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Call history: one append-only journal per portal (calls.jsonl), replayed into memory at start with indexes by
 * call id, Bitrix24 CALL_ID, CRM entity, phone and time (store/call-index.ts, shared with the PostgreSQL store).
 * put() appends one line: O(record), not O(history).
 * A journal that cannot be read fences its portal (store/fences.ts): no history served, nothing appended to it.
 */
export function createCallsRepository(fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences): CallsStore {
  const journals = new Map<string, Journal>();

  const journalFor = (memberId: string): Journal => {
    let journal = journals.get(memberId);
    if (journal) return journal;
    journal = new Journal({
      fs, log, kind: 'calls', portal: memberId, file: layout.portalFile(memberId, 'calls.jsonl'),
      live: () => index.live(memberId), liveCount: () => index.liveCount(memberId),
    });
    journals.set(memberId, journal);
    return journal;
  };

  const index = createCallIndex(fences, {
    refuse(memberId) {
      if (fences.has(memberId, 'calls.jsonl')) throw fences.refuse(memberId, 'calls.jsonl');
    },
    save: (record) => journalFor(record.portal).append([record]),
  });

  const forgetPortal = async (memberId: string): Promise<void> => {
    const journal = journals.get(memberId);
    journals.delete(memberId);
    // After the close: a compaction the close waits for still writes the portal's calls.
    await journal?.close();
    index.forget(memberId);
  };

  const load = async (memberId: string): Promise<void> => {
    const file = layout.portalFile(memberId, 'calls.jsonl');
    const journal = journalFor(memberId);
    let loaded;
    try {
      loaded = await readJournal(fs, file, 'calls', log, (raw) => {
        const record = raw as unknown as CallRecord;
        if (typeof record.pbxCallId !== 'string') return;
        index.load(memberId, record);
      });
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      await forgetPortal(memberId);
      log.error({ portal: memberId, file, err }, `PORTAL_FENCED: calls.jsonl of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      fences.add(memberId, { file: 'calls.jsonl', repair: 'repair', reason });
      return;
    }
    journal.countExisting(loaded.lines);
    if (loaded.migrated && loaded.lines > 0) await journal.rewrite();
  };

  return {
    ...index.repository,
    load,

    async startAfresh(memberId, at) {
      await forgetPortal(memberId);
      const file = layout.portalFile(memberId, 'calls.jsonl');
      await moveAside(fs, file, `${file}.corrupt-${at}`);
      fences.lift(memberId, 'calls.jsonl');
      await load(memberId);
      return `calls.jsonl.corrupt-${at}`;
    },

    async removePortal(portal) {
      await forgetPortal(portal);
      // rm, not unlink: a fenced portal's unreadable journal may be a directory (uninstall with CLEAN still removes it).
      await fs.rm(layout.portalFile(portal, 'calls.jsonl'));
      fences.lift(portal, 'calls.jsonl');
    },

    async close() {
      await Promise.all([...journals.values()].map((j) => j.close()));
    },
  };
}
