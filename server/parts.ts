import type { Router } from 'express';
import { createBitrixTransport } from './bitrix/guarded-transport.js';
import { createCallsService, type CallsPart, type CallsPartDeps } from './calls/index.js';
import { createRecordingUploader } from './bitrix/recording-upload.js';
import { restAsUser, type UserAuth } from './bitrix/as-user.js';
import { createCallAccess } from './calls/call-access.js';
import { InboundRouter } from './calls/routing.js';
import { createClusterHandover } from './cluster/handover.js';
import { normalizePhone } from './phone.js';
import { AppError } from './errors.js';
import type { ContactsApiDeps } from './http/api/route-support.js';
import { createCrmContacts } from './contacts/index.js';
import { createOpenItems } from './contacts/open-items.js';
import { createUserNames } from './contacts/user-names.js';
import { callsApiRouter } from './http/api/calls.js';
import { cardModesRouter } from './http/api/card-modes.js';
import { contactSyncRouter } from './http/api/contact-sync.js';
import { crmAgentRouter, crmApiRouter } from './http/api/crm.js';
import { missedCallTasksRouter } from './http/api/missed-call-tasks.js';
import { phonebooksRouter } from './http/api/phonebooks.js';
import { repairRouter } from './http/api/repair.js';
import { settingsRouter } from './http/api/settings.js';
import { checklistRouter } from './http/api/checklist.js';
import { usersRouter } from './http/api/users.js';
import { requireAdmin } from './http/middleware/frame-auth.js';
import type { CoreServices, ProductParts } from './parts-types.js';
import { createPbxSupervisor, type PbxSupervisor, type PbxSupervisorOptions } from './pbx/supervisor.js';
import { pbxTestRoute } from './http/api/pbx-test.js';
import { yeastarBrand } from './pbx/yeastar/brand.js';
import type { YeastarTimings } from './pbx/yeastar/adapter.js';

/** Tuning knobs the tests, the demo and the benchmark turn; production runs the defaults. */
export interface PartsOptions {
  supervisor?: Partial<Omit<PbxSupervisorOptions, 'store' | 'log' | 'config' | 'onCallEvent'>>;
  /** Timers of the Yeastar link (reconnect backoff, heartbeat, settle window). */
  yeastarTimings?: Partial<YeastarTimings>;
  calls?: CallsPartDeps['options'];
  /** Extra routers at the app root (the demo page). */
  extraRootRouters?: Router[];
}

/** The parts, plus handles on the supervisor and the calls service for tests that drive them directly. */
export type WiredProductParts = ProductParts & { supervisor: PbxSupervisor; calls: CallsPart };

/**
 * The product over its core: the PBX supervisor feeds normalized call events to the calls service, which asks
 * contacts for the CRM record and writes to Bitrix24 through the outbox. The supervisor needs the calls service
 * and the calls service needs the supervisor's adapters, so the one is reached through a holder set right after.
 */
