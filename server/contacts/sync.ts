/**
 * Contact sync, one way (CRM → PBX): after a call with a record of the synced kind, that record's PBX company
 * contact in the chosen phonebook is created or brought up to date. It runs after the call, never in its way:
 * every failure ends as a visible entry in the ContactSyncRepository, nothing is thrown to the caller.
 */
import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import type { PbxAdapter } from '../pbx/adapter.js';
import type { ContactSyncRepository } from '../store/types.js';
import type { ContactSyncEntry, CrmRef, PortalSettings } from '../store/records.js';
import { getCompanyTitle, getPerson, isPersonType, type CrmPerson } from './bitrix-crm.js';
import { contactFingerprint, planPbxContact } from './pbx-contact.js';

export interface ContactSync {
  /** Fire-and-forget; never throws. */
  syncContactAfterCall(portal: string, crm: CrmRef): void;
  /** The same, awaited: the stored entry, or null when sync does not apply to this record. */
  syncNow(portal: string, crm: CrmRef): Promise<ContactSyncEntry | null>;
  /** Resolves when every sync started so far has settled (shutdown, tests). */
  idle(): Promise<void>;
}

export interface ContactSyncOptions {
  clients: BitrixClients;
  repository: ContactSyncRepository;
  settingsOf: (portal: string) => PortalSettings;
  adapterFor: (portal: string) => PbxAdapter | undefined;
  log: Logger;
  now?: () => number;
}

export const FAIL_PBX_NOT_CONNECTED = 'the PBX is not connected';
export const SKIP_RECORD_GONE = 'the CRM record no longer exists';

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createContactSync(opts: ContactSyncOptions): ContactSync {
  const now = opts.now ?? Date.now;
  // One sync per record at a time: two calls ending together must not create two PBX contacts for one record.
  const chains = new Map<string, Promise<ContactSyncEntry | null>>();

  async function companyNameOf(portal: string, person: CrmPerson): Promise<string> {
    if (person.entityType !== 'CONTACT' || person.companyId === null) return person.companyName;
    return getCompanyTitle(opts.clients.forPortal(portal), person.companyId);
  }

  async function save(entry: ContactSyncEntry): Promise<ContactSyncEntry> {
    await opts.repository.put(entry);
    return entry;
  }

  async function sync(portal: string, crm: CrmRef): Promise<ContactSyncEntry | null> {
    const settings = opts.settingsOf(portal);
    const wanted = settings.contactSync;
    const entityType = crm.entityType;
    if (!settings.enabled || !wanted.enabled || !wanted.phonebookId || !isPersonType(entityType) || entityType !== wanted.entityType) {
      return null;
    }
    const phonebookId = wanted.phonebookId;
    const previous = opts.repository.get(portal, entityType, crm.entityId);
    // A mapping into another phonebook (the admin changed it) is not ours to update: start afresh.
    const existingId = previous && previous.phonebookId === phonebookId ? previous.pbxContactId : undefined;
    const base = { portal, entityType, entityId: crm.entityId, phonebookId, ...(existingId ? { pbxContactId: existingId } : {}) };
    const log = opts.log.child({ portal, entityType, entityId: crm.entityId });
    try {
      const adapter = opts.adapterFor(portal);
      if (!adapter) return await save({ ...base, state: 'failed', reason: FAIL_PBX_NOT_CONNECTED, updatedAt: now() });
      const client = opts.clients.forPortal(portal);
      const person = await getPerson(client, entityType, crm.entityId);
      if (!person) return await save({ ...base, state: 'skipped', reason: SKIP_RECORD_GONE, updatedAt: now() });
      const plan = planPbxContact(person, await companyNameOf(portal, person), settings.defaultCountry);
      if (plan.kind === 'skip') {
        log.info({ reason: plan.reason }, 'contact sync skipped');
        return await save({ ...base, state: 'skipped', reason: plan.reason, updatedAt: now() });
      }
      const fingerprint = contactFingerprint(phonebookId, plan.contact);
      const note = plan.dropped.length > 0 ? `${plan.dropped.length} number(s) did not fit the PBX contact` : undefined;
      if (previous && existingId && previous.state === 'synced' && previous.fingerprint === fingerprint) return previous;
      const pbxContactId = await adapter.upsertContact(phonebookId, plan.contact, existingId);
      log.info({ pbxContactId, updated: existingId !== undefined }, 'contact synced to the PBX phonebook');
      return await save({
        portal, entityType, entityId: crm.entityId, phonebookId, pbxContactId, state: 'synced', fingerprint,
        ...(note ? { reason: note } : {}), updatedAt: now(),
      });
    } catch (error) {
      const reason = reasonOf(error);
      log.warn({ err: error }, 'contact sync failed');
      try {
        return await save({ ...base, state: 'failed', reason, ...(previous?.fingerprint ? { fingerprint: previous.fingerprint } : {}), updatedAt: now() });
      } catch (storeError) {
        log.error({ err: storeError }, 'could not record a failed contact sync');
        return null;
      }
    }
  }

  function syncNow(portal: string, crm: CrmRef): Promise<ContactSyncEntry | null> {
    const key = `${portal}\u0000${crm.entityType}\u0000${crm.entityId}`;
    const before = chains.get(key) ?? Promise.resolve(null);
    const next = before.catch(() => null).then(() => sync(portal, crm));
    chains.set(key, next);
    void next.finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    }).catch(() => undefined);
    return next;
  }

  return {
    syncNow,
    syncContactAfterCall(portal, crm) {
      syncNow(portal, crm).catch((error: unknown) => opts.log.error({ portal, err: error }, 'contact sync crashed'));
    },
    async idle() {
      while (chains.size > 0) await Promise.allSettled([...chains.values()]);
    },
  };
}
