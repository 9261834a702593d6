import type { EmulatorOptions, ExtensionInput } from './types.js';

/**
 * The PBX's data: extensions, company contacts, phonebooks, CDR rows and recordings, plus the emulator clock.
 * Field names are Yeastar's, so handlers can answer rows as they are.
 */

export interface Extension {
  id: number;
  number: string;
  caller_id_name: string;
  first_name: string;
  last_name: string;
  email_addr: string;
  mobile_number: string;
  presence_status: string;
}

export const NUM_TYPES = [
  'business_number', 'business_number2', 'business_fax', 'mobile_number', 'mobile_number2',
  'home_number', 'home_number2', 'home_fax', 'other_number',
] as const;
export type NumType = (typeof NUM_TYPES)[number];

export interface CompanyContact {
  id: number;
  first_name: string;
  last_name: string;
  company: string;
  email: string;
  remark: string;
  phonebook_id_list: number[];
  number_list: { num_type: NumType; number: string }[];
  zip_code: string;
  street: string;
  city: string;
  state: string;
  country: string;
}

export interface Phonebook {
  id: number;
  name: string;
  /** sel_all: every company contact is in it; sel_specific: only those whose phonebook_id_list names it. */
  member_select: 'sel_all' | 'sel_specific';
}

/** One CDR row per call leg, as `cdr/search` returns it (reference §4.6, capture #8). */
export interface CdrRow {
  /** Row id: cdr/list shows it, cdr/search rows have none (milaportal samples cdr-list.json vs cdr-search.json). */
  id: number;
  time: string;
  call_from: string;
  call_to: string;
  timestamp: number;
  uid: string;
  src_addr: string;
  src_trunk: string;
  dst_trunk: string;
  duration: number;
  ring_duration?: number;
  talk_duration: number;
  disposition: 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED' | 'VOICEMAIL';
  call_type: 'Inbound' | 'Outbound' | 'Internal';
  /** Who hung up, space-padded as captured: "src hangup    " / "dst hangup    ". */
  reason: string;
  did_number: string;
  dod_number: string;
  record_file: string;
  call_from_number: string;
  call_from_name: string;
  call_to_number: string;
  call_to_name: string;
  call_id: string;
  call_note: null;
  call_note_id: string;
  enb_call_note: number;
  did: string;
  did_name: string;
  pin_code: string;
  new_id: string;
}

export interface Recording {
  id: number;
  file: string;
  /** Where the WAV sits on disk. */
  path: string;
  size: number;
  timestamp: number;
  uid: string;
  callId: string;
  call_from: string;
  call_to: string;
  call_type: CdrRow['call_type'];
  duration: number;
}

export class PbxState {
  readonly options: EmulatorOptions;
  private clockOffsetMs = 0;
  private callSeq = 100;
  private channelSeq = 0x30;
  private nextIds = { extension: 1, contact: 1, phonebook: 1, recording: 1, cdr: 1 };

  readonly extensions: Extension[] = [];
  readonly contacts: CompanyContact[] = [];
  readonly phonebooks: Phonebook[] = [];
  readonly cdr: CdrRow[] = [];
  readonly recordings: Recording[] = [];

  constructor(options: EmulatorOptions) {
    this.options = options;
  }

  /** Emulator time in epoch ms; tests move it forward with advanceClock to expire tokens and links. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  /** Yeastar call ids look like "<epoch seconds>.<sequence>" (captures in reference §7). */
  newCallId(): string {
    this.callSeq += 1;
    return `${Math.floor(this.now() / 1000)}.${this.callSeq}`;
  }

  /** Asterisk-style channel suffix, e.g. "0000003d". */
  newChannelSuffix(): string {
    this.channelSeq += 1;
    return this.channelSeq.toString(16).padStart(8, '0');
  }

  nextId(kind: keyof PbxState['nextIds']): number {
    const id = this.nextIds[kind];
    this.nextIds[kind] = id + 1;
    return id;
  }

  addExtension(input: ExtensionInput): Extension {
    const existing = this.extensions.find((e) => e.number === input.number);
    const [first = input.name, ...rest] = input.name.split(' ');
    const fields = {
      number: input.number,
      caller_id_name: input.name,
      first_name: first,
      last_name: rest.join(' '),
      email_addr: input.email ?? '',
      mobile_number: input.mobile ?? '',
      presence_status: input.presence ?? 'available',
    };
    if (existing) {
      Object.assign(existing, fields);
      return existing;
    }
    const ext: Extension = { id: this.nextId('extension'), ...fields };
    this.extensions.push(ext);
    return ext;
  }

  extensionByNumber(number: string): Extension | undefined {
    return this.extensions.find((e) => e.number === number);
  }

  isExtension(number: string): boolean {
    return this.extensionByNumber(number) !== undefined;
  }

  /** CDR and recording lists show a party as "Name<number>" when the PBX knows a name (capture #8). */
  displayParty(number: string): { display: string; name: string } {
    const ext = this.extensionByNumber(number);
    if (ext) return { display: `${ext.caller_id_name}<${number}>`, name: ext.caller_id_name };
    const named = NAMED_DESTINATIONS[number];
    if (named) return { display: `${named}<${number}>`, name: named };
    return { display: number, name: '' };
  }

  contactsInPhonebook(pb: Phonebook): CompanyContact[] {
    if (pb.member_select === 'sel_all') return this.contacts;
    return this.contacts.filter((c) => c.phonebook_id_list.includes(pb.id));
  }
}

/** Numbers of the default IVR, queue and ring group the scenarios route through. */
export const IVR_NUMBER = '6200';
export const QUEUE_NUMBER = '6400';
export const RING_GROUP_NUMBER = '6300';
const NAMED_DESTINATIONS: Record<string, string> = {
  [IVR_NUMBER]: 'Main IVR',
  [QUEUE_NUMBER]: 'Sales Queue',
  [RING_GROUP_NUMBER]: 'Support Group',
};

export const DEFAULT_EXTENSIONS: ExtensionInput[] = [
  { number: '1001', name: 'Alice Smith', email: 'alice@example.com', mobile: '+15550101001' },
  { number: '1002', name: 'Bob Jones', email: 'bob@example.com' },
  { number: '1003', name: 'Carol White', email: 'carol@example.com' },
  { number: '1004', name: 'Dave Brown', email: '' },
];

export const DEFAULT_TRUNK = 'SIP-Trunk-1';
export const DEFAULT_DID = '+15550200000';
export const DEFAULT_EXTERNAL = '+15550123456';

/** "DD/MM/YYYY hh:mm:ss PM", the display format of capture #8 (UTC here: the emulated PBX runs in UTC). */
export function formatCdrTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(h12)}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

/** "YYYY-MM-DD HH:MM:SS", the 30012 `time_start` format (30012 New CDR page). */
export function formatEventTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** "YYYYMMDDhhmmss", the prefix of recording file names (reference §8). */
export function formatFileTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}
