import type { CrmRef } from '../store/records.js';

/** ONEXTERNALCALLSTART, read from Bitrix24's form body into our words (http/events.ts does the reading). */
export interface ExternalCallStart {
  /** Bitrix24 registered the call already: finish this CALL_ID, never register again. */
  b24CallId: string;
  phoneNumber: string;
  userId: number;
  lineNumber: string;
  crm: CrmRef | null;
  callListId: number;
  isMobile: boolean;
}

/** ONEXTERNALCALLBACKSTART (CRM callback form): no CALL_ID; we register the call ourselves. */
export interface ExternalCallbackStart {
  phoneNumber: string;
  text: string;
  lineNumber: string;
  crm: CrmRef | null;
}

/** What http/events.ts hands verified telephony events to (implemented in calls/). */
export interface TelephonyEventHandlers {
  externalCallStart(portal: string, event: ExternalCallStart): Promise<void>;
  externalCallbackStart(portal: string, event: ExternalCallbackStart): Promise<void>;
}
