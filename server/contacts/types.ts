import type { CallDirection } from '../pbx/adapter.js';
import type { CrmRef } from '../store/records.js';

/** Bitrix24's CRM change events, as contacts/ takes them (dispatched by http/events.ts once verified). */
export interface CrmChangeEvents {
  crmChanged(portal: string, crm: CrmRef, change: 'update' | 'delete'): Promise<void>;
}

/**
 * What calls/ asks of contacts/. None of it may block the screen pop for long: lookups are cached,
 * auto-create is single-flight per number, contact sync runs after the fact.
 */
export interface CrmContacts {
  /**
   * The CRM record for this number, auto-created when the portal's settings say so; null when none. `presented` is
   * the number as the PBX gave it (an auto-created record is named after it); absent: the E.164 form.
   */
  resolveCaller(
    portal: string, e164: string, direction: CallDirection, responsibleUserId: number | undefined, presented?: string,
  ): Promise<CrmRef | null>;
  /**
   * False when our lookup can find nothing register's own match would not (a number with no other written form) and
   * auto-create is off for this direction: the caller may then let Bitrix24's register find the record. Absent: always.
   */
  needsLookupBeforeRegister?(portal: string, e164: string, direction: CallDirection): boolean;
  /**
   * Fire-and-forget: keep the PBX phonebook entry of this CRM record current (or, when the record is not of the
   * synced type, of the synced type's record with the caller's `number`). `received: false` (an outbound call, or one
   * no bound extension took): only a record auto-created for the call is synced (the manual). Never throws.
   */
  syncContactAfterCall(portal: string, crm: CrmRef, number?: string, received?: boolean): void;
}
