import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type InternalAxiosRequestConfig } from 'axios';
import type {
  AutoBindResponse,
  BindingsResponse,
  BindingsUpdate,
  CallsPage,
  CardModesUpdate,
  ChecklistResponse,
  ContactSyncRow,
  CreateRecordRequest,
  CreateRecordResponse,
  ExtensionRow,
  FailedWriteRow,
  MissedCallTaskRow,
  OpenItemsResponse,
  PbxTestResponse,
  PhonebookRow,
  ResyncResponse,
  SettingsResponse,
  SettingsUpdate,
  StatusResponse,
  UserRow,
} from '../contract/api-shapes.js';
import type { FrameAuth } from './frame.js';

/** Where the frame token comes from: the Bitrix24 parent window (or a test double). */
export interface AuthSource {
  auth(): FrameAuth | null;
  refreshAuth(): Promise<FrameAuth | null>;
}

export interface PbxTestRequest {
  baseUrl: string;
  clientId: string;
  clientSecret?: string;
}

/** Whose calls: a CRM record's, or (the call card) those with one outside number. */
export type CallsFilter = { entityType: string; entityId: number } | { phone: string };

export type CallsQuery = CallsFilter & {
  before?: number | null;
  limit?: number;
};

export interface OpenItemsQuery {
  entityType: 'CONTACT' | 'COMPANY' | 'LEAD' | 'DEAL';
  entityId: number;
}

/** A conditional read: `body` is null when the server answered 304 (nothing changed since `etag`). */
export interface IfChanged<T> {
  etag: string | null;
  body: T | null;
}

/** Typed calls of /api (shapes in contract/api-shapes.ts). */
export interface Api {
  status(): Promise<StatusResponse>;
  /** `GET /status` with If-None-Match: the live poll (client/live.ts) pays a 304 when nothing changed. */
  statusIfChanged(etag: string | null): Promise<IfChanged<StatusResponse>>;
  settings(): Promise<SettingsResponse>;
  saveSettings(update: SettingsUpdate): Promise<SettingsResponse>;
  /** Tests the typed PBX settings (a blank secret means: the one saved for that address). */
  testPbx(pbx: PbxTestRequest): Promise<PbxTestResponse>;
  users(): Promise<UserRow[]>;
  extensions(): Promise<ExtensionRow[]>;
  saveBindings(update: BindingsUpdate): Promise<BindingsResponse>;
  autoBind(dryRun: boolean): Promise<AutoBindResponse>;
  phonebooks(): Promise<PhonebookRow[]>;
  createPhonebook(name: string): Promise<PhonebookRow>;
  contactSync(): Promise<ContactSyncRow[]>;
  /** Starts re-syncing every record synced so far (202); answers its progress. */
  resyncContacts(): Promise<ResyncResponse>;
  resyncProgress(): Promise<ResyncResponse>;
  /** Per-employee call card mode (admin). */
  saveCardModes(update: CardModesUpdate): Promise<{ modes: Record<string, CardModesUpdate['modes'][number]['mode']> }>;
  disconnect(): Promise<void>;
  calls(query: CallsQuery): Promise<CallsPage>;
  /** The first page of a record's calls with If-None-Match (the timeline's live poll). */
  callsIfChanged(query: CallsQuery, etag: string | null): Promise<IfChanged<CallsPage>>;
  recentCalls(): Promise<CallsPage>;
  /** The CRM record's open deals and activities (the call card). */
  openItems(query: OpenItemsQuery): Promise<OpenItemsResponse>;
  /** Creates a contact or lead for an unknown number, as the agent (the call card). */
  createRecord(request: CreateRecordRequest): Promise<CreateRecordResponse>;
  recording(callId: string): Promise<Blob>;
  failedWrites(): Promise<FailedWriteRow[]>;
  retryWrite(id: string): Promise<void>;
  /** Open missed-call tasks (admins; an empty list for anyone else). */
  missedCallTasks(): Promise<MissedCallTaskRow[]>;
  /** The settings page's first-run checklist; an admin ticks its default-line step. */
  checklist(): Promise<ChecklistResponse>;
  confirmDefaultLine(confirmed: boolean): Promise<ChecklistResponse>;
}

interface RetriableConfig extends InternalAxiosRequestConfig {
  authRetried?: boolean;
}

/**
 * Every request carries the frame's AUTH_ID (Bearer) and member_id (X-Member-Id): the server resolves the portal
 * by member_id and checks the token against it (design §3.1). The frame token lives one hour; on a 401 we ask the
 * parent window for a fresh one once (one refresh shared by all requests in flight), then repeat the request.
 */
