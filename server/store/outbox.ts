import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import { Journal, readJournal } from './journal.js';
import type { StoreLayout } from './layout.js';
import { createOutboxIndex } from './outbox-index.js';
import { moveAside, unreadableReason } from './portal-documents.js';
import type { OutboxItem } from './records.js';
import type { OutboxRepository } from './types.js';

export interface OutboxStore extends OutboxRepository {
  load(memberId: string): Promise<void>;
  /** Repair: the unreadable journal is moved aside and the portal's outbox starts empty. Returns the kept name. */
  startAfresh(memberId: string, at: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Outbox items: one append-only journal per portal (outbox.jsonl); each line the full new version of one item.
 * The items in memory and their reads are store/outbox-index.ts (shared with the PostgreSQL store); done items past
 * their retention are dropped from memory and, at the next compaction, from the file.
 * A fenced portal's items are held back (pending/failed/undelivered do not show them, so no worker sends them)
 * until its repair; an unreadable outbox.jsonl fences its portal and is never appended to (store/fences.ts).
 */
export function createOutboxRepository(
  fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences, now: () => number = Date.now,
): OutboxStore {
  const journals = new Map<string, Journal>();

  const journalFor = (memberId: string): Journal => {
    let journal = journals.get(memberId);
    if (journal) return journal;
    journal = new Journal({
      fs, log, kind: 'outbox', portal: memberId, file: layout.portalFile(memberId, 'outbox.jsonl'),
      live: () => index.live(memberId),
      liveCount: () => index.liveCount(memberId),
    });
    journals.set(memberId, journal);
    return journal;
  };

  const index = createOutboxIndex(fences, now, {
    refuse(memberId) {
      if (fences.has(memberId, 'outbox.jsonl')) throw fences.refuse(memberId, 'outbox.jsonl');
    },
    save: (memberId, versions) => journalFor(memberId).append(versions),
  });

  const forgetPortal = async (memberId: string): Promise<void> => {
    const journal = journals.get(memberId);
    journals.delete(memberId);
    // After the close: a compaction the close waits for still writes the portal's items.
    await journal?.close();
    index.forget(memberId);
  };

  const load = async (memberId: string): Promise<void> => {
    const file = layout.portalFile(memberId, 'outbox.jsonl');
    const journal = journalFor(memberId);
    let loaded;
    try {
      loaded = await readJournal(fs, file, 'outbox', log, (raw) => {
        const item = raw as unknown as OutboxItem;
        if (typeof item.id !== 'string') return;
        index.load(memberId, item);
      });
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      await forgetPortal(memberId);
      log.error({ portal: memberId, file, err }, `PORTAL_FENCED: outbox.jsonl of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      fences.add(memberId, { file: 'outbox.jsonl', repair: 'repair', reason });
      return;
    }
    journal.countExisting(loaded.lines);
    index.prune(memberId);
    if (loaded.migrated && loaded.lines > 0) await journal.rewrite();
  };

  return {
    ...index.repository,
    load,

    async startAfresh(memberId, at) {
      await forgetPortal(memberId);
      const file = layout.portalFile(memberId, 'outbox.jsonl');
      await moveAside(fs, file, `${file}.corrupt-${at}`);
      fences.lift(memberId, 'outbox.jsonl');
      await load(memberId);
      return `outbox.jsonl.corrupt-${at}`;
    },

    async removePortal(portal) {
      await forgetPortal(portal);
      // rm, not unlink: a fenced portal's unreadable journal may be a directory (uninstall with CLEAN still removes it).
      await fs.rm(layout.portalFile(portal, 'outbox.jsonl'));
      fences.lift(portal, 'outbox.jsonl');
    },

    async close() {
      await Promise.all([...journals.values()].map((j) => j.close()));
    },
  };
}
