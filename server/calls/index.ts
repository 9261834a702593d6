/**
 * The calls part: the calls service (PBX events → call state machine → outbox), click-to-call/callback, recordings.
 * Wired by server/parts.ts (createProductParts), which server/index.ts (startServer) calls:
 *
 *   - the PBX supervisor hands each normalized event to `calls.service.handleEvent`; the calls part reaches the
 *     supervisor's adapters through `adapterFor`;
 *   - `calls.telephony` answers ONEXTERNALCALLSTART / ONEXTERNALCALLBACKSTART (http/events.ts);
 *   - creating the part registers its outbox handlers at once, because startServer starts the outbox (which re-tells
 *     stored results) before the parts;
 *   - start: `calls.start()` (resumes open calls) then the supervisor; stop: the supervisor first (no new events),
 *     then `calls.stop()`, then contact sync drains; startServer then stops the outbox and closes the store.
 */
import type { Logger } from '../log.js';
import type { BitrixClients } from '../bitrix/types.js';
import type { CrmContacts } from '../contacts/types.js';
import type { Outbox } from '../outbox/types.js';
import type { PbxAdapter } from '../pbx/adapter.js';
import { normalizePhone } from '../phone.js';
import type { Store } from '../store/types.js';
import type { CallRecord } from '../store/records.js';
import { ClickToCall } from './click-to-call.js';
import { MissedCallTasks } from './missed-call-tasks.js';
import { createBitrixTransport } from '../bitrix/guarded-transport.js';
import { createRecordingUploader } from '../bitrix/recording-upload.js';
import { RecordingAttacher, type RecordingOptions, type RecordingUploader } from './recording.js';
import { CallsService, type CallsOptions } from './service.js';
import type { TelephonyEventHandlers } from './types.js';

export interface CallsPartDeps {
  log: Logger;
  store: Pick<Store, 'calls' | 'bindings' | 'settings' | 'portals'> & {
    outbox?: Pick<Store['outbox'], 'getByKey'>;
    /** With it, missed inbound calls become Bitrix24 tasks (when the portal's setting is on). */
    missedCallTasks?: Store['missedCallTasks'];
  };
  outbox: Outbox;
  contacts: CrmContacts;
  clients: BitrixClients;
  adapterFor(portal: string): PbxAdapter | undefined;
  /**
   * Defaults to a streamed multipart upload under the strictest address policy (no loopback, no private ranges):
   * the composition root (parts.ts) passes one built with the operator's B24_ALLOW_* switches.
   */
  uploader?: RecordingUploader;
  options?: Partial<CallsOptions> & { recordings?: Partial<RecordingOptions>; clickToCallDedupMs?: number };
  /** Whether this instance runs the portal's calls (server/cluster/ownership.ts). Default: every portal. */
  owns?: (portal: string) => boolean;
}

export interface CallsPart {
  service: CallsService;
  telephony: TelephonyEventHandlers;
  recordings: RecordingAttacher;
  missedCallTasks?: MissedCallTasks;
  start(): Promise<void>;
  stop(): void;
}

export function createCallsService(deps: CallsPartDeps): CallsPart {
  const { store, log } = deps;
  const holder: { service?: CallsService } = {};
  const recordings = new RecordingAttacher({
    log,
    outbox: deps.outbox,
    calls: store.calls,
    adapterFor: deps.adapterFor,
    updateRecord: async (portal, pbxCallId, patch) => holder.service?.updateRecord(portal, pbxCallId, patch),
    uploader: deps.uploader ?? createRecordingUploader(createBitrixTransport({ b24AllowLoopback: false, b24AllowPrivate: false }, log).agents),
    ...(store.outbox ? { findOutboxItem: (portal: string, key: string) => store.outbox?.getByKey(portal, key) } : {}),
    ...(deps.options?.recordings ? { options: deps.options.recordings } : {}),
  });
  const missedStore = store.missedCallTasks;
  const missedCallTasks = missedStore
    ? new MissedCallTasks({ log, store: { ...store, missedCallTasks: missedStore }, outbox: deps.outbox, clients: deps.clients })
    : undefined;
  missedCallTasks?.registerHandlers(deps.outbox);
  const service = new CallsService({
    log,
    calls: store.calls,
    bindings: store.bindings,
    settings: store.settings,
    portals: store.portals,
    outbox: deps.outbox,
    contacts: deps.contacts,
    recordings,
    normalizePhone,
    ...(missedCallTasks ? { afterLogged: (record: CallRecord) => missedCallTasks.onCallLogged(record) } : {}),
    ...(deps.options ? { options: deps.options } : {}),
    ...(deps.owns ? { owns: deps.owns } : {}),
  });
  holder.service = service;
  // Now, not in start(): startServer starts the outbox before the parts, and the outbox re-tells stored results at start.
  service.registerOutboxHandlers();
  const telephony = new ClickToCall({
    log,
    service,
    calls: store.calls,
    bindings: store.bindings,
    settings: store.settings,
    outbox: deps.outbox,
    adapterFor: deps.adapterFor,
    clients: deps.clients,
    normalizePhone,
    ...(deps.options?.clickToCallDedupMs !== undefined ? { dedupMs: deps.options.clickToCallDedupMs } : {}),
  });
  return {
    service,
    telephony,
    recordings,
    ...(missedCallTasks ? { missedCallTasks } : {}),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}

export { CallsService } from './service.js';
export { ClickToCall } from './click-to-call.js';
export { RecordingAttacher } from './recording.js';
