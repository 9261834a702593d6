import type { StatusResponse } from '../http/api/shapes.js';
import type { Outbox } from '../outbox/types.js';
import type { PbxLinkStatus } from '../pbx/adapter.js';
import type { Store } from '../store/types.js';
import type { FrameUser } from '../http/context.js';

export type PbxStatusLookup = (memberId: string) => PbxLinkStatus;

/** What the settings page shows at the top: install state, needs-reinstall, PBX link, outbox backlog. */
export function portalStatus(deps: { store: Store; outbox: Outbox; pbxStatus: PbxStatusLookup }, user: FrameUser): StatusResponse {
  const memberId = user.portal.memberId;
  const portal = deps.store.portals.get(memberId) ?? user.portal;
  const settings = deps.store.settings.get(memberId);
  const link = deps.pbxStatus(memberId);
  const stats = deps.outbox.stats(memberId);
  return {
    portal: {
      memberId,
      domain: portal.domain,
      installed: portal.installed && !portal.uninstalledAt,
      needsReinstall: portal.needsReinstall ?? null,
      ratePlan: portal.ratePlan,
      lineNumber: portal.lineNumber,
    },
    user: { id: user.userId, isAdmin: user.isAdmin, extension: deps.store.bindings.extensionForUser(memberId, user.userId) ?? null },
    enabled: settings.enabled,
    pbx: {
      configured: settings.pbx !== null,
      state: link.state,
      lastError: link.lastError ?? null,
      lastEventAt: link.lastEventAt ?? null,
    },
    outbox: { pending: stats.pending, failed: stats.failed, oldestPendingAt: stats.oldestPendingAt ?? null },
  };
}
