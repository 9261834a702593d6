/**
 * JSON shapes of /api, shared by the server routes and the Vue client (type-only imports).
 * Secrets never appear here: the PBX client secret and webhook secret are write-only (`…Set` flags).
 */
import type { ApiErrorCode, ErrorCode } from './error-codes.js';

/*
 * The contract imports nothing from server/ or client/ (lint holds it): these few words are spelled out here as they
 * travel on the wire. The server's own types (domain/call.ts, pbx/adapter.ts, store/records.ts) must stay the same
 * sets of values: test/unit/lint/boundaries.unit.spec.ts checks it at compile time.
 */
export type CallDirection = 'inbound' | 'outbound' | 'internal';
export type CallResult = 'answered' | 'missed' | 'busy' | 'failed' | 'voicemail';
export type PbxLinkState = 'disabled' | 'connecting' | 'connected' | 'auth_failed' | 'unreachable';
export type CrmEntityType = 'CONTACT' | 'LEAD' | 'COMPANY' | 'DEAL';

export interface ApiError {
  error: ApiErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface StatusResponse {
  portal: {
    memberId: string;
    domain: string;
    installed: boolean;
    /** Bitrix24 refused our tokens for good: the admin must reinstall the app. */
    needsReinstall: { at: number; reason: string } | null;
    ratePlan: 'standard' | 'enterprise';
    lineNumber: string;
    /** How the app reaches Bitrix24: the installed app's OAuth tokens, or an inbound webhook URL. */
    connection?: 'app' | 'webhook';
    /** A problem the admin should act on, in plain words (e.g. webhook mode cannot log calls); null when none. */
    notice?: string | null;
  };
  user: { id: number; isAdmin: boolean; extension: string | null };
  enabled: boolean;
  pbx: {
    configured: boolean;
    state: PbxLinkState;
    lastError: string | null;
    /** The code of `lastError` (contract/error-codes.ts), for a message in the admin's language. */
    lastErrorCode: ErrorCode | null;
    lastEventAt: number | null;
  };
  outbox: { pending: number; failed: number; oldestPendingAt: number | null };
  /**
   * Stored data of this portal that cannot be read: the portal is fenced off (no PBX link, no call logging) until
   * it is repaired (`repair`: POST /api/repair; `reinstall`: install the app again; `operator`: the server's
   * operator restores a file). Empty when the portal is healthy.
   */
  fenced?: readonly { file: string; reason: string; repair: 'repair' | 'reinstall' | 'operator'; since: number; advice: string }[];
}

export interface PbxSettingsView {
  baseUrl: string;
  clientId: string;
  clientSecretSet: boolean;
  events: 'websocket' | 'webhook';
  webhookSecretSet: boolean;
  /** The URL to paste into the PBX (Integrations > API > Webhook Event Push). */
  webhookUrl: string;
}

export interface SettingsResponse {
  enabled: boolean;
  pbx: PbxSettingsView | null;
  contactSync: { enabled: boolean; entityType: 'CONTACT' | 'LEAD' | 'COMPANY'; phonebookId: string | null };
  autoCreate: { enabled: boolean; inbound: boolean; outbound: boolean; entityType: 'CONTACT' | 'LEAD'; namePrefix: string };
  defaultCountry: string;
  /** The country Bitrix24 reports for the portal (app.info LICENSE region, …), shown as the default; null when unknown. */
  portalCountry?: string | null;
  unboundCallsUserId: number | null;
  /** A missed inbound call becomes a Bitrix24 task: on/off, who gets it when no one else is known, deadline in hours. */
  missedCallTasks: { enabled: boolean; defaultUserId: number | null; deadlineHours: number };
  /** Held inbound calls (PBX Control Inbound Call) go to the CRM record's responsible when they can take a call. */
  routing: { enabled: boolean };
}

/** GET /api/missed-call-tasks (admins): the open missed-call tasks, one per outside number. */
export interface MissedCallTaskRow {
  phone: string;
  /** Bitrix24 task id, once tasks.task.add answered. */
  taskId: number | null;
  responsibleId: number;
  responsibleFrom: 'crm' | 'rang' | 'default';
  title: string;
  missedCalls: number;
  createdAt: number;
  deadline: number;
}

/** PUT /api/settings: every part optional; omitted secrets keep their stored value. */
export interface SettingsUpdate {
  enabled?: boolean;
  pbx?: {
    baseUrl: string;
    clientId: string;
    clientSecret?: string;
    events: 'websocket' | 'webhook';
    webhookSecret?: string;
  } | null;
  contactSync?: Partial<SettingsResponse['contactSync']>;
  autoCreate?: Partial<SettingsResponse['autoCreate']>;
  defaultCountry?: string;
  unboundCallsUserId?: number | null;
  missedCallTasks?: Partial<SettingsResponse['missedCallTasks']>;
  routing?: Partial<SettingsResponse['routing']>;
}

/** POST /api/pbx/test: tests the given (or saved) PBX settings. */
export interface PbxTestResponse {
  ok: boolean;
  /** The PBX's own error in plain words when not ok. */
  message: string;
  code?: ErrorCode;
  extensions?: number;
}

export interface UserRow {
  id: number;
  name: string;
  email: string;
  /** Bitrix24 UF_PHONE_INNER. */
  innerPhone: string;
  extension: string | null;
  bindingSource: 'manual' | 'email' | 'inner' | null;
  /** When the employee's call card opens: `ring` (default), `answer`, `never`. */
  cardMode: 'ring' | 'answer' | 'never';
}

/** `PUT /api/card-modes` (admin). */
export interface CardModesUpdate {
  modes: { userId: number; mode: 'ring' | 'answer' | 'never' }[];
}

export interface ExtensionRow {
  number: string;
  name: string;
  email: string;
  boundUserId: number | null;
}

export interface BindingConflict {
  userId: number;
  extension: string;
  reason: string;
}

/** PUT /api/bindings: extension null unbinds the user. */
export interface BindingsUpdate {
  bindings: { userId: number; extension: string | null }[];
}

/** The request is applied as a whole: any conflict refuses it all (applied false) and `bindings` stay as they were. */
export interface BindingsResponse {
  bindings: { userId: number; extension: string; source: 'manual' | 'email' | 'inner' }[];
  conflicts: BindingConflict[];
  applied: boolean;
}

/** One user's extension before and after a change (null: none); `reason` is the new binding's source. */
export interface BindingMoveRow {
  userId: number;
  from: string | null;
  to: string | null;
  reason: 'email' | 'inner' | 'manual' | null;
}

/** POST /api/bindings/auto {dryRun}: the pairs found; applied when dryRun is false. */
export interface AutoBindResponse {
  pairs: { userId: number; extension: string; reason: 'email' | 'inner' }[];
  /** Only what applying changes (a pair already bound is not listed): the preview shows these. */
  changes: BindingMoveRow[];
  conflicts: BindingConflict[];
  applied: boolean;
}

export interface PhonebookRow {
  id: string;
  name: string;
  contactCount: number;
  /** Only empty phonebooks may be chosen for contact sync (they become ours). */
  selectable: boolean;
  selected: boolean;
}

/** `GET|POST /api/contact-sync/resync`: the last (or running) re-sync of everything synced so far. */
export interface ResyncResponse {
  running: boolean;
  total: number;
  done: number;
  /** Updated: the CRM record had changed. */
  written: number;
  unchanged: number;
  /** Written again: the entry had been deleted on the PBX. */
  rewritten: number;
  /** Taken out of the phonebook: the record is gone or lost its name or phones. */
  removed: number;
  skipped: number;
  failed: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface ContactSyncRow {
  entityType: 'CONTACT' | 'LEAD' | 'COMPANY';
  entityId: number;
  state: 'synced' | 'skipped' | 'failed' | 'removed';
  reason: string | null;
  /** The reason sorted into a kind the admin can act on; null when synced. */
  reasonKind: 'no-phone' | 'no-name' | 'record-gone' | 'pbx-not-connected' | 'phonebook-full' | 'pbx-refused' | 'other' | null;
  pbxContactId: string | null;
  updatedAt: number;
}

export interface CallRow {
  id: string;
  direction: CallDirection;
  origin: 'pbx' | 'click-to-call' | 'callback';
  external: string;
  did: string | null;
  via: string | null;
  startedAt: number;
  endedAt: number | null;
  talkSeconds: number;
  result: CallResult | null;
  /** Extensions that rang / placed the call, with their bound users when known. */
  rang: { extension: string; userId: number | null; userName: string | null }[];
  answeredBy: { extension: string; userId: number | null; userName: string | null } | null;
  crm: { entityType: CrmEntityType; entityId: number } | null;
  /** When the call was answered (epoch ms; null: not answered): the call card's talk timer counts from it. */
  answeredAt: number | null;
  /** Bitrix24's CALL_ID of the call (the CALL_CARD placement names its call by it); null before register answered. */
  b24CallId: string | null;
  recording: { available: boolean; state: 'none' | 'pending' | 'attached' | 'failed'; url: string | null };
  live: boolean;
}

export interface CallsPage {
  calls: CallRow[];
  /** Pass as `before` to get the next (older) page; null at the end. */
  nextBefore: number | null;
}

export interface FailedWriteRow {
  id: string;
  method: string;
  group: string;
  attempts: number;
  lastError: string;
  createdAt: number;
}

export interface ActivityResponse {
  calls: CallRow[];
  failedWrites: FailedWriteRow[];
}

/** GET /api/crm/open-items: a CRM record's open deals (contacts and companies) and open activities, for the call card. */
export interface OpenItemsResponse {
  entityType: 'CONTACT' | 'COMPANY' | 'LEAD' | 'DEAL';
  entityId: number;
  /** Who is calling, as the agent may see it: the record's name and its responsible employee (null: not readable). */
  record: CrmRecordSummary | null;
  /** Deals not closed, newest first; always empty for a lead. `stageName`: the portal's own name of the stage (null: unknown). */
  deals: { id: number; title: string; stageId: string; stageName: string | null; amount: number | null; currency: string | null }[];
  /** Activities not completed, soonest deadline first (ISO 8601; null: none). */
  activities: { id: number; subject: string; deadline: string | null; typeId: number }[];
  /** More than the first 50 exist in Bitrix24. */
  moreDeals: boolean;
  moreActivities: boolean;
  /** When Bitrix24 was asked (epoch ms); answers are reused for up to 30 s. */
  fetchedAt: number;
}

/** The call card's header: a CRM record's name (contact full name, company / lead / deal title) and who is responsible. */
export interface CrmRecordSummary {
  /** Empty when the record has no name at all (the card then names its kind, never an id). */
  name: string;
  responsible: { id: number; name: string | null } | null;
}

/** POST /api/crm/records: the call card's "Create contact" / "Create lead" for an unknown number. */
export interface CreateRecordRequest {
  entityType: 'CONTACT' | 'LEAD';
  /** The number as the call card shows it (CALL_CARD PHONE_NUMBER). */
  phone: string;
}

export interface CreateRecordResponse {
  entityType: 'CONTACT' | 'LEAD';
  entityId: number;
  name: string;
}

/** The first-run checklist of the settings page (`GET /checklist`), each step ticked from the portal's real state. */
export interface ChecklistResponse {
  /** The PBX is saved, the integration enabled and the link up. */
  connect: boolean;
  /** At least one employee is bound to an extension. */
  bind: boolean;
  /** The app is the default line for click-to-call: ticked by an admin, or proven by a click-to-call Bitrix24 sent. */
  defaultLine: boolean;
  defaultLineBy: 'admin' | 'click-to-call' | null;
  /** Bitrix24 has registered at least one call of this portal. */
  testCall: boolean;
  /** Every step is done. */
  done: boolean;
}

/** `PUT /checklist/default-line` (admin). */
export interface DefaultLineUpdate {
  confirmed: boolean;
}
