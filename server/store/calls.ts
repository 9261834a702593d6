import type { Logger } from '../log.js';
import { createCallIndex } from './call-index.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import type { StoreLayout } from './layout.js';
import { createPortalJournals, type JournaledLifecycle } from './portal-journals.js';
import type { CallRecord } from './records.js';
import type { CallsRepository } from './types.js';

export type CallsStore = CallsRepository & JournaledLifecycle;

/**
 * Call history: one append-only journal per portal (calls.jsonl, store/portal-journals.ts), replayed into memory at
 * start with indexes by call id, Bitrix24 CALL_ID, CRM entity, phone and time (store/call-index.ts, shared with the
 * PostgreSQL store). put() appends one line: O(record), not O(history).
 * A journal that cannot be read fences its portal (store/fences.ts): no history served, nothing appended to it.
 */
export function createCallsRepository(fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences): CallsStore {
  const journals = createPortalJournals<CallRecord>({
    fs, layout, log, fences, file: 'calls.jsonl', kind: 'calls',
    isRecord: (raw) => typeof raw.pbxCallId === 'string',
    index: () => index,
  });
  const index = createCallIndex(fences, {
    refuse: (memberId) => journals.refuse(memberId),
    save: (record) => journals.append(record.portal, [record]),
  });

  return {
    ...index.repository,
    ...journals.lifecycle,
  };
}
