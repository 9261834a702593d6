import type { SecretBox } from '../crypto.js';
import type { Logger } from '../log.js';
import { createBindingsRepository, type BindingsDocuments } from './bindings.js';
import { createContactSyncRepository, type ContactSyncDocuments } from './contact-sync.js';
import type { Fence, PortalFences } from './fences.js';
import { createMissedCallTasksRepository, type MissedCallTaskDocuments } from './missed-call-tasks.js';
import { createPortalsRepository, type PortalsDocument } from './portals.js';
import { createSettingsRepository, type SettingsDocuments } from './settings.js';
import type { CallsRepository, OutboxRepository, RepairResult, Store } from './types.js';

/** Where the document-backed repositories keep their data: files (store/index.ts) or tables (store/postgres/). */
export interface StoreDocuments {
  portals: PortalsDocument;
  settings: SettingsDocuments;
  bindings: BindingsDocuments;
  contactSync: ContactSyncDocuments;
  missedCallTasks: MissedCallTaskDocuments;
}

export interface StoreParts {
  calls: CallsRepository;
  outbox: OutboxRepository;
}

type Composed = Pick<Store, 'fences' | 'bindings' | 'calls' | 'contactSync' | 'missedCallTasks' | 'outbox' | 'removePortal'>
  & { settings: ReturnType<typeof createSettingsRepository>; portals: ReturnType<typeof createPortalsRepository> };

/**
 * The repositories both stores build the same way over their documents (sealing, defaults, fences), with every
 * portal's settings checked once at open, and the removal of one portal's every record. `removeRest` removes what
 * only one store keeps (the file store's portal directory, the PostgreSQL store's link marks).
 */
export function composeStore(
  docs: StoreDocuments, parts: StoreParts, box: SecretBox, fences: PortalFences, log: Logger,
  removeRest: (memberId: string) => Promise<void>,
): Composed {
  const portals = createPortalsRepository(docs.portals, box, fences, log);
  const settings = createSettingsRepository(docs.settings, box, fences, log);
  for (const { memberId } of portals.list()) settings.check(memberId);
  const bindings = createBindingsRepository(docs.bindings);
  const contactSync = createContactSyncRepository(docs.contactSync);
  const missedCallTasks = createMissedCallTasksRepository(docs.missedCallTasks);
  const { calls, outbox } = parts;

  return {
    fences, portals, settings, bindings, calls, contactSync, missedCallTasks, outbox,
    async removePortal(memberId) {
      await outbox.removePortal(memberId);
      await calls.removePortal(memberId);
      await contactSync.clear(memberId);
      await missedCallTasks.clear(memberId);
      await docs.bindings.remove(memberId);
      await settings.clear(memberId);
      await portals.remove(memberId);
      await removeRest(memberId);
      for (const fence of fences.list(memberId)) fences.lift(memberId, fence.file);
      log.info({ portal: memberId }, 'removed every stored record of the portal');
    },
  };
}

/**
 * Repairs what can be repaired of one portal's fences: `repairOne` starts a file afresh and names where the old one
 * was kept, or answers undefined for a fence it cannot repair (that fence remains).
 */
export async function repairFences(
  fences: PortalFences, memberId: string, repairOne: (fence: Fence) => Promise<string | undefined>,
): Promise<RepairResult> {
  const repaired: RepairResult['repaired'] = [];
  const remaining: Fence[] = [];
  for (const fence of fences.list(memberId)) {
    const keptAs = fence.repair === 'repair' ? await repairOne(fence) : undefined;
    if (keptAs === undefined) remaining.push(fence);
    else repaired.push({ file: fence.file, keptAs });
  }
  return { repaired, remaining };
}
