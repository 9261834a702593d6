/**
 * Contact sync, one way (CRM → PBX), as the vendor's manual describes it (yeastar-bitrix24-manual-zh.txt,
 * "设置 Bitrix24 CRM 联系人自动同步"): when a bound extension receives a call from a record of the chosen type, that
 * record is written into the chosen phonebook. Entries already written stay true:
 * - a CRM change to a synced record (Bitrix24's ONCRM<TYPE>UPDATE / ONCRM<TYPE>DELETE) updates or removes its entry;
 * - an entry someone deleted on the PBX is written again, detected when the record is synced next (its next call, a
 *   CRM update event, or the admin's re-sync) — one company_contact/get per unchanged record;
 * - the admin can re-sync everything already synced in one go (resyncAll) and follow its progress and counts.
 * It runs after the call, never in its way: every failure ends as a visible entry in the ContactSyncRepository,
 * nothing is thrown to the caller.
 */
import type { ResyncResponse } from '../../contract/api-shapes.js';
import type { BitrixClients } from '../bitrix/types.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import type { PbxAdapter } from '../pbx/adapter.js';
import { phoneVariants } from '../phone.js';
import type { ContactSyncRepository } from '../store/types.js';
import type { ContactSyncEntry, CrmRef, PortalSettings } from '../store/records.js';
import { findPersonsByPhone, getCompanyTitle, getPerson, isPersonType, type CrmPerson, type PersonEntityType } from '../bitrix/crm.js';
import { contactFingerprint, planPbxContact, SKIP_NO_COMPANY_TITLE, SKIP_NO_NAME, SKIP_NO_PHONE } from './pbx-contact.js';

export type CrmChange = 'update' | 'delete';

/** What one sync did, for the re-sync counts. */
export type SyncOutcome = 'written' | 'unchanged' | 'rewritten' | 'removed' | 'skipped' | 'failed' | 'none';

/** A re-sync's progress and counts as the admin's page shows them (contract/api-shapes.ts); a run has always started. */
export type ResyncProgress = Omit<ResyncResponse, 'startedAt'> & { startedAt: number };

