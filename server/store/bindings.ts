import { copyRecord } from './copy.js';
import type { PortalDocumentSet } from './portal-documents.js';
import type { Binding, CardMode } from './records.js';
import type { BindingsRepository } from './types.js';

/** `cardModes` (issue 11) is absent in documents written before it: every employee then has `ring`. */
export type BindingsDocuments = PortalDocumentSet<{ bindings: Binding[]; cardModes?: Record<string, CardMode> }>;

export function createBindingsRepository(docs: BindingsDocuments): BindingsRepository {
  const list = (memberId: string): Binding[] => docs.data(memberId)?.bindings ?? [];
  const modes = (memberId: string): Record<string, CardMode> => docs.data(memberId)?.cardModes ?? {};
  return {
    list: (memberId) => copyRecord(list(memberId)),
    replace: async (memberId, bindings) => {
      const next = copyRecord(bindings);
      await docs.mutate(memberId, (data) => ({ ...data, bindings: next }));
    },
    userForExtension: (memberId, extension) => list(memberId).find((b) => b.extension === extension)?.userId,
    extensionForUser: (memberId, userId) => list(memberId).find((b) => b.userId === userId)?.extension,
    cardModeFor: (memberId, userId) => modes(memberId)[String(userId)] ?? 'ring',
    cardModes: (memberId) => Object.fromEntries(Object.entries(modes(memberId)).map(([k, v]) => [Number(k), v])),
    setCardModes: async (memberId, changes) => {
      await docs.mutate(memberId, (data) => {
        const next: Record<string, CardMode> = { ...(data.cardModes ?? {}) };
        for (const [userId, mode] of Object.entries(changes)) {
          // `ring` is the default: not stored, so the document only holds what an admin changed.
          if (mode === 'ring') delete next[userId];
          else next[userId] = mode;
        }
        return { ...data, cardModes: next };
      });
    },
  };
}