export function createProductParts(core: CoreServices, opts: PartsOptions = {}): WiredProductParts {
  const { store, log, config, clients, outbox } = core;
  // Every send for a portal asks this at the moment of sending (server/cluster/ownership.ts).
  const owns = (portal: string): boolean => core.ownership?.owns(portal) ?? true;
  const holder: { calls?: CallsPart } = {};
  const router = new InboundRouter({ log, store, clients, normalizePhone });
  const supervisor = createPbxSupervisor({
    store, log, config,
    // The PBX brand is chosen here, the one place that knows it: generic pbx/ code never imports pbx/yeastar/.
    ...yeastarBrand(opts.yeastarTimings),
    ...opts.supervisor,
    owns,
    holds: (portal) => core.ownership?.holds(portal) ?? true,
    // Several instances: a webhook push for a portal another instance owns goes there (cluster/webhook-handover.ts).
    ...(core.store.database ? { handPushToOwner: (portal: string, event: unknown) => cluster.handPushToOwner(portal, event) } : {}),
    onCallEvent: (event) => holder.calls?.service.handleEvent(event),
    onHeldCall: (control, call) => {
      void router.route(control, call);
    },
  });
  // A PBX request goes out on the owner's link only: a woken former owner still holding a link gets none.
  const adapterFor = (portal: string) => (owns(portal) ? supervisor.adapter(portal) : undefined);
  const contacts = createCrmContacts({ store, clients, adapterFor, log });
  const bitrixTransport = createBitrixTransport(config, log.child({ part: 'bitrix' }));
  const calls = createCallsService({
    // The root log: each part binds its own `part` once (calls, recordings, click-to-call, contacts).
    log, store, outbox, contacts, clients, adapterFor,
    // The upload URL comes from Bitrix24's answer: its connection follows the B24_ALLOW_* address policy.
    uploader: createRecordingUploader(bitrixTransport.agents),
    ...(opts.calls ? { options: opts.calls } : {}),
    owns,
  });
  holder.calls = calls;
  // Several instances: what lands here for a portal another instance owns goes to that owner (cluster/handover.ts).
  const cluster = createClusterHandover({
    store, log, supervisor, telephony: calls.telephony, ...(core.ownership ? { ownership: core.ownership } : {}),
    // The re-sync writes to the PBX phonebook: it runs where the link is (handed to the owner from elsewhere).
    contactResync: {
      start: (portal) => {
        if (!adapterFor(portal)) throw new AppError('PBX_NOT_CONNECTED', 'the PBX is not connected: save and enable the PBX settings first', 409);
        return contacts.sync.resyncAll(portal);
      },
      progress: (portal) => contacts.sync.resyncProgress(portal),
    },
  });
  const userNames = createUserNames({ clients, log });
  // Reads judged by Bitrix24's rights go out with the employee's own frame token (issue 10 point 7).
  const restAs = (user: UserAuth) => restAsUser(user, { clientId: config.b24ClientId, clientSecret: config.b24ClientSecret, transport: bitrixTransport });
  const callAccess = createCallAccess({ userForExtension: (portal, extension) => store.bindings.userForExtension(portal, extension), restAs });
  const openItems = createOpenItems({ restAs, log: log.child({ part: 'open-items' }) });

  const apiDeps: ContactsApiDeps = {
    store, clients, log, config, requireAdmin, adapterFor: (portal) => cluster.apiAdapterFor(portal),
    onSettingsChanged: (portal) => cluster.settingsChanged(portal),
    webhookPath: (portal) => supervisor.webhookPath(portal),
    testConnection: (settings) => supervisor.testConnection(settings),
    forgetPortal: (portal) => {
      contacts.forgetPortal(portal);
      userNames.forget(portal);
      callAccess.forget(portal);
      openItems.forget(portal);
    },
  };
  return {
    supervisor,
    calls,
    telephonyEvents: cluster.telephonyEvents,
    crmEvents: { crmChanged: (portal, crm, change) => contacts.sync.crmChanged(portal, crm, change) },
    pbxStatus: (memberId) => cluster.linkStatus(memberId),
    onPortalRemoved: (memberId) => supervisor.reconcile(memberId),
    onPortalInstalled: (memberId) => supervisor.reconcile(memberId),
    apiRouters: [
      settingsRouter(apiDeps), usersRouter(apiDeps), phonebooksRouter(apiDeps),
      contactSyncRouter({ store, resync: cluster.contactResync, requireAdmin }),
      cardModesRouter({ store, requireAdmin }),
      checklistRouter({ store, pbxStatus: (memberId) => cluster.linkStatus(memberId), requireAdmin }),
      callsApiRouter({
        // A recording asked of an instance that does not own the portal is fetched with the owner's grant (cluster/).
        calls: store.calls, bindings: store.bindings, adapterFor: (portal) => cluster.apiAdapterFor(portal), outbox, access: callAccess,
        userName: (portal, userId) => userNames.nameOf(portal, userId),
      }),
      pbxTestRoute({ requireAdmin, store, supervisor }),
      crmApiRouter({ openItems }),
      missedCallTasksRouter({ tasks: calls.missedCallTasks }),
      repairRouter({
        store,
        onRepaired: async (portal) => {
          outbox.resume?.(portal);
          await supervisor.reconcile(portal);
        },
      }),
    ],
    // The call card's "Create contact / lead": written with the agent's own token, so no admin check (http/app.ts).
    agentApiRouters: [
      crmAgentRouter({
        restAs, log: log.child({ part: 'contacts' }),
        settingsOf: (portal) => store.settings.get(portal),
        remember: (portal, e164, ref) => contacts.lookup.remember(portal, e164, ref),
      }),
    ],
    rootRouters: [...(opts.extraRootRouters ?? []), supervisor.webhookRouter()],
    gauges: { callsInFlight: () => calls.service.callsInFlight(), pbxLinksUp: () => supervisor.linksUp() },
    start: async () => {
      await calls.start();
      await supervisor.start();
    },
    stop: async () => {
      await cluster.stop();
      await supervisor.stop();
      calls.stop();
      await contacts.sync.idle();
    },
    // Calls first, as at start: their interrupted intents are redone before the link brings new events.
    startPortal: async (memberId) => {
      await calls.service.resumePortal(memberId);
      await supervisor.reconcile(memberId);
    },
    // The link first (no new event for the portal's calls), then their timers. What the closing link still held is
    // not handled here (owns() is already false): the new owner reads those calls back from the PBX's history.
    stopPortal: async (memberId) => {
      await supervisor.reconcile(memberId);
      calls.service.stopPortal(memberId);
    },
  };
}
