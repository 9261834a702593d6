import type { Router } from 'express';
import { createCallsService, type CallsPart } from '../../server/calls/index.js';
import type { ContactsApiDeps } from '../../server/contacts/api-support.js';
import { createCrmContacts } from '../../server/contacts/index.js';
import { callsApiRouter } from '../../server/http/api/calls.js';
import { phonebooksRouter } from '../../server/http/api/phonebooks.js';
import { settingsRouter } from '../../server/http/api/settings.js';
import { usersRouter } from '../../server/http/api/users.js';
import { requireAdmin } from '../../server/http/middleware/frame-auth.js';
import { wireParts, type PartsFactory } from '../../server/index.js';
import { createPbxSupervisor } from '../../server/pbx/supervisor.js';
import { pbxTestRoute } from '../../server/pbx/test-route.js';

/**
 * The product's parts as the composition root wires them. While server/index.ts `wireParts` is still the
 * Bitrix24-only placeholder (no /api routers), the browser tests and the demo wire the same modules here, the way
 * the contacts integration test does; once the integrator wires startServer, its wiring is used as is.
 */
const localParts: PartsFactory = (core) => {
  const holder: { calls?: CallsPart } = {};
  const supervisor = createPbxSupervisor({
    store: core.store, log: core.log, config: core.config,
    onCallEvent: (event) => holder.calls?.service.handleEvent(event),
  });
  const adapterFor = (portal: string) => supervisor.adapter(portal);
  const contacts = createCrmContacts({ store: core.store, clients: core.clients, adapterFor, log: core.log });
  const calls = createCallsService({ log: core.log, store: core.store, outbox: core.outbox, contacts, clients: core.clients, adapterFor });
  holder.calls = calls;
  const deps: ContactsApiDeps = {
    store: core.store, clients: core.clients, log: core.log, config: core.config, requireAdmin, adapterFor,
    onSettingsChanged: (portal) => supervisor.reconcile(portal),
    webhookPath: (portal) => supervisor.webhookPath(portal),
    forgetPortal: (portal) => contacts.forgetPortal(portal),
  };
  return {
    telephonyEvents: calls.telephony,
    pbxStatus: (memberId) => supervisor.status(memberId),
    onPortalRemoved: (memberId) => supervisor.reconcile(memberId),
    apiRouters: [
      settingsRouter(deps), usersRouter(deps), phonebooksRouter(deps),
      callsApiRouter({ calls: core.store.calls, bindings: core.store.bindings, adapterFor, outbox: core.outbox }),
      pbxTestRoute({ requireAdmin, store: core.store, supervisor }),
    ],
    rootRouters: [supervisor.webhookRouter()],
    gauges: { callsInFlight: () => 0, pbxLinksUp: () => 0 },
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
};

/** The product's parts plus extra root routers (the demo page, the parent window). */
export function productParts(extraRootRouters: Router[] = []): PartsFactory {
  return async (core) => {
    const wired = await wireParts(core);
    const parts = wired.apiRouters.length > 0 ? wired : await localParts(core);
    if (parts !== wired) core.log.warn('startServer wireParts has no /api routers yet: using the test wiring of supervisor, contacts and calls');
    return { ...parts, rootRouters: [...extraRootRouters, ...parts.rootRouters] };
  };
}
