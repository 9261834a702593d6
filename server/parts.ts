import type { Router } from 'express';
import { createCallsService, type CallsPart, type CallsPartDeps } from './calls/index.js';
import type { ContactsApiDeps } from './contacts/api-support.js';
import { createCrmContacts } from './contacts/index.js';
import { createOpenItems } from './contacts/open-items.js';
import { createUserNames } from './contacts/user-names.js';
import { callsApiRouter } from './http/api/calls.js';
import { cardModesRouter } from './http/api/card-modes.js';
import { contactSyncRouter } from './http/api/contact-sync.js';
import { crmApiRouter } from './http/api/crm.js';
import { phonebooksRouter } from './http/api/phonebooks.js';
import { settingsRouter } from './http/api/settings.js';
import { usersRouter } from './http/api/users.js';
import { requireAdmin } from './http/middleware/frame-auth.js';
import type { CoreServices, ProductParts } from './index.js';
import { createPbxSupervisor, type PbxSupervisor, type PbxSupervisorOptions } from './pbx/supervisor.js';
import { pbxTestRoute } from './pbx/test-route.js';

/** Tuning knobs the tests, the demo and the benchmark turn; production runs the defaults. */
export interface PartsOptions {
  supervisor?: Partial<Omit<PbxSupervisorOptions, 'store' | 'log' | 'config' | 'onCallEvent'>>;
  calls?: CallsPartDeps['options'];
  /** Extra routers at the app root (the demo page). */
  extraRootRouters?: Router[];
}

/**
 * The product over its core: the PBX supervisor feeds normalized call events to the calls service, which asks
 * contacts for the CRM record and writes to Bitrix24 through the outbox. The supervisor needs the calls service
 * and the calls service needs the supervisor's adapters, so the one is reached through a holder set right after.
 */
/** The parts, plus handles on the supervisor and the calls service for tests that drive them directly. */
export type WiredProductParts = ProductParts & { supervisor: PbxSupervisor; calls: CallsPart };

export function createProductParts(core: CoreServices, opts: PartsOptions = {}): WiredProductParts {
  const { store, log, config, clients, outbox } = core;
  const holder: { calls?: CallsPart } = {};
  const supervisor = createPbxSupervisor({
    store, log, config,
    ...opts.supervisor,
    onCallEvent: (event) => holder.calls?.service.handleEvent(event),
  });
  const adapterFor = (portal: string) => supervisor.adapter(portal);
  const contacts = createCrmContacts({ store, clients, adapterFor, log: log.child({ part: 'contacts' }) });
  const calls = createCallsService({
    log: log.child({ part: 'calls' }), store, outbox, contacts, clients, adapterFor,
    ...(opts.calls ? { options: opts.calls } : {}),
  });
  holder.calls = calls;
  const userNames = createUserNames({ clients, log });

  const apiDeps: ContactsApiDeps = {
    store, clients, log, config, requireAdmin, adapterFor,
    onSettingsChanged: (portal) => supervisor.reconcile(portal),
    webhookPath: (portal) => supervisor.webhookPath(portal),
    forgetPortal: (portal) => {
      contacts.forgetPortal(portal);
      userNames.forget(portal);
    },
  };
  return {
    supervisor,
    calls,
    telephonyEvents: calls.telephony,
    crmEvents: { crmChanged: (portal, crm, change) => contacts.sync.crmChanged(portal, crm, change) },
    pbxStatus: (memberId) => supervisor.status(memberId),
    onPortalRemoved: (memberId) => supervisor.reconcile(memberId),
    onPortalInstalled: (memberId) => supervisor.reconcile(memberId),
    apiRouters: [
      settingsRouter(apiDeps), usersRouter(apiDeps), phonebooksRouter(apiDeps),
      contactSyncRouter({ store, sync: contacts.sync, adapterFor, requireAdmin }),
      cardModesRouter({ store, requireAdmin }),
      callsApiRouter({
        calls: store.calls, bindings: store.bindings, adapterFor, outbox,
        userName: (portal, userId) => userNames.nameOf(portal, userId),
      }),
      pbxTestRoute({ requireAdmin, store, supervisor }),
      crmApiRouter({ openItems: createOpenItems({ clients, log: log.child({ part: 'open-items' }) }) }),
    ],
    rootRouters: [...(opts.extraRootRouters ?? []), supervisor.webhookRouter()],
    gauges: { callsInFlight: () => calls.service.callsInFlight(), pbxLinksUp: () => supervisor.linksUp() },
    start: async () => {
      await calls.start();
      await supervisor.start();
    },
    stop: async () => {
      await supervisor.stop();
      calls.stop();
      await contacts.sync.idle();
    },
  };
}
