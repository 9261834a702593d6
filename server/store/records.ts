/**
 * The persisted shapes: what the store keeps per portal. Repositories (store/*.ts) own how they are kept;
 * every other part reads and writes these plain records through the repositories only.
 */
import type { CallDirection, CallResult, CallRecordingRef } from '../domain/call.js';

export type CrmEntityType = 'CONTACT' | 'LEAD' | 'COMPANY' | 'DEAL';

export interface CrmRef {
  entityType: CrmEntityType;
  entityId: number;
}

export interface Portal {
  /** Stable Bitrix24 portal id; the key of everything. */
  memberId: string;
  domain: string;
  /** REST base of the portal, e.g. https://x.bitrix24.com/rest/ (from client_endpoint or DOMAIN/PROTOCOL). */
  clientEndpoint: string;
  /** OAuth server REST URL from the install (absent from events since late 2024). */
  serverEndpoint: string;
  /** Secret: proves events come from Bitrix24. */
  applicationToken: string;
  /** OAuth (app) auth; empty strings when connected by inbound webhook only. */
  accessToken: string;
  refreshToken: string;
  /** Epoch ms the access token expires. */
  expiresAt: number;
  /** Inbound webhook URL (secret) when the admin connected that way instead of OAuth. */
  webhookUrl?: string;
  scope: string;
  /** Bitrix24 licence status letter: L, F, D, T, P. */
  status: string;
  ratePlan: 'standard' | 'enterprise';
  /** The country Bitrix24 reports for the portal at install (portals/country.ts): the default of `defaultCountry`. */
  country?: string;
  /** The external line this app added (telephony.externalLine.add NUMBER). */
  lineNumber: string;
  installedAt: number;
  updatedAt: number;
  /** True after install finished (installFinish) and events/placements are bound. */
  installed: boolean;
  /** Set when Bitrix24 answered invalid_grant/invalid_token: the admin must reinstall. Never retried in a loop. */
  needsReinstall?: { at: number; reason: string };
  /** Set by ONAPPUNINSTALL: tokens are gone, settings may remain (CLEAN=0). */
  uninstalledAt?: number;
  /**
   * When an admin ticked "the app is the default line for click-to-call" on the first-run checklist
   * (portals/checklist.ts: Bitrix24 gives apps no reliable way to read that setting).
   */
  defaultLineConfirmedAt?: number;
}

export interface PbxSettings {
  baseUrl: string;
  clientId: string;
  /** Secret, write-only from the API's point of view. */
  clientSecret: string;
  events: 'websocket' | 'webhook';
  /** Secret used to check X-Signature on PBX webhook pushes. */
  webhookSecret: string;
}

export interface PortalSettings {
  /** Disable keeps every setting; the PBX link closes and no call is handled. */
  enabled: boolean;
  pbx: PbxSettings | null;
  contactSync: { enabled: boolean; entityType: 'CONTACT' | 'LEAD' | 'COMPANY'; phonebookId: string | null };
  autoCreate: {
    enabled: boolean;
    inbound: boolean;
    outbound: boolean;
    entityType: 'CONTACT' | 'LEAD';
    namePrefix: string;
  };
  /** ISO 3166 alpha-2 used to read numbers without a country code. */
  defaultCountry: string;
  /** Calls that only touched unbound extensions are logged to this user when set; else not logged. */
  unboundCallsUserId: number | null;
  /** A missed inbound call becomes a Bitrix24 task (calls/missed-call-tasks.ts). */
  missedCallTasks: MissedCallTaskSettings;
  /** A held inbound call (PBX Control Inbound Call) goes to the CRM record's responsible (calls/routing.ts). */
  routing: { enabled: boolean };
}

export interface MissedCallTaskSettings {
  enabled: boolean;
  /** Responsible when neither the CRM record's responsible nor a bound ringing extension is known. */
  defaultUserId: number | null;
  /** Deadline: this many plain hours (not working hours) after the missed call. */
  deadlineHours: number;
}

export const DEFAULT_SETTINGS: PortalSettings = Object.freeze({
  enabled: false,
  pbx: null,
  contactSync: { enabled: false, entityType: 'CONTACT', phonebookId: null },
  autoCreate: { enabled: false, inbound: true, outbound: false, entityType: 'LEAD', namePrefix: 'Automatic New Contact -' },
  defaultCountry: 'US',
  unboundCallsUserId: null,
  missedCallTasks: { enabled: false, defaultUserId: null, deadlineHours: 2 },
  routing: { enabled: false },
}) as PortalSettings;

