/**
 * How a CRM contact, lead or company looks as a PBX company contact: pure mapping, no I/O.
 */
import { createHash } from 'node:crypto';
import type { PbxContact, PbxNumberType } from '../pbx/adapter.js';
import { normalizePhone } from '../phone.js';
import type { CrmPerson, CrmPersonPhone } from '../bitrix/crm.js';

/** Visible reasons a record is not synced (shown by GET /api/contact-sync). */
export const SKIP_NO_NAME = 'no first or last name';
export const SKIP_NO_COMPANY_TITLE = 'the company has no name';
export const SKIP_NO_PHONE = 'no phone number';

/**
 * Bitrix24 phone kinds (crm_multifield VALUE_TYPE) to PBX number slots, preferred slot first. A PBX contact has one
 * number per slot (Yeastar num_type, yeastar-api.md §5.2), so a third WORK number overflows into a free slot below.
 */
const SLOTS_BY_KIND: Record<string, PbxNumberType[]> = {
  WORK: ['business', 'business2'],
  MOBILE: ['mobile', 'mobile2'],
  HOME: ['home', 'home2'],
  FAX: ['business_fax', 'home_fax'],
  PAGER: ['other'],
  MAILING: ['other'],
  OTHER: ['other'],
};
/** Fax slots are never used for overflow: a voice number filed as a fax would be dialled as one. */
const OVERFLOW_ORDER: PbxNumberType[] = ['other', 'business2', 'mobile2', 'home2', 'business', 'mobile', 'home'];

export interface NumberMapping {
  numbers: PbxContact['numbers'];
  /** Numbers that found no free slot (more than the PBX holds for voice). */
  dropped: string[];
}

/** Each distinct number once (compared in E.164), in its kind's slot, else the first free overflow slot. */
export function mapNumbers(phones: CrmPersonPhone[], defaultCountry: string): NumberMapping {
  const taken = new Set<PbxNumberType>();
  const seen = new Set<string>();
  const numbers: PbxContact['numbers'] = [];
  const dropped: string[] = [];
  const pending: { number: string; kind: string }[] = [];
  for (const phone of phones) {
    const number = normalizePhone(phone.value, defaultCountry);
    if (!number || seen.has(number)) continue;
    seen.add(number);
    pending.push({ number, kind: phone.kind });
  }
  // Two passes: every number first gets its own kind's slots, so an early overflow cannot steal a later number's slot.
  const overflow: string[] = [];
  for (const { number, kind } of pending) {
    const slot = (SLOTS_BY_KIND[kind] ?? ['other']).find((s) => !taken.has(s));
    if (slot) {
      taken.add(slot);
      numbers.push({ type: slot, number });
    } else overflow.push(number);
  }
  for (const number of overflow) {
    const slot = OVERFLOW_ORDER.find((s) => !taken.has(s));
    if (slot) {
      taken.add(slot);
      numbers.push({ type: slot, number });
    } else dropped.push(number);
  }
  return { numbers, dropped };
}

export type ContactPlan =
  | { kind: 'write'; contact: PbxContact; dropped: string[] }
  | { kind: 'skip'; reason: string };

/**
 * The PBX contact for a CRM record, or why it cannot be one. The PBX requires a first name (company_contact/create),
 * so a person with only a last name gets it as the first name; a company's TITLE is its first name and company.
 */
export function planPbxContact(person: CrmPerson, companyName: string, defaultCountry: string): ContactPlan {
  let firstName: string;
  let lastName: string;
  if (person.entityType === 'COMPANY') {
    if (!person.title) return { kind: 'skip', reason: SKIP_NO_COMPANY_TITLE };
    firstName = person.title;
    lastName = '';
  } else {
    if (!person.firstName && !person.lastName) return { kind: 'skip', reason: SKIP_NO_NAME };
    firstName = person.firstName || person.lastName;
    lastName = person.firstName ? person.lastName : '';
  }
  const { numbers, dropped } = mapNumbers(person.phones, defaultCountry);
  if (numbers.length === 0) return { kind: 'skip', reason: SKIP_NO_PHONE };
  return {
    kind: 'write',
    contact: { firstName, lastName, company: companyName, email: person.emails[0] ?? '', numbers },
    dropped,
  };
}

/** What was written, so an unchanged record is not written again (and a changed one is). */
export function contactFingerprint(phonebookId: string, contact: PbxContact): string {
  const canonical = JSON.stringify([phonebookId, contact.firstName, contact.lastName, contact.company, contact.email,
    contact.numbers.map((n) => `${n.type}=${n.number}`)]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}
