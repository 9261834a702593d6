import type { ErrorCode, PbxErrorCode } from '../../contract/error-codes.js';
import type { Readable } from 'node:stream';
import type { CallDirection, CallRecordingRef, CallResult } from '../domain/call.js';

/**
 * The PBX behind one small interface. Nothing outside server/pbx/ knows a brand's field names:
 * calls/ and contacts/ see only these types. A second brand (Asterisk AMI, 3CX…) implements PbxAdapter.
 */

export type { CallDirection, CallRecordingRef, CallResult } from '../domain/call.js';

/**
 * ringing   – a call exists and extensions are ringing (or the caller extension is dialing out);
 * answered  – an extension answered (the `extensions` list says which);
 * transferred – the call moved to another extension (blind/attended transfer);
 * failed    – the PBX reports the call failed (reason set) before or instead of a CDR;
 * ended     – live events say the call is over (all members hung up); a CDR may follow;
 * cdr       – the final call-detail record, aggregated over all legs of the call (authoritative).
 */
export type CallEventKind = 'ringing' | 'answered' | 'transferred' | 'failed' | 'ended' | 'cdr';

export type ExtensionState = 'ringing' | 'answered' | 'calling' | 'hold' | 'hangup';

export interface CallExtension {
  /** The extension number as the PBX knows it, e.g. "1001". */
  number: string;
  state: ExtensionState;
}

export interface CallDetail {
  result: CallResult;
  talkSeconds: number;
  callSeconds: number;
  /** Extension credited with the call: the agent leg that answered (not an IVR or queue number). */
  answeredBy?: string;
  /** For outbound calls: the extension that placed it. */
  placedBy?: string;
  recording?: CallRecordingRef;
  /** Epoch milliseconds the call started, when the PBX says. */
  startedAt?: number;
}

export interface CallEvent {
  /** Portal key (memberId) this PBX belongs to. */
  portal: string;
  /** The PBX's id for the whole call, shared by every leg. */
  pbxCallId: string;
  /** Epoch milliseconds the event was observed (or the CDR's end time when recovered). */
  at: number;
  kind: CallEventKind;
  direction: CallDirection;
  /**
   * The outside party's number exactly as the PBX gave it (digits, maybe with + or a trunk prefix).
   * Normalization to E.164 happens in calls/ with the portal's default country (phone.ts).
   * Empty for internal calls.
   */
  external: string;
  /** Extensions in the call now, with their state. */
  extensions: CallExtension[];
  /** Number the outside party dialed (inbound) – the line. */
  did?: string;
  trunk?: string;
  /** Queue/IVR/ring group the call passed, when known. */
  via?: string;
  /** failed: the PBX's reason, as text (e.g. "486 Busy Here"). */
  reason?: string;
  /** Present on kind = cdr. */
  cdr?: CallDetail;
  /** True when the event was recovered from call history after a link outage, not heard live. */
  recovered?: boolean;
}

export interface PbxExtension {
  number: string;
  name: string;
  email: string;
}

export interface PbxPhonebook {
  id: string;
  name: string;
  contactCount: number;
}

export type PbxNumberType = 'business' | 'business2' | 'mobile' | 'mobile2' | 'home' | 'home2' | 'business_fax' | 'home_fax' | 'other';

export interface PbxContact {
  firstName: string;
  lastName: string;
  company: string;
  email: string;
  numbers: { type: PbxNumberType; number: string }[];
}

export type PbxLinkState = 'disabled' | 'connecting' | 'connected' | 'auth_failed' | 'unreachable';

export interface PbxLinkStatus {
  state: PbxLinkState;
  /** The PBX's own words for the last failure, made readable (never a secret). */
  lastError?: string;
  lastErrorCode?: ErrorCode;
  lastEventAt?: number;
  connectedAt?: number;
}

export interface RecordingDownload {
  stream: Readable;
  contentType: string;
  filename: string;
  size?: number;
}