/**
 * When an employee's call card opens (set per employee by an admin, as in Bitrix24's own telephony): `ring` when their
 * extension rings (the default), `answer` when they pick up, `never`.
 */
export type CardMode = 'ring' | 'answer' | 'never';

export interface Binding {
  userId: number;
  extension: string;
  /** How it was made: refresh/auto-bind never overwrites a manual one. */
  source: 'manual' | 'email' | 'inner';
}

/** One PBX call as the product knows it: live state while it runs, the history row afterwards. */
export interface CallRecord {
  portal: string;
  pbxCallId: string;
  direction: CallDirection;
  /** Outside number, E.164 when it could be read, else as the PBX gave it. */
  external: string;
  /** The outside number exactly as the PBX presented it (trimmed): what an auto-created record is named after. */
  presented?: string;
  did?: string;
  trunk?: string;
  via?: string;
  /** Extensions that rang (inbound) or placed the call (outbound), in order. */
  extensions: string[];
  /** Bitrix24 users the card was shown to. */
  shownTo: number[];
  answeredBy?: string;
  /** Bitrix24 user credited (who answered, else the first ringing bound user). */
  userId?: number;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  talkSeconds: number;
  result?: CallResult;
  /** Bitrix24 CALL_ID once register answered (or from ONEXTERNALCALLSTART for click-to-call). */
  b24CallId?: string;
  origin: 'pbx' | 'click-to-call' | 'callback';
  crm?: CrmRef;
  recording?: CallRecordingRef;
  recordingState: 'none' | 'pending' | 'attached' | 'failed';
  recordingError?: string;
  /** Terminal when the call has been logged (finish queued) or deliberately not logged. */
  phase: 'live' | 'ended' | 'logged' | 'ignored';
  /** Why a call was not logged or was logged by the fallback path. */
  note?: string;
  /** The calls/ state machine's own state, opaque to the store. */
  machine?: unknown;
  updatedAt: number;
}

/** Result of syncing one CRM record into the PBX phonebook. */
export interface ContactSyncEntry {
  portal: string;
  entityType: 'CONTACT' | 'LEAD' | 'COMPANY';
  entityId: number;
  pbxContactId?: string;
  phonebookId: string;
  /** `removed`: the CRM record was deleted (or lost what a phonebook entry needs) and its PBX entry was removed. */
  state: 'synced' | 'skipped' | 'failed' | 'removed';
  /** Visible reason when skipped/failed/removed, e.g. "no first or last name". */
  reason?: string;
  /** Hash of what was last written, so an unchanged record is not written again. */
  fingerprint?: string;
  updatedAt: number;
}

export type OutboxStatus = 'pending' | 'done' | 'failed';

/** A Bitrix24 write, persisted before it is sent. */
export interface OutboxItem {
  id: string;
  portal: string;
  /** Items of one group (usually one call) are delivered strictly in order. */
  group: string;
  /** Global enqueue order. */
  seq: number;
  method: string;
  /**
   * Values may be references to an earlier item's result: `{ $ref: '<itemId>', path: ['CALL_ID'] }`.
   * Resolved when sent (or expressed as $result[...] when both are in one batch).
   */
  params: Record<string, unknown>;
  /** Idempotency: enqueueing an item whose key exists already is a no-op. */
  key?: string;
  /** Name of a result handler registered with the outbox (survives restarts, unlike a closure). */
  onDone?: string;
  /** Name of a handler told when the item is parked as failed. */
  onFailed?: string;
  /** Free context for the handlers (e.g. the pbxCallId). */
  meta?: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError?: string;
  result?: unknown;
  doneAt?: number;
  /** True once the item's onDone/onFailed handler was told; a restart re-tells handlers of items without it. */
  delivered?: boolean;
}

/**
 * The open missed-call task of one outside number (one per number): created by the first missed call, commented by
 * the next ones, closed by the first answered call with the number. Removed once the close is queued.
 */
export interface MissedCallTaskEntry {
  portal: string;
  /** The outside number, E.164 when it could be read. */
  phone: string;
  /** The outbox item of tasks.task.add; later writes reference its result until `taskId` is known. */
  createItemId: string;
  taskId?: number;
  responsibleId: number;
  /** Why this person: the CRM record's responsible, the first bound extension that rang, or the admin's default. */
  responsibleFrom: 'crm' | 'rang' | 'default';
  title: string;
  crm?: CrmRef;
  /** PBX call ids of the missed calls, the first one created the task. */
  calls: string[];
  createdAt: number;
  deadline: number;
}
