import type { PortalDocumentSet } from './portal-documents.js';
import type { ContactSyncEntry } from './records.js';
import type { ContactSyncRepository } from './types.js';

export type ContactSyncDocuments = PortalDocumentSet<{ entries: Record<string, ContactSyncEntry> }>;

const entryKey = (entityType: string, entityId: number): string => `${entityType}:${entityId}`;

export function createContactSyncRepository(docs: ContactSyncDocuments): ContactSyncRepository {
  return {
    get: (portal, entityType, entityId) => {
      const entry = docs.data(portal)?.entries?.[entryKey(entityType, entityId)];
      return entry ? structuredClone(entry) : undefined;
    },
    put: async (entry) => {
      const copy = structuredClone(entry);
      await docs.mutate(entry.portal, (data) => ({
        ...data,
        entries: { ...data.entries, [entryKey(copy.entityType, copy.entityId)]: copy },
      }));
    },
    list: (portal) => Object.values(docs.data(portal)?.entries ?? {}).map((e) => structuredClone(e)),
    clear: (portal) => docs.remove(portal),
  };
}
