import { PBX_ERROR_CODES } from '../../contract/error-codes.js';
import type { PortalWork } from './portal-work.js';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { PbxError, type CallRecordingRef, type PbxAdapter, type PbxLinkStatus, type RecordingDownload } from '../pbx/adapter.js';

/**
 * The PBX as seen from an instance that does not hold the portal's link (several instances on PostgreSQL): each
 * request goes to the owner as portal work (cluster/portal-work.ts) and runs on the owner's own adapter. Yeastar
 * allows 8 API tokens per PBX, so an instance without the link must never log in itself. Only what the app's /api
 * asks is offered (extensions, dial, phonebooks and their contacts, the connection test, and a recording through the
 * owner's grant: cluster/recording-handover.ts); the link itself (events, the call history) stays with the owner.
 */

const METHODS = [
  'testConnection', 'listExtensions', 'dial', 'listPhonebooks', 'createPhonebook', 'upsertContact', 'contactExists', 'deleteContact',
] as const;
type ForwardedMethod = (typeof METHODS)[number];
const KIND = 'pbx.request';
const STATUS = 'pbx.status';
/** How long an owner's link status is shown before it is asked again (the app polls /api/status). */
const STATUS_TTL_MS = 2_000;

const isForwarded = (method: unknown): method is ForwardedMethod => (METHODS as readonly unknown[]).includes(method);
const isPbxCode = (code: string): code is (typeof PBX_ERROR_CODES)[number] => (PBX_ERROR_CODES as readonly string[]).includes(code);

const linkState = z.enum(['disabled', 'connecting', 'connected', 'auth_failed', 'unreachable']);
const statusAnswer = z.object({ state: linkState, lastError: z.string().optional(), lastEventAt: z.number().optional(), connectedAt: z.number().optional() });

/**
 * The PBX link's status as its owner sees it, for an instance without the link: /api/status is synchronous, so it
 * answers the owner's last answer (asked again after 2 s, in the background), and `connecting` until there is one.
 */
export function remoteLinkStatus(work: PortalWork): (portal: string) => PbxLinkStatus {
  const known = new Map<string, { status: PbxLinkStatus; at: number }>();
  const asking = new Set<string>();
  return (portal) => {
    const cached = known.get(portal);
    if ((!cached || Date.now() - cached.at > STATUS_TTL_MS) && !asking.has(portal)) {
      asking.add(portal);
      void work.run(portal, STATUS, {})
        .then((answer) => {
          const parsed = statusAnswer.safeParse(answer);
          if (parsed.success) known.set(portal, { status: parsed.data, at: Date.now() });
        }, () => known.set(portal, { status: { state: 'unreachable', lastError: 'the instance holding the PBX link did not answer' }, at: Date.now() }))
        .finally(() => asking.delete(portal));
    }
    return cached?.status ?? { state: 'connecting' };
  };
}

/** The owner's handlers: one forwarded method on its own adapter, and its link's status. */
export function serveRemotePbx(work: PortalWork, adapterFor: (portal: string) => PbxAdapter | undefined, statusOf: (portal: string) => PbxLinkStatus): void {
  work.handle(STATUS, (portal) => {
    const { state, lastError, lastEventAt, connectedAt } = statusOf(portal);
    return Promise.resolve({ state, lastError, lastEventAt, connectedAt });
  });
  work.handle(KIND, async (portal, input) => {
    const method = input.method;
    if (!isForwarded(method)) throw new AppError('BAD_REQUEST', `not a PBX request another instance may hand over: ${String(method)}`, 400);
    const args = Array.isArray(input.args) ? input.args as unknown[] : [];
    const adapter = adapterFor(portal);
    if (!adapter) throw new AppError('PBX_NOT_CONNECTED', 'the PBX is not connected: save and enable the PBX settings first', 409);
    switch (method) {
      case 'testConnection': return adapter.testConnection();
      case 'listExtensions': return adapter.listExtensions();
      case 'dial': return adapter.dial(String(args[0]), String(args[1]));
      case 'listPhonebooks': return adapter.listPhonebooks();
      case 'createPhonebook': return adapter.createPhonebook(String(args[0]));
      case 'upsertContact': return adapter.upsertContact(String(args[0]), args[1] as Parameters<PbxAdapter['upsertContact']>[1], args[2] === undefined ? undefined : String(args[2]));
      case 'contactExists': return adapter.contactExists ? adapter.contactExists(String(args[0])) : true;
      case 'deleteContact': return adapter.deleteContact?.(String(args[0]));
    }
  });
}

/**
 * An adapter for the portal whose every request runs on the owner; the owner's PbxError comes back as one.
 * `downloadRecording`: how a recording is fetched without the link (cluster/recording-handover.ts); none: refused.
 */
export function remotePbxAdapter(
  portal: string, work: PortalWork, downloadRecording?: (portal: string, ref: CallRecordingRef) => Promise<RecordingDownload>,
): PbxAdapter {
  const ask = async <T>(method: ForwardedMethod, ...args: unknown[]): Promise<T> => {
    try {
      return await work.run(portal, KIND, { method, args }) as T;
    } catch (err) {
      if (err instanceof AppError && isPbxCode(err.code)) throw new PbxError(err.code, err.message.replace(/^[A-Z_]+: /, ''));
      throw err;
    }
  };
  const notHere = (what: string): PbxError => new PbxError('PBX_UNREACHABLE', `${what} runs on the instance that holds the portal's PBX link`);
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    status: () => ({ state: 'connected' }),
    onCallEvent: () => () => undefined,
    onStatus: () => () => undefined,
    testConnection: () => ask('testConnection'),
    listExtensions: () => ask('listExtensions'),
    dial: (extension, number) => ask('dial', extension, number),
    downloadRecording: (ref) => (downloadRecording ? downloadRecording(portal, ref) : Promise.reject(notHere('a recording download'))),
    searchCdr: () => Promise.reject(notHere('the call history search')),
    listPhonebooks: () => ask('listPhonebooks'),
    createPhonebook: (name) => ask('createPhonebook', name),
    upsertContact: (phonebookId, contact, existingId) => ask('upsertContact', phonebookId, contact, existingId),
    contactExists: (id) => ask('contactExists', id),
    deleteContact: (id) => ask('deleteContact', id),
  };
}
