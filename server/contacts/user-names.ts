import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import { listActiveEmployees } from '../bitrix/users.js';

export interface UserNames {
  /** The display name when known; unknown or stale names are fetched in the background for the next ask. */
  nameOf(portal: string, userId: number): string | null;
  forget(portal: string): void;
}

interface Entry {
  names: Map<number, string>;
  fetchedAt: number;
  loading?: Promise<void>;
}

/**
 * The timeline shows people, not extensions, so it needs user names on every page render. A page must not wait
 * for Bitrix24 (nor spend the portal's 2 req/s on it), so names come from a per-portal list fetched at most once
 * per `ttlMs` in the background; the first page after a start shows extensions until the list arrives.
 */
export function createUserNames(deps: { clients: BitrixClients; log: Logger; ttlMs?: number; now?: () => number }): UserNames {
  const ttlMs = deps.ttlMs ?? 10 * 60_000;
  const now = deps.now ?? Date.now;
  const portals = new Map<string, Entry>();

  const refresh = (portal: string, entry: Entry): void => {
    if (entry.loading) return;
    entry.loading = listActiveEmployees(deps.clients.forPortal(portal))
      .then((users) => {
        entry.names = new Map(users.map((u) => [u.id, u.name]));
        entry.fetchedAt = now();
      })
      .catch((err: unknown) => {
        // Retried on the next ask after the TTL; the timeline still works with extensions.
        entry.fetchedAt = now();
        deps.log.warn({ portal, err }, 'could not load user names for the timeline');
      })
      .finally(() => {
        entry.loading = undefined;
      });
  };

  return {
    nameOf(portal, userId) {
      let entry = portals.get(portal);
      if (!entry) {
        entry = { names: new Map(), fetchedAt: Number.NEGATIVE_INFINITY };
        portals.set(portal, entry);
      }
      if (now() - entry.fetchedAt >= ttlMs) refresh(portal, entry);
      return entry.names.get(userId) ?? null;
    },
    forget(portal) {
      portals.delete(portal);
    },
  };
}
