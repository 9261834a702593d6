import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { PortalBitrixClients } from '../bitrix/client.js';

export interface UninstallDeps {
  store: Store;
  clients: PortalBitrixClients;
  log: Logger;
  /** Closes the portal's PBX link (supervisor). */
  onPortalRemoved: (memberId: string) => Promise<void> | void;
  now?: () => number;
}

/**
 * ONAPPUNINSTALL, already verified by its application_token (https://apidocs.bitrix24.com/api-reference/common/events/on-app-uninstall.html).
 * Bitrix24 has revoked API access: drop the tokens. CLEAN=1 ("delete application data") removes everything of the
 * portal; otherwise settings and history stay for a later re-install.
 */
export async function uninstallPortal(deps: UninstallDeps, memberId: string, clean: boolean): Promise<void> {
  const { store, log } = deps;
  const portal = store.portals.get(memberId);
  if (!portal) return;
  const now = (deps.now ?? Date.now)();
  deps.clients.forget(memberId);
  if (clean) {
    await store.outbox.removePortal(memberId);
    await store.calls.removePortal(memberId);
    await store.contactSync.clear(memberId);
    await store.bindings.replace(memberId, []);
    await store.settings.clear(memberId);
    await store.portals.remove(memberId);
    log.info({ portal: memberId }, 'app uninstalled, all portal data removed (CLEAN=1)');
  } else {
    await store.portals.update(memberId, {
      accessToken: '', refreshToken: '', expiresAt: 0, installed: false, uninstalledAt: now, updatedAt: now,
    });
    log.info({ portal: memberId }, 'app uninstalled, tokens removed (settings kept)');
  }
  await closePbxLink(deps, memberId);
}

/** After the store says "uninstalled" (or the portal is gone), so the supervisor's reconcile closes the link. */
async function closePbxLink(deps: UninstallDeps, memberId: string): Promise<void> {
  try {
    await deps.onPortalRemoved(memberId);
  } catch (err) {
    deps.log.error({ portal: memberId, err }, 'closing the PBX link on uninstall failed');
  }
}
