/**
 * JSON shapes of /api, shared by the server routes and the Vue client (type-only imports).
 * Secrets never appear here: the PBX client secret and webhook secret are write-only (`…Set` flags).
 */
import type { ApiErrorCode, ErrorCode } from '../../../contract/error-codes.js';
import type { CallDirection, CallResult, PbxLinkState } from '../../pbx/adapter.js';
import type { CrmEntityType } from '../../store/records.js';

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

export interface BindingsResponse {
  bindings: { userId: number; extension: string; source: 'manual' | 'email' | 'inner' }[];
  conflicts: BindingConflict[];
}

/** POST /api/bindings/auto {dryRun}: the pairs found; applied when dryRun is false. */
export interface AutoBindResponse {
  pairs: { userId: number; extension: string; reason: 'email' | 'inner' }[];
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
  entityType: 'CONTACT' | 'COMPANY' | 'LEAD';
  entityId: number;
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
