import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PortalWork } from './portal-work.js';

/**
 * PBX webhook pushes (webhook mode) reach whichever instance the PBX's URL leads to, but the portal's link, which
 * turns them into call events, runs on its owner. The receiving instance has already checked the portal key and
 * the signature (the brand's router, pbx/webhook-routing.ts, with the portal's secret from the shared store): what
 * it hands over is the pushed event as the PBX sent it, parsed JSON (call data, no secret). The owner gives it to its
 * link exactly as if the PBX had pushed it there; the PBX is answered 2xx only after that.
 */

const KIND = 'pbx.webhookPush';

/** Registers the owner's side; answers the receiving side's hand-over. */
export function handWebhookPushesToOwner(
  work: PortalWork, acceptHere: (memberId: string, event: unknown) => boolean, log: Logger,
): (memberId: string, event: unknown) => Promise<void> {
  work.handle(KIND, (portal, input) => {
    // No open webhook link here (being reopened, just lost): refused, so the receiver answers 503 and the PBX may
    // send it again; the link's call-history sweep finds the call otherwise.
    if (!acceptHere(portal, input.event)) {
      throw new AppError('PBX_NOT_CONNECTED', 'the portal\'s PBX webhook link is not running on its owner right now', 503);
    }
    log.info({ portal }, 'PBX webhook push received by another instance delivered to this instance\'s link');
    return Promise.resolve(null);
  });
  return async (portal, event) => {
    log.info({ portal }, 'PBX webhook push for a portal another instance owns: handing it to the owner');
    await work.run(portal, KIND, { event });
  };
}
