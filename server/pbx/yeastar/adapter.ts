import type { Logger } from '../../log.js';
import {
  PbxError,
  type CallEvent, type CallRecordingRef, type PbxAdapter, type PbxConnectionSettings, type PbxContact, type PbxExtension,
  type PbxLinkStatus, type PbxPhonebook, type RecordingDownload, type RecordingGrant,
} from '../adapter.js';
import { pbxAgents, type AddressPolicy } from '../address-guard.js';
import { foldCdrLegs, type CdrLeg } from './cdr-fold.js';
import { cdrLegFromRow, contactBody, extensionFromRow, phonebookFromRow } from './directory.js';
import { parseEventFrame } from './frames.js';
import { createInboundControl } from './inbound-control.js';
import { asRecording, logRefusedDownload } from './recording-file.js';
import { createCallNormalizer } from './normalize.js';
import { createYeastarRest } from './rest.js';
import { createEventSubscriber, type SubscriberState } from './subscriber.js';
import { createTokenManager } from './tokens.js';
import { createHttpTransport, DEFAULT_USER_AGENT, type PbxTransport } from './transport.js';

/** Every timing of the link, overridable so tests run in milliseconds. */
export interface YeastarTimings {
  heartbeatMs: number;
  /** A heartbeat unanswered this long means a frozen PBX (subscriber.ts). */
  heartbeatAnswerMs: number;
  idleTimeoutMs: number;
  subscribeTimeoutMs: number;
  settleMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Refresh the token this long before expiry; the socket reopens 15 s (or a quarter) later than that. */
  tokenRefreshLeadMs: number;
  revokeGraceMs: number;
  requestTimeoutMs: number;
  tokenCapBackoffMs: { initial: number; max: number };
  loginFailureBackoffMs: { initial: number; max: number };
  extensionCacheMs: number;
  /** cdr/search looks back this much further than `since`, for calls that started before it and ended after. */
  longestCallMs: number;
}

export const DEFAULT_TIMINGS: YeastarTimings = {
  heartbeatMs: 10_000,
  heartbeatAnswerMs: 10_000,
  idleTimeoutMs: 65_000,
  subscribeTimeoutMs: 10_000,
  settleMs: 1_500,
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  tokenRefreshLeadMs: 60_000,
  revokeGraceMs: 10_000,
  requestTimeoutMs: 15_000,
  tokenCapBackoffMs: { initial: 5 * 60_000, max: 30 * 60_000 },
  loginFailureBackoffMs: { initial: 1_000, max: 60_000 },
  extensionCacheMs: 5 * 60_000,
  longestCallMs: 4 * 60 * 60_000,
};

export interface YeastarAdapterOptions {
  portal: string;
  settings: PbxConnectionSettings;
  log: Logger;
  timings?: Partial<YeastarTimings>;
  userAgent?: string;
  /** Replaces HTTP (tests). */
  transport?: PbxTransport;
  /** SSRF rules applied on every connection to the PBX (REST and WebSocket); none when absent. */
  addressPolicy?: AddressPolicy;
  /** Largest recording streamed (default transport.ts DEFAULT_MAX_STREAM_BYTES). */
  maxRecordingBytes?: number;
}

export interface YeastarAdapter extends PbxAdapter {
  acceptPushedEvent(body: unknown): void;
}

