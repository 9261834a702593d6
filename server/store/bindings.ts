import type { PortalDocuments } from './portal-documents.js';
import type { Binding } from './records.js';
import type { BindingsRepository } from './types.js';

export type BindingsDocuments = PortalDocuments<{ bindings: Binding[] }>;

export function createBindingsRepository(docs: BindingsDocuments): BindingsRepository {
  const list = (memberId: string): Binding[] => docs.data(memberId)?.bindings ?? [];
  return {
    list: (memberId) => structuredClone(list(memberId)),
    replace: async (memberId, bindings) => {
      const next = structuredClone(bindings);
      await docs.mutate(memberId, (data) => ({ ...data, bindings: next }));
    },
    userForExtension: (memberId, extension) => list(memberId).find((b) => b.extension === extension)?.userId,
    extensionForUser: (memberId, userId) => list(memberId).find((b) => b.userId === userId)?.extension,
  };
}
