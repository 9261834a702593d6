import type { StatusResponse } from '../../contract/api-shapes.js';
import type { Outbox } from '../outbox/types.js';
import type { PbxLinkStatus } from '../pbx/adapter.js';
import type { Store } from '../store/types.js';
import type { Portal } from '../store/records.js';
import { fenceAdvice, fenceNotice } from '../store/fences.js';

/** What the admin must do, if anything, for Bitrix24 to take call logs. */
function noticeFor(portal: Portal): string | null {
  if (portal.needsReinstall) return `Bitrix24 refused the app's tokens (${portal.needsReinstall.reason}): reinstall the app to resume call logging.`;
  if (portal.uninstalledAt) return 'The app was uninstalled from this portal: install it again to use it.';
  // telephony.externalCall.register/finish and externalLine.* need the app context (WRONG_AUTH_TYPE with a webhook).
  if (portal.webhookUrl) return 'Connected by inbound webhook: Bitrix24 refuses call registration and logging for webhooks (WRONG_AUTH_TYPE). Install the app to log calls.';
  return null;
}

export type PbxStatusLookup = (memberId: string) => PbxLinkStatus;

/** Who asks (the frame-authenticated user, http/context.ts FrameUser); spelled out so portals/ needs nothing of http/. */
export interface StatusViewer {
  portal: Portal;
  userId: number;
  isAdmin: boolean;
}

/**
 * What the settings page shows at the top: install state, needs-reinstall, PBX link, outbox backlog, and whether the
 * portal is fenced off because some of its stored data cannot be read (store/fences.ts): then the notice says which
 * file and what to do, ahead of any other notice.
 */
export function portalStatus(deps: { store: Store; outbox: Outbox; pbxStatus: PbxStatusLookup }, user: StatusViewer): StatusResponse {
  const memberId = user.portal.memberId;
  const portal = deps.store.portals.get(memberId) ?? user.portal;
  const settings = deps.store.settings.get(memberId);
  const link = deps.pbxStatus(memberId);
  const stats = deps.outbox.stats(memberId);
  const fences = deps.store.fences.list(memberId);
  return {
    portal: {
      memberId,
      domain: portal.domain,
      installed: portal.installed && !portal.uninstalledAt,
      needsReinstall: portal.needsReinstall ?? null,
      ratePlan: portal.ratePlan,
      lineNumber: portal.lineNumber,
      connection: portal.webhookUrl ? 'webhook' : 'app',
      notice: fenceNotice(fences) ?? noticeFor(portal),
    },
    user: { id: user.userId, isAdmin: user.isAdmin, extension: deps.store.bindings.extensionForUser(memberId, user.userId) ?? null },
    enabled: settings.enabled,
    pbx: {
      configured: settings.pbx !== null,
      state: link.state,
      lastError: link.lastError ?? null,
      lastErrorCode: link.lastErrorCode ?? null,
      lastEventAt: link.lastEventAt ?? null,
    },
    outbox: { pending: stats.pending, failed: stats.failed, oldestPendingAt: stats.oldestPendingAt ?? null },
    fenced: fences.map((f) => ({ file: f.file, reason: f.reason, repair: f.repair, since: f.since, advice: fenceAdvice(f) })),
  };
}