export function createYeastarAdapter(opts: YeastarAdapterOptions): YeastarAdapter {
  const t: YeastarTimings = { ...DEFAULT_TIMINGS, ...opts.timings };
  const log = opts.log.child({ portal: opts.portal, pbx: 'yeastar' });
  const settings = opts.settings;
  // Never empty: the PBX answers 40002 to a request without a User-Agent.
  const userAgent = opts.userAgent?.trim() || DEFAULT_USER_AGENT;
  const agents = opts.addressPolicy ? pbxAgents(opts.addressPolicy) : undefined;
  const transport = opts.transport ?? createHttpTransport({
    baseUrl: settings.baseUrl, userAgent, timeoutMs: t.requestTimeoutMs, ...(agents ? { agents } : {}),
    ...(opts.addressPolicy?.refuseConnect ? { refuse: opts.addressPolicy.refuseConnect } : {}),
    ...(opts.maxRecordingBytes !== undefined ? { maxStreamBytes: opts.maxRecordingBytes } : {}),
  });
  const tokens = createTokenManager({
    transport, clientId: settings.clientId, clientSecret: settings.clientSecret, log,
    refreshLeadMs: t.tokenRefreshLeadMs, revokeGraceMs: t.revokeGraceMs,
    tokenCapBackoffMs: t.tokenCapBackoffMs, failureBackoffMs: t.loginFailureBackoffMs,
  });
  const rest = createYeastarRest(transport, tokens);

  const eventListeners = new Set<(event: CallEvent) => void>();
  const statusListeners = new Set<(status: PbxLinkStatus) => void>();
  let status: PbxLinkStatus = { state: 'disabled' };
  let extensions = new Set<string>();
  let extensionsLoadedAt = 0;
  let extensionsLoading: Promise<void> | undefined;
  let connected = false;

  function setStatus(patch: Partial<PbxLinkStatus>): void {
    status = { ...status, ...patch };
    const snapshot = { ...status };
    for (const l of statusListeners) {
      try {
        l(snapshot);
      } catch (err) {
        log.error({ err }, 'PBX status listener failed');
      }
    }
  }

  function emit(event: CallEvent): void {
    status = { ...status, lastEventAt: event.at };
    for (const l of eventListeners) {
      try {
        l(event);
      } catch (err) {
        log.child({ pbxCallId: event.pbxCallId }).error({ err }, 'PBX call event listener failed');
      }
    }
  }

  /**
   * recording/download gives a download_resource_url valid for 30 min, fetched with the token
   * (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/download-a-recording-file.html).
   */
  async function findRecording(ref: CallRecordingRef): Promise<{ path: string; filename: string }> {
    const env = await rest.get('recording/download', { file: ref.ref }, 'finding the recording');
    const path = env['download_resource_url'];
    if (typeof path !== 'string' || path === '') {
      throw new PbxError('PBX_BAD_RESPONSE', 'finding the recording: the PBX gave no download path');
    }
    return { path, filename: typeof env['file'] === 'string' && env['file'] !== '' ? env['file'] : ref.filename };
  }

  async function loadExtensions(): Promise<void> {
    if (extensionsLoading) return extensionsLoading;
    extensionsLoading = (async () => {
      try {
        const rows = await rest.listAll('extension/list', {}, 'reading the extension list');
        extensions = new Set(rows.map(extensionFromRow).filter((e): e is PbxExtension => e !== undefined).map((e) => e.number));
        extensionsLoadedAt = Date.now();
      } catch (err) {
        log.warn({ code: err instanceof PbxError ? err.code : 'UNKNOWN' }, 'PBX extension list not loaded');
      } finally {
        extensionsLoading = undefined;
      }
    })();
    return extensionsLoading;
  }

  const isExtension = (n: string): boolean => {
    if (Date.now() - extensionsLoadedAt > t.extensionCacheMs && connected) void loadExtensions();
    return extensions.has(n);
  };

  const normalizer = createCallNormalizer({ portal: opts.portal, settleMs: t.settleMs, emit, isExtension });
  const inboundControl = createInboundControl({ portal: opts.portal, rest, log });

  function acceptFrame(raw: unknown): void {
    const parsed = parseEventFrame(raw);
    if (!parsed.ok) {
      log.warn({ reason: parsed.reason }, 'PBX event skipped');
      return;
    }
    status = { ...status, lastEventAt: Date.now() };
    // The held call's decision first: the PBX's window is short, the normalizer's work can wait.
    if (parsed.frame.type === 30016) inboundControl.frame(parsed.frame);
    try {
      normalizer.accept(parsed.frame);
    } catch (err) {
      log.error({ err }, 'PBX event could not be normalized');
    }
  }

  function describe(state: SubscriberState, error?: PbxError): void {
    if (state === 'closed') return;
    if (state === 'connected') {
      setStatus({ state: 'connected', connectedAt: Date.now(), lastError: undefined, lastErrorCode: undefined });
      void loadExtensions();
      return;
    }
    setStatus({ state, ...(error ? { lastError: error.message, lastErrorCode: error.code } : {}) });
  }

  const subscriber = createEventSubscriber({
    baseUrl: settings.baseUrl, tokens, log, userAgent,
    ...(agents ? { agents } : {}),
    onFrame: acceptFrame,
    onState: describe,
    heartbeatMs: t.heartbeatMs,
    heartbeatAnswerMs: t.heartbeatAnswerMs,
    idleTimeoutMs: t.idleTimeoutMs,
    subscribeTimeoutMs: t.subscribeTimeoutMs,
    backoff: { initialMs: t.backoffInitialMs, maxMs: t.backoffMaxMs },
    renewBeforeExpiryMs: Math.max(1_000, t.tokenRefreshLeadMs - Math.min(15_000, Math.round(t.tokenRefreshLeadMs / 4))),
  });

  async function checkWebhookMode(): Promise<void> {
    setStatus({ state: 'connecting' });
    try {
      await tokens.getToken();
      setStatus({ state: 'connected', connectedAt: Date.now(), lastError: undefined, lastErrorCode: undefined });
      void loadExtensions();
    } catch (err) {
      const e = err instanceof PbxError ? err : new PbxError('PBX_ERROR', String(err), err);
      const state = e.code === 'PBX_UNREACHABLE' || e.code === 'PBX_HTTP_ERROR' || e.code === 'PBX_BAD_RESPONSE' ? 'unreachable' : 'auth_failed';
      setStatus({ state, lastError: e.message, lastErrorCode: e.code });
    }
  }

  return {
    async connect() {
      connected = true;
      if (settings.events === 'webhook') return checkWebhookMode();
      setStatus({ state: 'connecting' });
      await subscriber.start();
    },
    async disconnect() {
      connected = false;
      await subscriber.stop();
      normalizer.flush();
      normalizer.close();
      await tokens.close();
      setStatus({ state: 'disabled' });
    },
    status: () => ({ ...status }),
    onCallEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    acceptPushedEvent: acceptFrame,
    inboundControl,
    async testConnection() {
      await rest.get('extension/list', { page: 1, page_size: 1 }, 'testing the PBX API');
    },
    async listExtensions() {
      const rows = await rest.listAll('extension/list', {}, 'reading the extension list');
      const list = rows.map(extensionFromRow).filter((e): e is PbxExtension => e !== undefined);
      extensions = new Set(list.map((e) => e.number));
      extensionsLoadedAt = Date.now();
      return list;
    },
    async dial(extension, number) {
      // call/dial: the caller extension rings first, then the PBX dials the callee; failures come later as
      // 30015 (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/make-a-call.html).
      const env = await rest.post('call/dial', { caller: extension, callee: number, dial_permission: extension, auto_answer: 'no' }, 'placing the call');
      const callId = env['call_id'];
      if ((typeof callId !== 'string' && typeof callId !== 'number') || String(callId) === '') {
        throw new PbxError('PBX_BAD_RESPONSE', 'placing the call: the PBX returned no call id');
      }
      return { pbxCallId: String(callId) };
    },
    async downloadRecording(ref: CallRecordingRef): Promise<RecordingDownload> {
      const { path, filename } = await findRecording(ref);
      let file: Awaited<ReturnType<typeof rest.stream>>;
      try {
        // transport.ts pbxUrl keeps the download on the PBX's own origin (the token goes with it).
        file = await rest.stream(path, 'downloading the recording');
      } catch (err) {
        logRefusedDownload(err, log, ref.ref);
        throw err;
      }
      return asRecording(file, filename, log, ref.ref);
    },
    async grantRecordingDownload(ref: CallRecordingRef): Promise<RecordingGrant> {
      const { path, filename } = await findRecording(ref);
      return { path, filename, token: await tokens.getToken() };
    },
    async searchCdr(since) {
      if (Date.now() - extensionsLoadedAt > t.extensionCacheMs) await loadExtensions();
      const rows = await rest.listAll('cdr/search', {
        start_time: Math.floor((since - t.longestCallMs) / 1000),
        end_time: Math.ceil(Date.now() / 1000) + 60,
      }, 'reading the call history', { pageSize: 1000 });
      const byCall = new Map<string, CdrLeg[]>();
      for (const row of rows) {
        const leg = cdrLegFromRow(row);
        if (!leg) continue;
        const legs = byCall.get(leg.callId) ?? [];
        legs.push(leg);
        byCall.set(leg.callId, legs);
      }
      const events: CallEvent[] = [];
      for (const [callId, legs] of byCall) {
        const folded = foldCdrLegs(callId, legs, { isExtension: (n) => extensions.has(n), extensionsKnown: extensions.size > 0 });
        const timed = legs.filter((l) => l.startedAt !== undefined);
        // Without a timestamp the row cannot be placed in time: kept (recovery dedupes by call id).
        const endedAt = timed.length > 0 ? Math.max(...timed.map((l) => (l.startedAt ?? 0) + l.callSeconds * 1000)) : since;
        if (timed.length > 0 && endedAt < since) continue;
        events.push({
          portal: opts.portal,
          pbxCallId: callId,
          at: endedAt,
          kind: 'cdr',
          direction: folded.direction,
          external: folded.external,
          extensions: folded.extensions.map((number) => ({ number, state: 'hangup' as const })),
          ...(folded.did ? { did: folded.did } : {}),
          ...(folded.trunk ? { trunk: folded.trunk } : {}),
          ...(folded.via ? { via: folded.via } : {}),
          cdr: folded.detail,
          recovered: true,
        });
      }
      return events.sort((a, b) => a.at - b.at);
    },
    async listPhonebooks() {
      // phonebook/list (https://help.yeastar.com/en/p-series/developer-guide/query-phonebook-list.html); firmware
      // without it still has phonebook/search, which the phonebook pages reference.
      let rows: unknown[];
      try {
        rows = await rest.listAll('phonebook/list', {}, 'reading the phonebooks');
      } catch (err) {
        if (!(err instanceof PbxError && err.code === 'PBX_NO_SUCH_API')) throw err;
        rows = await rest.listAll('phonebook/search', {}, 'reading the phonebooks');
      }
      return rows.map(phonebookFromRow).filter((p): p is PbxPhonebook => p !== undefined);
    },
    async createPhonebook(name) {
      // https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/add-a-phonebook.html
      const env = await rest.post('phonebook/create', { name, member_select: 'sel_specific' }, 'creating the phonebook');
      const id = env['id'];
      if (typeof id !== 'number' && typeof id !== 'string') throw new PbxError('PBX_BAD_RESPONSE', 'creating the phonebook: the PBX returned no id');
      return { id: String(id), name, contactCount: 0 };
    },
    async upsertContact(phonebookId: string, contact: PbxContact, existingId?: string) {
      const body = contactBody(phonebookId, contact);
      if (existingId !== undefined) {
        try {
          const idNumber = Number(existingId);
          await rest.post('company_contact/update', { id: Number.isFinite(idNumber) ? idNumber : existingId, ...body }, 'updating the PBX contact');
          return existingId;
        } catch (err) {
          // Deleted on the PBX meanwhile: create it again rather than fail the sync forever.
          if (!(err instanceof PbxError && err.code === 'PBX_NOT_FOUND')) throw err;
        }
      }
      const env = await rest.post('company_contact/create', body, 'creating the PBX contact');
      const id = env['id'];
      if (typeof id !== 'number' && typeof id !== 'string') throw new PbxError('PBX_BAD_RESPONSE', 'creating the PBX contact: the PBX returned no id');
      return String(id);
    },

    // company_contact/get?id= (reference §5.2, "Query a Company Contact"): an unknown id answers not-found.
    async contactExists(id: string) {
      try {
        await rest.get('company_contact/get', { id }, 'checking the PBX contact');
        return true;
      } catch (err) {
        if (err instanceof PbxError && err.code === 'PBX_NOT_FOUND') return false;
        throw err;
      }
    },

    // company_contact/delete?id= by GET (GET queries and deletes, reference §2); the endpoint name follows Yeastar's
    // naming pattern and is UNCONFIRMED (reference §5.2). Already gone is fine: the goal is "not in the phonebook".
    async deleteContact(id: string) {
      try {
        await rest.get('company_contact/delete', { id }, 'deleting the PBX contact');
      } catch (err) {
        if (!(err instanceof PbxError && err.code === 'PBX_NOT_FOUND')) throw err;
      }
    },
  };
}
