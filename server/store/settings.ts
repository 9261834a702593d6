import type { SecretBox } from '../crypto.js';
import type { PortalDocuments } from './portal-documents.js';
import { DEFAULT_SETTINGS, type PortalSettings } from './records.js';
import { openSettings, sealSettings } from './secrets.js';
import type { SettingsRepository } from './types.js';

export type SettingsDocuments = PortalDocuments<{ settings?: PortalSettings }>;

/** Saved settings over the defaults, nested groups merged too, so a field added in a later release gets its default. */
function withDefaults(saved: Partial<PortalSettings> | undefined): PortalSettings {
  const base = structuredClone(DEFAULT_SETTINGS);
  if (!saved) return base;
  return {
    ...base,
    ...saved,
    contactSync: { ...base.contactSync, ...saved.contactSync },
    autoCreate: { ...base.autoCreate, ...saved.autoCreate },
    pbx: saved.pbx ? { ...saved.pbx } : null,
  };
}

export function createSettingsRepository(docs: SettingsDocuments, box: SecretBox): SettingsRepository {
  const plain = new Map<string, PortalSettings>();
  const opened = (memberId: string): PortalSettings => {
    let settings = plain.get(memberId);
    if (!settings) {
      const stored = docs.data(memberId)?.settings;
      settings = withDefaults(stored ? openSettings(box, stored) : undefined);
      plain.set(memberId, settings);
    }
    return settings;
  };

  return {
    get: (memberId) => structuredClone(opened(memberId)),
    put: async (memberId, settings) => {
      const next = withDefaults(structuredClone(settings));
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
