/**
 * contacts/ assembled: what calls/ uses (CrmContacts) plus the pieces the settings API needs.
 */
import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import type { PbxAdapter } from '../pbx/adapter.js';
import type { CrmRef } from '../store/records.js';
import { hasOtherForms } from '../phone.js';
import type { Store } from '../store/types.js';
import { createAutoCreator, wantsAutoCreate } from './autocreate.js';
import { createCrmLookup, type CrmLookup } from './lookup.js';
import { createContactSync, type ContactSync } from './sync.js';
import type { CrmContacts } from './types.js';

export interface CrmContactsDeps {
  store: Store;
  clients: BitrixClients;
  adapterFor: (portal: string) => PbxAdapter | undefined;
  log: Logger;
  /**
   * How long the ring path waits for lookup + auto-create before the call pops without a CRM record. The work
   * carries on in the background (and its result is cached), so a later call from the number still finds it.
   * Default 5 s.
   */
  resolveTimeoutMs?: number;
  /** Lookup cache lifetime; default 60 s. */
  lookupTtlMs?: number;
}

export interface CrmContactsService extends CrmContacts {
  lookup: CrmLookup;
  sync: ContactSync;
  /** Drops everything cached for a portal (settings changed, disconnect). */
  forgetPortal(portal: string): void;
}

export function createCrmContacts(deps: CrmContactsDeps): CrmContactsService {
  const log = deps.log.child({ part: 'contacts' });
  const settingsOf = (portal: string) => deps.store.settings.get(portal);
  const lookup = createCrmLookup({ clients: deps.clients, log, ...(deps.lookupTtlMs !== undefined ? { ttlMs: deps.lookupTtlMs } : {}) });
  const autoCreator = createAutoCreator({ clients: deps.clients, lookup, settingsOf, log });
  const sync = createContactSync({ clients: deps.clients, repository: deps.store.contactSync, settingsOf, adapterFor: deps.adapterFor, log });
  const timeoutMs = deps.resolveTimeoutMs ?? 5_000;

  async function resolve(
    portal: string, e164: string, direction: Parameters<CrmContacts['resolveCaller']>[2], userId: number | undefined, presented: string | undefined,
  ) {
    const settings = settingsOf(portal);
    const known = await lookup.find(portal, e164, settings.defaultCountry);
    if (known) return known;
    return autoCreator.createForUnknown(portal, e164, direction, userId, presented);
  }

  return {
    lookup,
    sync,
    forgetPortal: (portal) => lookup.forget(portal),
    // Our lookup before register whenever it can find more than register's own match of the full international number
    // (a record typed in national form: `8 (912) 345-67-89`, `082 777 0404`) — auto-create on or off — or auto-create
    // needs to know. Cached per portal+number, single-flight, coalesced with the portal's other requests (lookup.ts).
    needsLookupBeforeRegister: (portal, e164, direction) => hasOtherForms(e164) || wantsAutoCreate(settingsOf(portal), direction, e164),
    syncContactAfterCall(portal, crm, number, received) {
      // The manual: sync runs when a bound extension receives a call from the record; a record auto-created for any
      // call is synced too ("新创建的联系人或线索也会被同步").
      if (received === false && !autoCreator.created(portal, crm)) return;
      sync.syncContactAfterCall(portal, crm, number);
    },
    resolveCaller(portal, e164, direction, responsibleUserId, presented) {
      if (direction === 'internal' || !/\d/.test(e164)) return Promise.resolve(null);
      const work = resolve(portal, e164, direction, responsibleUserId, presented).catch((error: unknown) => {
        log.warn({ portal, err: error }, 'CRM lookup or auto-create failed; the call pops without a CRM record');
        return null;
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<CrmRef | null>((resolveDeadline) => {
        timer = setTimeout(() => {
          log.warn({ portal, timeoutMs }, 'Bitrix24 did not answer the CRM lookup in time; the call pops without a CRM record');
          resolveDeadline(null);
        }, timeoutMs);
        timer.unref();
      });
      return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
    },
  };
}

export type { CrmContacts } from './types.js';