/**
 * Leave for another instance to fetch one recording from the PBX itself, briefly, without logging in (several
 * instances: only the portal's owner holds a PBX login; server/cluster/recording-handover.ts). For Yeastar: the
 * recording's `download_resource_url` and the owner's current access token. `token` is a secret.
 */
export interface RecordingGrant {
  path: string;
  token: string;
  filename: string;
}

export interface PbxAdapter {
  /** Opens the event link (WebSocket) or arms the webhook receiver; resolves once the first attempt settled. */
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  status(): PbxLinkStatus;
  /** Normalized call events, in the order heard. Returns an unsubscribe function. */
  onCallEvent(listener: (event: CallEvent) => void): () => void;
  onStatus(listener: (status: PbxLinkStatus) => void): () => void;
  /** Checks credentials and reachability now; throws PbxError with a readable reason. */
  testConnection(): Promise<void>;
  listExtensions(): Promise<PbxExtension[]>;
  /** Click-to-call: the extension rings first, then the PBX dials the number. Returns the PBX call id. */
  dial(extension: string, number: string): Promise<{ pbxCallId: string }>;
  downloadRecording(ref: CallRecordingRef): Promise<RecordingDownload>;
  /** What lets another instance download this recording without a login of its own (optional: additive). */
  grantRecordingDownload?(ref: CallRecordingRef): Promise<RecordingGrant>;
  /** Calls that ended since `since` (epoch ms), as `cdr` events, one per call (legs already folded). */
  searchCdr(since: number): Promise<CallEvent[]>;
  listPhonebooks(): Promise<PbxPhonebook[]>;
  createPhonebook(name: string): Promise<PbxPhonebook>;
  /** Creates the contact in the phonebook, or updates `existingId`. Returns the PBX contact id. */
  upsertContact(phonebookId: string, contact: PbxContact, existingId?: string): Promise<string>;
  /**
   * Whether the contact is still on the PBX (someone may delete a synced entry there). Optional (added for issue 11):
   * without it an unchanged record is trusted to still be there.
   */
  contactExists?(id: string): Promise<boolean>;
  /** Removes the contact; a contact already gone is not an error. Optional (added for issue 11). */
  deleteContact?(id: string): Promise<void>;
  /**
   * Webhook mode: an event the PBX pushed to us (signature already checked), raw as received.
   * Optional: brands without push delivery leave it out. (Additive, added with the Yeastar adapter.)
   */
  acceptPushedEvent?(body: unknown): void;
  /** Inbound calls the PBX holds for our decision (Yeastar: a trunk with Control Inbound Call). Optional: additive. */
  inboundControl?: InboundCallControl;
}

/** An inbound call the PBX holds before routing it, waiting for accept / redirect (a few seconds at most). */
export interface HeldInboundCall {
  portal: string;
  pbxCallId: string;
  /** The brand's handle of the held caller leg; opaque outside the adapter. */
  channelId: string;
  /** The caller's number as the PBX gave it. */
  from: string;
  did: string;
  /** Epoch ms the PBX told us. */
  at: number;
}

export type ExtensionAvailability = 'available' | 'busy' | 'dnd' | 'unknown';

export interface InboundCallControl {
  onHeldCall(listener: (call: HeldInboundCall) => void): () => void;
  /** Let the PBX route the call by its own inbound route, now. */
  accept(call: HeldInboundCall): Promise<void>;
  /** Send the call to this extension instead. */
  redirect(call: HeldInboundCall, extension: string): Promise<void>;
  /** Whether the extension can take a call now, as the PBX reports it (in a call → busy; DND presence → dnd). */
  extensionAvailability(extension: string): Promise<ExtensionAvailability>;
}

export class PbxError extends Error {
  readonly code: PbxErrorCode;
  constructor(code: PbxErrorCode, message: string, cause?: unknown) {
    super(`${code}: ${message}`);
    this.name = 'PbxError';
    this.code = code;
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }
}

/** Settings an adapter is built from (secrets already decrypted, never logged). */
export interface PbxConnectionSettings {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  events: 'websocket' | 'webhook';
  webhookSecret: string;
}