export interface ContactSync {
  /**
   * Fire-and-forget; never throws. `number`: the caller's number (E.164): when the call's record is not of the synced
   * type (a contact, in lead mode, with the lead's number), the record of the synced type with that number is synced.
   */
  syncContactAfterCall(portal: string, crm: CrmRef, number?: string): void;
  /** The same, awaited: the stored entry, or null when sync does not apply to this record. */
  syncNow(portal: string, crm: CrmRef): Promise<ContactSyncEntry | null>;
  /** A Bitrix24 CRM event for this record: a synced record's entry is updated or removed; others are left alone. */
  crmChanged(portal: string, crm: CrmRef, change: CrmChange): Promise<void>;
  /** Starts re-syncing every record synced so far (one run per portal at a time); answers the progress. */
  resyncAll(portal: string): ResyncProgress;
  /** The last (or running) re-sync of the portal, null when there was none since start. */
  resyncProgress(portal: string): ResyncProgress | null;
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
export const REMOVED_RECORD_GONE = 'the CRM record was deleted: its phonebook entry was removed';

/** Why a record is not (or no longer) in the phonebook, in a few kinds the admin can act on (GET /api/contact-sync). */
export type SyncReasonKind = 'no-phone' | 'no-name' | 'record-gone' | 'pbx-not-connected' | 'phonebook-full' | 'pbx-refused' | 'other';

/**
 * Sorts a stored sync reason into its kind. The skip reasons are our own constants; a failure's reason is the error
 * the PBX or Bitrix24 gave. "Phonebook full": Yeastar documents no capacity error for company_contact/create; errcode
 * 60002 "MAX LIMITATION EXCEEDED" is the PBX's limit code elsewhere (yeastar-api.md, token cap) — UNCONFIRMED for
 * contacts (searched the docs corpus, found nothing), so it is matched with the plain words "full"/"capacity".
 */
export function syncReasonKind(state: ContactSyncEntry['state'], reason: string | undefined): SyncReasonKind | null {
  if (state === 'synced' || !reason) return null;
  const text = reason.toLowerCase();
  if (reason === SKIP_NO_PHONE || text.includes(SKIP_NO_PHONE)) return 'no-phone';
  if (reason === SKIP_NO_NAME || reason === SKIP_NO_COMPANY_TITLE) return 'no-name';
  if (reason === SKIP_RECORD_GONE || reason === REMOVED_RECORD_GONE) return 'record-gone';
  if (reason === FAIL_PBX_NOT_CONNECTED) return 'pbx-not-connected';
  if (/max limitation|60002|phonebook is full|capacity|\bfull\b/.test(text)) return 'phonebook-full';
  if (/^pbx_[a-z_]+:|pbx said/.test(text)) return 'pbx-refused';
  return 'other';
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface Result {
  entry: ContactSyncEntry | null;
  outcome: SyncOutcome;
}

export function createContactSync(opts: ContactSyncOptions): ContactSync {
  const now = opts.now ?? Date.now;
  // One sync per record at a time: two calls ending together must not create two PBX contacts for one record.
  const perRecord = createKeyedSerial();
  const resyncs = new Map<string, ResyncProgress>();
  const running = new Set<Promise<unknown>>();

  async function companyNameOf(portal: string, person: CrmPerson): Promise<string> {
    if (person.entityType !== 'CONTACT' || person.companyId === null) return person.companyName;
    return getCompanyTitle(opts.clients.forPortal(portal), person.companyId);
  }

  async function save(entry: ContactSyncEntry, outcome: SyncOutcome): Promise<Result> {
    await opts.repository.put(entry);
    return { entry, outcome };
  }

  /** Takes a synced record's entry out of the phonebook (the record is gone or cannot be an entry any more). */
  async function removeEntry(previous: ContactSyncEntry, reason: string, adapter: PbxAdapter): Promise<Result> {
    if (previous.pbxContactId && adapter.deleteContact) await adapter.deleteContact(previous.pbxContactId);
    const { pbxContactId: _gone, fingerprint: _old, ...rest } = previous;
    opts.log.info({ portal: previous.portal, entityType: previous.entityType, entityId: previous.entityId }, 'phonebook entry removed');
    return save({ ...rest, state: 'removed', reason, updatedAt: now() }, 'removed');
  }

  async function sync(portal: string, crm: CrmRef): Promise<Result> {
    const settings = opts.settingsOf(portal);
    const wanted = settings.contactSync;
    const entityType = crm.entityType;
    if (!settings.enabled || !wanted.enabled || !wanted.phonebookId || !isPersonType(entityType) || entityType !== wanted.entityType) {
      return { entry: null, outcome: 'none' };
    }
    const phonebookId = wanted.phonebookId;
    const previous = opts.repository.get(portal, entityType, crm.entityId);
    // A mapping into another phonebook (the admin changed it) is not ours to update: start afresh.
    const ours = previous && previous.phonebookId === phonebookId ? previous : undefined;
    const existingId = ours?.pbxContactId;
    const base = { portal, entityType, entityId: crm.entityId, phonebookId, ...(existingId ? { pbxContactId: existingId } : {}) };
    const log = opts.log.child({ portal, entityType, entityId: crm.entityId });
    try {
      const adapter = opts.adapterFor(portal);
      if (!adapter) return await save({ ...base, state: 'failed', reason: FAIL_PBX_NOT_CONNECTED, updatedAt: now() }, 'failed');
      const client = opts.clients.forPortal(portal);
      const person = await getPerson(client, entityType, crm.entityId);
      if (!person) {
        if (ours && existingId) return await removeEntry(ours, REMOVED_RECORD_GONE, adapter);
        return await save({ ...base, state: 'skipped', reason: SKIP_RECORD_GONE, updatedAt: now() }, 'skipped');
      }
      const plan = planPbxContact(person, await companyNameOf(portal, person), settings.defaultCountry);
      if (plan.kind === 'skip') {
        log.info({ reason: plan.reason }, 'contact sync skipped');
        // The manual's rule: a record without a name or a phone is not in the phonebook — not even its old entry.
        if (ours && existingId) return await removeEntry(ours, plan.reason, adapter);
        return await save({ ...base, state: 'skipped', reason: plan.reason, updatedAt: now() }, 'skipped');
      }
      const fingerprint = contactFingerprint(phonebookId, plan.contact);
      const note = plan.dropped.length > 0 ? `${plan.dropped.length} number(s) did not fit the PBX contact` : undefined;
      let writeOver = existingId;
      let outcome: SyncOutcome = 'written';
      if (ours && existingId && ours.state === 'synced' && ours.fingerprint === fingerprint) {
        if (!adapter.contactExists || await adapter.contactExists(existingId)) return { entry: ours, outcome: 'unchanged' };
        // Deleted on the PBX by someone: the record is still of the synced kind and called, so it goes back.
        log.info({ pbxContactId: existingId }, 'synced phonebook entry was deleted on the PBX: writing it again');
        writeOver = undefined;
        outcome = 'rewritten';
      }
      const pbxContactId = await adapter.upsertContact(phonebookId, plan.contact, writeOver);
      if (outcome !== 'rewritten' && existingId && pbxContactId !== existingId) outcome = 'rewritten';
      log.info({ pbxContactId, updated: writeOver !== undefined }, 'contact synced to the PBX phonebook');
      return await save({
        portal, entityType, entityId: crm.entityId, phonebookId, pbxContactId, state: 'synced', fingerprint,
        ...(note ? { reason: note } : {}), updatedAt: now(),
      }, outcome);
    } catch (error) {
      const reason = reasonOf(error);
      log.warn({ err: error }, 'contact sync failed');
      try {
        return await save({ ...base, state: 'failed', reason, ...(ours?.fingerprint ? { fingerprint: ours.fingerprint } : {}), updatedAt: now() }, 'failed');
      } catch (storeError) {
        log.error({ err: storeError }, 'could not record a failed contact sync');
        return { entry: null, outcome: 'failed' };
      }
    }
  }

  /** A deleted CRM record: its entry goes, without asking Bitrix24 about a record it just said is gone. */
  async function removeDeleted(portal: string, crm: CrmRef): Promise<Result> {
    const previous = opts.repository.get(portal, crm.entityType, crm.entityId);
    if (!previous?.pbxContactId) return { entry: previous ?? null, outcome: 'none' };
    const adapter = opts.adapterFor(portal);
    if (!adapter) return save({ ...previous, state: 'failed', reason: FAIL_PBX_NOT_CONNECTED, updatedAt: now() }, 'failed');
    try {
      return await removeEntry(previous, REMOVED_RECORD_GONE, adapter);
    } catch (error) {
      opts.log.warn({ portal, err: error }, 'removing a deleted record\'s phonebook entry failed');
      return save({ ...previous, state: 'failed', reason: reasonOf(error), updatedAt: now() }, 'failed');
    }
  }

  function serial(portal: string, crm: CrmRef, work: () => Promise<Result>): Promise<Result> {
    return perRecord.run(`${portal}\u0000${crm.entityType}\u0000${crm.entityId}`, work);
  }

  const syncNow = (portal: string, crm: CrmRef): Promise<ContactSyncEntry | null> => serial(portal, crm, () => sync(portal, crm)).then((r) => r.entry);

  /** The record of the synced type for this call: the call's own, or (lead mode, contact mode…) the one with its number. */
  async function recordToSync(portal: string, crm: CrmRef, number: string | undefined): Promise<CrmRef | null> {
    const settings = opts.settingsOf(portal);
    const wanted = settings.contactSync;
    if (!settings.enabled || !wanted.enabled || !wanted.phonebookId) return null;
    if (crm.entityType === wanted.entityType) return crm;
    if (!number || !/\d{5,}/.test(number.replace(/\D/g, ''))) return null;
    // The call was bound to a record of another type (Bitrix24 prefers a contact when a lead has the same number):
    // the manual syncs the record of the chosen type, so look that one up by the number.
    const hits = await findPersonsByPhone(opts.clients.forPortal(portal), phoneVariants(number, settings.defaultCountry));
    const ids = hits[wanted.entityType as PersonEntityType] ?? [];
    const id = ids.length > 0 ? Math.min(...ids) : undefined;
    return id === undefined ? null : { entityType: wanted.entityType, entityId: id };
  }

  function track<T>(work: Promise<T>): Promise<T> {
    running.add(work);
    void work.finally(() => running.delete(work)).catch(() => undefined);
    return work;
  }

  async function runResync(portal: string, progress: ResyncProgress, entries: ContactSyncEntry[]): Promise<void> {
    for (const entry of entries) {
      const { outcome } = await serial(portal, { entityType: entry.entityType, entityId: entry.entityId }, () => sync(portal, entry));
      if (outcome === 'written') progress.written += 1;
      else if (outcome === 'unchanged') progress.unchanged += 1;
      else if (outcome === 'rewritten') progress.rewritten += 1;
      else if (outcome === 'removed') progress.removed += 1;
      else if (outcome === 'failed') progress.failed += 1;
      else progress.skipped += 1;
      progress.done += 1;
    }
  }

  return {
    syncNow,
    syncContactAfterCall(portal, crm, number) {
      track(recordToSync(portal, crm, number)
        .then((target) => (target ? syncNow(portal, target) : null))
        .catch((error: unknown) => opts.log.error({ portal, err: error }, 'contact sync crashed')));
    },
    async crmChanged(portal, crm, change) {
      const settings = opts.settingsOf(portal);
      // Paused (sync or the whole integration off): the phonebook is left as it is, like the calls leave it.
      if (!settings.enabled || !settings.contactSync.enabled) return;
      const previous = opts.repository.get(portal, crm.entityType, crm.entityId);
      // Only records already in the phonebook are kept true here; others are written on their next call (the manual).
      if (!previous?.pbxContactId || previous.phonebookId !== settings.contactSync.phonebookId) return;
      if (change === 'delete') await serial(portal, crm, () => removeDeleted(portal, crm));
      else await serial(portal, crm, () => sync(portal, crm));
    },
    resyncAll(portal) {
      const current = resyncs.get(portal);
      if (current?.running) return { ...current };
      const settings = opts.settingsOf(portal).contactSync;
      const entries = opts.repository.list(portal)
        .filter((e) => e.pbxContactId !== undefined && e.phonebookId === settings.phonebookId && e.entityType === settings.entityType);
      const progress: ResyncProgress = {
        running: true, total: entries.length, done: 0, written: 0, unchanged: 0, rewritten: 0, removed: 0, skipped: 0, failed: 0,
        startedAt: now(), finishedAt: null,
      };
      resyncs.set(portal, progress);
      opts.log.info({ portal, total: entries.length }, 'contact re-sync started');
      track(runResync(portal, progress, entries)
        .catch((error: unknown) => opts.log.error({ portal, err: error }, 'contact re-sync crashed'))
        .finally(() => {
          progress.running = false;
          progress.finishedAt = now();
          opts.log.info({ portal, ...progress }, 'contact re-sync finished');
        }));
      return { ...progress };
    },
    resyncProgress(portal) {
      const progress = resyncs.get(portal);
      return progress ? { ...progress } : null;
    },
    async idle() {
      while (perRecord.keys() > 0 || running.size > 0) await Promise.allSettled([perRecord.idle(), ...running]);
    },
  };
}
