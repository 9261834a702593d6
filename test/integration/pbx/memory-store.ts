import { DEFAULT_SETTINGS, type Portal, type PortalSettings } from '../../../server/store/records.js';
import { createPortalFences } from '../../../server/store/fences.js';
import type { PortalsRepository, SettingsRepository, Store } from '../../../server/store/types.js';

/**
 * The two repositories the PBX supervisor reads (portals, settings), in memory. The other repositories are not
 * the supervisor's business: touching one fails the test loudly.
 */
export function memoryStore(): Store & { setSettings(memberId: string, s: PortalSettings): void } {
  const portalsMap = new Map<string, Portal>();
  const settingsMap = new Map<string, PortalSettings>();
  const portals: PortalsRepository = {
    get: (id) => portalsMap.get(id),
    list: () => [...portalsMap.values()],
    put: async (p) => {
      portalsMap.set(p.memberId, p);
    },
    update: async (id, patch) => {
      const cur = portalsMap.get(id);
      if (!cur) throw new Error(`no portal ${id}`);
      const next = { ...cur, ...patch };
      portalsMap.set(id, next);
      return next;
    },
    remove: async (id) => {
      portalsMap.delete(id);
    },
  };
  const settings: SettingsRepository = {
    get: (id) => settingsMap.get(id) ?? DEFAULT_SETTINGS,
    put: async (id, s) => {
      settingsMap.set(id, s);
    },
    clear: async (id) => {
      settingsMap.delete(id);
    },
  };
  function unused<T extends object>(name: string): T {
    return new Proxy({} as T, { get: (_t, prop) => { throw new Error(`PBX supervisor must not use store.${name}.${String(prop)}`); } });
  }
  return {
    portals,
    settings,
    bindings: unused('bindings'),
    calls: unused('calls'),
    contactSync: unused('contactSync'),
    missedCallTasks: unused('missedCallTasks'),
    outbox: unused('outbox'),
    // The supervisor keeps fenced portals' links closed (store/fences.ts): a real, empty registry.
    fences: createPortalFences(),
    repairPortal: () => Promise.reject(new Error('PBX supervisor must not use store.repairPortal')),
    removePortal: async (id: string) => {
      portalsMap.delete(id);
      settingsMap.delete(id);
    },
    close: async () => undefined,
    setSettings: (id: string, s: PortalSettings) => {
      settingsMap.set(id, s);
    },
  };
}

export function portal(memberId: string): Portal {
  return {
    memberId, domain: `${memberId}.bitrix24.test`, clientEndpoint: `https://${memberId}.bitrix24.test/rest/`, serverEndpoint: 'https://oauth.bitrix.info/rest/',
    applicationToken: 'app-token', accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, scope: 'crm,telephony', status: 'L',
    ratePlan: 'standard', lineNumber: 'yeastar', installedAt: Date.now(), updatedAt: Date.now(), installed: true,
  };
}
