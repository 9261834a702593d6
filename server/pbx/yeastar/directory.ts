import type { PbxContact, PbxExtension, PbxNumberType, PbxPhonebook } from '../adapter.js';
import type { CdrLeg } from './cdr-fold.js';

/**
 * Yeastar row shapes → our types, and back. Field names from the Yeastar developer guide:
 * extension/list (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/query-extension-list.html),
 * company contacts (…/add-a-company-contact.html, `num_type` values), phonebooks (…/add-a-phonebook.html),
 * cdr/search rows (…/search-specific-cdr.html and the captured row in reference §7 #8).
 */

type Row = Record<string, unknown>;

const asRow = (v: unknown): Row => (typeof v === 'object' && v !== null ? (v as Row) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
};

export function extensionFromRow(raw: unknown): PbxExtension | undefined {
  const row = asRow(raw);
  const number = str(row['number']);
  if (number === '') return undefined;
  return { number, name: str(row['caller_id_name']) || str(row['name']), email: str(row['email_addr']) || str(row['email']) };
}

export function phonebookFromRow(raw: unknown): PbxPhonebook | undefined {
  const row = asRow(raw);
  const id = str(row['id']);
  if (id === '') return undefined;
  const count = row['total'] ?? row['contact_count'] ?? row['contacts_total'] ?? (Array.isArray(row['contacts_list']) ? row['contacts_list'].length : 0);
  return { id, name: str(row['name']), contactCount: num(count) };
}

export const NUM_TYPE: Record<PbxNumberType, string> = {
  business: 'business_number',
  business2: 'business_number2',
  mobile: 'mobile_number',
  mobile2: 'mobile_number2',
  home: 'home_number',
  home2: 'home_number2',
  business_fax: 'business_fax',
  home_fax: 'home_fax',
  other: 'other_number',
};

/** The company_contact/create|update body for our contact (first_name is required by the PBX). */
export function contactBody(phonebookId: string, contact: PbxContact): Row {
  const firstName = contact.firstName || contact.lastName || contact.company;
  const lastName = contact.firstName ? contact.lastName : '';
  const phonebookNumber = Number(phonebookId);
  return {
    first_name: firstName,
    last_name: lastName,
    company: contact.company,
    email: contact.email,
    phonebook_id_list: [Number.isFinite(phonebookNumber) ? phonebookNumber : phonebookId],
    number_list: contact.numbers.map((n) => ({ num_type: NUM_TYPE[n.type], number: n.number })),
  };
}

/** `Shams Rafiq<4005>` → `4005`; a bare number stays as is. */
export function numberOf(display: string): string {
  const m = /<([^<>]*)>\s*$/.exec(display);
  return (m?.[1] ?? display).trim();
}

/** One cdr/search row (one leg) → a CdrLeg; undefined without a call id. */
export function cdrLegFromRow(raw: unknown): CdrLeg | undefined {
  const row = asRow(raw);
  const callId = str(row['call_id']) || str(row['uid']);
  if (callId === '') return undefined;
  const timestamp = num(row['timestamp']);
  return {
    callId,
    from: str(row['call_from_number']) || numberOf(str(row['call_from'])),
    to: str(row['call_to_number']) || numberOf(str(row['call_to'])),
    type: str(row['call_type']) || str(row['type']),
    status: str(row['disposition']) || str(row['status']),
    callSeconds: num(row['duration'] ?? row['call_duration']),
    talkSeconds: num(row['talk_duration']),
    srcTrunk: str(row['src_trunk']) || str(row['src_trunk_name']),
    dstTrunk: str(row['dst_trunk']) || str(row['dst_trunk_name']),
    did: str(row['did_number']) || str(row['did']),
    recording: str(row['record_file']) || str(row['recording']),
    ...(timestamp > 0 ? { startedAt: timestamp * 1000 } : {}),
  };
}
