import type { PortalDocumentSet } from './portal-documents.js';
import type { MissedCallTaskEntry } from './records.js';
import type { MissedCallTasksRepository } from './types.js';

export type MissedCallTaskDocuments = PortalDocumentSet<{ open: Record<string, MissedCallTaskEntry> }>;

/** One small document per portal (portals/<portal>/missed-call-tasks.json), keyed by the outside number. */
export function createMissedCallTasksRepository(docs: MissedCallTaskDocuments): MissedCallTasksRepository {
  return {
    get: (portal, phone) => {
      const entry = docs.data(portal)?.open?.[phone];
      return entry ? structuredClone(entry) : undefined;
    },
    put: async (entry) => {
      const copy = structuredClone(entry);
      await docs.mutate(entry.portal, (data) => ({ ...data, open: { ...data.open, [copy.phone]: copy } }));
    },
    remove: async (portal, phone) => {
      if (!docs.data(portal)?.open?.[phone]) return;
      await docs.mutate(portal, (data) => {
        const open = { ...data.open };
        delete open[phone];
        return { ...data, open };
      });
    },
    list: (portal) => Object.values(docs.data(portal)?.open ?? {}).map((e) => structuredClone(e)),
    clear: (portal) => docs.remove(portal),
  };
}
