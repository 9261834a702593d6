import { z } from 'zod';
import type { PortalWork } from './portal-work.js';
import type { ExternalCallbackStart, ExternalCallStart, TelephonyEventHandlers } from '../calls/types.js';

/**
 * Click-to-call and callback requests from Bitrix24 reach whichever instance Bitrix24 called, but only the portal's
 * owner holds its PBX link (and the call's state): on another instance the event is handed to the owner
 * (cluster/portal-work.ts), which runs the same handler. With one instance, or on the owner, it runs here.
 */

const crm = z.object({ entityType: z.enum(['CONTACT', 'LEAD', 'COMPANY', 'DEAL']), entityId: z.number() }).nullable();
const callStart = z.object({
  b24CallId: z.string(), phoneNumber: z.string(), userId: z.number(), lineNumber: z.string(), crm,
  callListId: z.number(), isMobile: z.boolean(),
});
const callbackStart = z.object({ phoneNumber: z.string(), text: z.string(), lineNumber: z.string(), crm });

const CALL_START = 'telephony.externalCallStart';
const CALLBACK_START = 'telephony.externalCallbackStart';

export function handTelephonyToOwner(local: TelephonyEventHandlers, work: PortalWork): TelephonyEventHandlers {
  work.handle(CALL_START, (portal, input) => local.externalCallStart(portal, callStart.parse(input)));
  work.handle(CALLBACK_START, (portal, input) => local.externalCallbackStart(portal, callbackStart.parse(input)));
  return {
    async externalCallStart(portal: string, event: ExternalCallStart) {
      await work.run(portal, CALL_START, { ...event });
    },
    async externalCallbackStart(portal: string, event: ExternalCallbackStart) {
      await work.run(portal, CALLBACK_START, { ...event });
    },
  };
}
