import type { SecretBox } from '../crypto.js';
import type { Logger } from '../log.js';
import { copyRecord } from './copy.js';
import type { PortalFences } from './fences.js';
import type { PortalDocumentSet } from './portal-documents.js';
import { DEFAULT_SETTINGS, type PortalSettings } from './records.js';
import { openSettings, sealSettings } from './secrets.js';
import type { SettingsRepository } from './types.js';

export type SettingsDocuments = PortalDocumentSet<{ settings?: PortalSettings }>;

/** Saved settings over the defaults, nested groups merged too, so a field added in a later release gets its default. */
function withDefaults(saved: Partial<PortalSettings> | undefined): PortalSettings {
  const base = copyRecord(DEFAULT_SETTINGS);
  if (!saved) return base;
  return {
    ...base,
    ...saved,
    contactSync: { ...base.contactSync, ...saved.contactSync },
    autoCreate: { ...base.autoCreate, ...saved.autoCreate },
    missedCallTasks: { ...base.missedCallTasks, ...saved.missedCallTasks },
    routing: { ...base.routing, ...saved.routing },
    pbx: saved.pbx ? { ...saved.pbx } : null,
  };
}

export interface SettingsStore extends SettingsRepository {
  /** Opens the portal's sealed PBX secrets at start; one that does not open fences the portal's settings.json. */
  check(memberId: string): void;
  /** Forgets what was opened (after a repair started the document afresh). */
  forget(memberId: string): void;
}

/**
 * A fenced portal (its settings.json unreadable, or a sealed PBX secret in it that does not open) reads the
 * defaults (disabled, no PBX) and its writes are refused by the documents, until an admin repairs it.
 */
export function createSettingsRepository(docs: SettingsDocuments, box: SecretBox, fences: PortalFences, log: Logger): SettingsStore {
  const plain = new Map<string, PortalSettings>();
  const opened = (memberId: string): PortalSettings => {
    let settings = plain.get(memberId);
    if (!settings) {
      const stored = docs.data(memberId)?.settings;
      const result = stored ? openSettings(box, stored) : undefined;
      if (result && result.unopened.length > 0) {
        const fields = result.unopened.map((u) => u.field).join(', ');
        log.error({ portal: memberId, fields, codes: result.unopened.map((u) => u.code).join(', ') },
          'PORTAL_FENCED: sealed PBX secrets in settings.json cannot be opened; the portal is fenced off, every other portal is served');
        fences.add(memberId, { file: 'settings.json', repair: 'repair', reason: `the sealed PBX ${fields} in it cannot be opened` });
        return withDefaults(undefined);
      }
      settings = withDefaults(result?.plain);
      plain.set(memberId, settings);
    }
    return settings;
  };

  return {
    get: (memberId) => copyRecord(fences.has(memberId, 'settings.json') ? withDefaults(undefined) : opened(memberId)),
    check: (memberId) => {
      opened(memberId);
    },
    forget: (memberId) => {
      plain.delete(memberId);
    },
    put: async (memberId, settings) => {
      const next = withDefaults(copyRecord(settings));
      const sealed = sealSettings(box, next);
      await docs.mutate(memberId, (data) => ({ ...data, settings: sealed }));
      plain.set(memberId, next);
    },
    clear: async (memberId) => {
      await docs.remove(memberId);
      plain.delete(memberId);
    },
  };
}