export function createHttp(source: AuthSource, baseURL = '/api', adapter?: AxiosRequestConfig['adapter']): AxiosInstance {
  const http = axios.create({ baseURL, timeout: 30_000, ...(adapter ? { adapter } : {}) });
  let refreshing: Promise<FrameAuth | null> | null = null;

  const refreshOnce = (): Promise<FrameAuth | null> => {
    refreshing ??= source.refreshAuth().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  http.interceptors.request.use(async (config) => {
    const auth = source.auth() ?? (await refreshOnce());
    if (auth) {
      config.headers.set('Authorization', `Bearer ${auth.accessToken}`);
      config.headers.set('X-Member-Id', auth.memberId);
    }
    return config;
  });

  http.interceptors.response.use(undefined, async (error: unknown) => {
    if (!(error instanceof AxiosError) || error.response?.status !== 401 || !error.config) throw error;
    const config = error.config as RetriableConfig;
    if (config.authRetried) throw error;
    config.authRetried = true;
    const fresh = await refreshOnce().catch(() => null);
    if (!fresh) throw error;
    return http.request(config);
  });

  return http;
}

export function createApi(http: AxiosInstance): Api {
  const get = async <T>(url: string, params?: Record<string, unknown>): Promise<T> => (await http.get<T>(url, { params })).data;
  const put = async <T>(url: string, body: unknown): Promise<T> => (await http.put<T>(url, body)).data;
  const post = async <T>(url: string, body?: unknown): Promise<T> => (await http.post<T>(url, body ?? {})).data;
  // An If-None-Match the page sets itself makes the browser hand the 304 through instead of answering from its cache.
  const getIfChanged = async <T>(url: string, etag: string | null, params?: Record<string, unknown>): Promise<IfChanged<T>> => {
    const answer = await http.get<T>(url, {
      params,
      headers: etag ? { 'If-None-Match': etag } : {},
      validateStatus: (status) => (status >= 200 && status < 300) || status === 304,
    });
    const tag = answer.headers['etag'];
    const fresh = typeof tag === 'string' ? tag : null;
    return answer.status === 304 ? { etag: fresh ?? etag, body: null } : { etag: fresh, body: answer.data };
  };
  const callsParams = ({ before, limit, ...filter }: CallsQuery) => ({ ...filter, ...(before ? { before } : {}), ...(limit ? { limit } : {}) });

  return {
    status: () => get<StatusResponse>('/status'),
    statusIfChanged: (etag) => getIfChanged<StatusResponse>('/status', etag),
    settings: () => get<SettingsResponse>('/settings'),
    saveSettings: (update) => put<SettingsResponse>('/settings', update),
    testPbx: (pbx) => post<PbxTestResponse>('/pbx/test', pbx),
    users: () => get<UserRow[]>('/users'),
    extensions: () => get<ExtensionRow[]>('/extensions'),
    saveBindings: (update) => put<BindingsResponse>('/bindings', update),
    autoBind: (dryRun) => post<AutoBindResponse>('/bindings/auto', { dryRun }),
    phonebooks: () => get<PhonebookRow[]>('/phonebooks'),
    createPhonebook: (name) => post<PhonebookRow>('/phonebooks', { name }),
    contactSync: () => get<ContactSyncRow[]>('/contact-sync'),
    resyncContacts: () => post<ResyncResponse>('/contact-sync/resync'),
    resyncProgress: () => get<ResyncResponse>('/contact-sync/resync'),
    saveCardModes: (update) => put<{ modes: Record<string, CardModesUpdate['modes'][number]['mode']> }>('/card-modes', update),
    disconnect: async () => {
      await post<unknown>('/disconnect');
    },
    calls: (query) => get<CallsPage>('/calls', callsParams(query)),
    callsIfChanged: (query, etag) => getIfChanged<CallsPage>('/calls', etag, callsParams(query)),
    recentCalls: () => get<CallsPage>('/calls/recent'),
    openItems: ({ entityType, entityId }) => get<OpenItemsResponse>('/crm/open-items', { entityType, entityId }),
    createRecord: (request) => post<CreateRecordResponse>('/crm/records', request),
    recording: async (callId) => (await http.get<Blob>(`/calls/${encodeURIComponent(callId)}/recording`, { responseType: 'blob' })).data,
    failedWrites: () => get<FailedWriteRow[]>('/outbox/failed'),
    missedCallTasks: () => get<MissedCallTaskRow[]>('/missed-call-tasks'),
    checklist: () => get<ChecklistResponse>('/checklist'),
    confirmDefaultLine: (confirmed) => put<ChecklistResponse>('/checklist/default-line', { confirmed }),
    retryWrite: async (id) => {
      await post<unknown>(`/outbox/${encodeURIComponent(id)}/retry`);
    },
  };
}
