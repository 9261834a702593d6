import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import { Journal, readJournal } from './journal.js';
import type { StoreLayout } from './layout.js';
import type { JournalKind } from './migrations/index.js';
import { moveAside, unreadableReason } from './portal-documents.js';

/** The in-memory side a journal is replayed into and compacted from (store/call-index.ts, store/outbox-index.ts). */
export interface JournaledIndex<T> {
  load(memberId: string, record: T): void;
  live(memberId: string): Iterable<T>;
  liveCount(memberId: string): number;
  forget(memberId: string): void;
  /** Runs after a portal's journal is replayed (the outbox drops expired done items here). */
  loaded?(memberId: string): void;
}

export interface PortalJournalsOptions<T> {
  fs: StoreFs;
  layout: StoreLayout;
  log: Logger;
  fences: PortalFences;
  file: 'calls.jsonl' | 'outbox.jsonl';
  kind: JournalKind;
  /** Whether a replayed line is a record at all (lines without their id are skipped). */
  isRecord(raw: Record<string, unknown>): boolean;
  /** Read lazily: the index is made after the journals, since its writes go to them. */
  index(): JournaledIndex<T>;
}

/** What a journaled repository adds to its index's reads and writes (store/calls.ts, store/outbox.ts). */
export interface JournaledLifecycle {
  load(memberId: string): Promise<void>;
  /** Repair: the unreadable journal is moved aside and the portal starts it empty. Returns the kept name. */
  startAfresh(memberId: string, at: number): Promise<string>;
  removePortal(memberId: string): Promise<void>;
  close(): Promise<void>;
}

export interface PortalJournals<T> {
  /** Refuses a write to a fenced portal's journal (it is never appended to). */
  refuse(memberId: string): void;
  append(memberId: string, records: T[]): Promise<void>;
  lifecycle: JournaledLifecycle;
}

/**
 * One append-only journal per portal (calls.jsonl, outbox.jsonl) and its life: replayed into the index at start,
 * appended to on each write, compacted from the index's live records, moved aside on repair, removed with the portal.
 * A journal that cannot be read fences its portal (store/fences.ts): nothing of it is served or appended to.
 */
export function createPortalJournals<T>(opts: PortalJournalsOptions<T>): PortalJournals<T> {
  const { fs, layout, log, fences, file: name, kind } = opts;
  const journals = new Map<string, Journal>();

  const journalFor = (memberId: string): Journal => {
    let journal = journals.get(memberId);
    if (journal) return journal;
    journal = new Journal({
      fs, log, kind, portal: memberId, file: layout.portalFile(memberId, name),
      live: () => opts.index().live(memberId),
      liveCount: () => opts.index().liveCount(memberId),
    });
    journals.set(memberId, journal);
    return journal;
  };

  const forgetPortal = async (memberId: string): Promise<void> => {
    const journal = journals.get(memberId);
    journals.delete(memberId);
    // After the close: a compaction the close waits for still writes the portal's records.
    await journal?.close();
    opts.index().forget(memberId);
  };

  const load = async (memberId: string): Promise<void> => {
    const file = layout.portalFile(memberId, name);
    const journal = journalFor(memberId);
    const index = opts.index();
    let loaded;
    try {
      loaded = await readJournal(fs, file, kind, log, (raw) => {
        if (opts.isRecord(raw)) index.load(memberId, raw as unknown as T);
      });
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      await forgetPortal(memberId);
      log.error({ portal: memberId, file, err }, `PORTAL_FENCED: ${name} of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      fences.add(memberId, { file: name, repair: 'repair', reason });
      return;
    }
    journal.countExisting(loaded.lines);
    index.loaded?.(memberId);
    if (loaded.migrated && loaded.lines > 0) await journal.rewrite();
  };

  return {
    refuse(memberId) {
      if (fences.has(memberId, name)) throw fences.refuse(memberId, name);
    },

    append: (memberId, records) => journalFor(memberId).append(records),

    lifecycle: {
      load,

      async startAfresh(memberId, at) {
        await forgetPortal(memberId);
        const file = layout.portalFile(memberId, name);
        await moveAside(fs, file, `${file}.corrupt-${at}`);
        fences.lift(memberId, name);
        await load(memberId);
        return `${name}.corrupt-${at}`;
      },

      async removePortal(memberId) {
        await forgetPortal(memberId);
        // rm, not unlink: a fenced portal's unreadable journal may be a directory (uninstall with CLEAN still removes it).
        await fs.rm(layout.portalFile(memberId, name));
        fences.lift(memberId, name);
      },

      async close() {
        await Promise.all([...journals.values()].map((j) => j.close()));
      },
    },
  };
}
