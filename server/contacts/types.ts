import type { CallDirection } from '../pbx/adapter.js';
import type { CrmRef } from '../store/records.js';

/**
 * What calls/ asks of contacts/. None of it may block the screen pop for long: lookups are cached,
 * auto-create is single-flight per number, contact sync runs after the fact.
 */
export interface CrmContacts {
  /** The CRM record for this number, auto-created when the portal's settings say so; null when none. */
  resolveCaller(portal: string, e164: string, direction: CallDirection, responsibleUserId: number | undefined): Promise<CrmRef | null>;
  /**
   * False when our lookup can find nothing register's own match would not (a number with no other written form) and
   * auto-create is off for this direction: the caller may then let Bitrix24's register find the record. Absent: always.
   */
  needsLookupBeforeRegister?(portal: string, e164: string, direction: CallDirection): boolean;
  /** Fire-and-forget: keep the PBX phonebook entry of this CRM record current. Never throws. */
  syncContactAfterCall(portal: string, crm: CrmRef): void;
}
