/**
 * The PBX supervisor, contacts and calls wired over startServer's core, exactly as server/calls/index.ts documents it
 * for the composition root. Shared by the end-to-end tests (in process and in a child process).
 */
import { createCallsService, type CallsPart } from '../../../server/calls/index.js';
import { createCrmContacts } from '../../../server/contacts/index.js';
import { callsApiRouter } from '../../../server/http/api/calls.js';
import type { PartsFactory } from '../../../server/index.js';
import { createPbxSupervisor, type PbxSupervisor } from '../../../server/pbx/supervisor.js';

export interface WiredParts {
  supervisor?: PbxSupervisor;
  calls?: CallsPart;
}

export function callsProductParts(wired: WiredParts, opts: { cdrWaitMs?: number } = {}): PartsFactory {
  return ({ config, log, store, clients, outbox }) => {
    const holder: { calls?: CallsPart } = {};
    const supervisor = createPbxSupervisor({
      store, log, config, onCallEvent: async (e) => { await holder.calls?.service.handleEvent(e); },
      adapterTimings: { settleMs: 200, heartbeatMs: 1_000, backoffInitialMs: 50, backoffMaxMs: 300 }, coverageTickMs: 200, recoveryRetryMs: 300, recoveryTailMs: 1_000,
    });
    const contacts = createCrmContacts({ store, clients, adapterFor: (p) => supervisor.adapter(p), log });
    const calls = createCallsService({
      log, store, outbox, contacts, clients, adapterFor: (p) => supervisor.adapter(p), options: { cdrWaitMs: opts.cdrWaitMs ?? 5_000 },
    });
    holder.calls = calls;
    wired.supervisor = supervisor;
    wired.calls = calls;
    return {
      telephonyEvents: calls.telephony,
      pbxStatus: (m) => supervisor.status(m),
      onPortalRemoved: (m) => supervisor.reconcile(m),
      apiRouters: [callsApiRouter({ calls: store.calls, bindings: store.bindings, adapterFor: (p) => supervisor.adapter(p), outbox })],
      rootRouters: [supervisor.webhookRouter()],
      gauges: { callsInFlight: () => calls.service.callsInFlight(), pbxLinksUp: () => 0 },
      start: async () => { await calls.start(); await supervisor.start(); },
      stop: async () => { calls.stop(); await supervisor.stop(); },
    };
  };
}
