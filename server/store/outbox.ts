import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import type { StoreLayout } from './layout.js';
import { createOutboxIndex } from './outbox-index.js';
import { createPortalJournals, type JournaledLifecycle } from './portal-journals.js';
import type { OutboxItem } from './records.js';
import type { OutboxRepository } from './types.js';

export type OutboxStore = OutboxRepository & JournaledLifecycle;

/**
 * Outbox items: one append-only journal per portal (outbox.jsonl, store/portal-journals.ts); each line the full new
 * version of one item. The items in memory and their reads are store/outbox-index.ts (shared with the PostgreSQL
 * store); done items past their retention are dropped from memory and, at the next compaction, from the file.
 * A fenced portal's items are held back (pending/failed/undelivered do not show them, so no worker sends them)
 * until its repair; an unreadable outbox.jsonl fences its portal and is never appended to (store/fences.ts).
 */
export function createOutboxRepository(
  fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences, now: () => number = Date.now,
): OutboxStore {
  const journals = createPortalJournals<OutboxItem>({
    fs, layout, log, fences, file: 'outbox.jsonl', kind: 'outbox',
    isRecord: (raw) => typeof raw.id === 'string',
    index: () => index,
  });
  const index = createOutboxIndex(fences, now, {
    refuse: (memberId) => journals.refuse(memberId),
    save: (memberId, versions) => journals.append(memberId, versions),
  });

  return {
    ...index.repository,
    ...journals.lifecycle,
  };
}
