/**
 * Auto-create: an unknown number on a call of an enabled direction becomes a Lead or a Contact named exactly as the
 * vendor's manual shows (yeastar-bitrix24-manual-zh.txt, "自动创建": `Automatic New Contact -18850152394` with the
 * phone `18850152394`): the prefix, then the number as the PBX presented it. The WORK phone holds the number in
 * international form (E.164, read with the portal's country) so that the next call, looked up by number, finds it.
 * The bound user is responsible.
 *
 * Never two records for one number: creations are single-flight per portal+number (a second call from the number
 * joins the first one's creation), and the number is looked up again, bypassing the cache, right before creating.
 * Created directly through the client (not the outbox) because the screen pop's register needs the id now.
 */
import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import type { CallDirection } from '../pbx/adapter.js';
import type { CrmRef, PortalSettings } from '../store/records.js';
import { addPerson } from '../bitrix/crm.js';
import type { CrmLookup } from './lookup.js';

export interface AutoCreator {
  /** The record for this unknown number, created now (or by a concurrent call); null when not wanted. */
  createForUnknown(
    portal: string, e164: string, direction: CallDirection, responsibleUserId: number | undefined, presented?: string,
  ): Promise<CrmRef | null>;
  /** Whether this process auto-created the record (contact sync writes it whatever the call's direction). */
  created(portal: string, ref: CrmRef): boolean;
}

export interface AutoCreatorOptions {
  clients: BitrixClients;
  lookup: CrmLookup;
  settingsOf: (portal: string) => PortalSettings;
  log: Logger;
}

/** Hidden, anonymous and short (service, internal) numbers never become CRM records. */
const MIN_DIGITS = 6;

/** The exact name an auto-created record gets, e.g. `Automatic New Contact -18850152394`: the number as presented. */
export function autoCreatedName(namePrefix: string, presented: string): string {
  return `${namePrefix}${presented.trim()}`;
}

/** Whether the settings ask for a record for an unknown number on a call of this direction. */
export function wantsAutoCreate(settings: PortalSettings, direction: CallDirection, e164: string): boolean {
  const auto = settings.autoCreate;
  if (!auto.enabled) return false;
  if (direction === 'inbound' ? !auto.inbound : direction === 'outbound' ? !auto.outbound : true) return false;
  return e164.replace(/\D/g, '').length >= MIN_DIGITS;
}

/** Auto-created records remembered for contact sync; the oldest are forgotten past this many (memory bound). */
const REMEMBER_CREATED = 10_000;

export function createAutoCreator(opts: AutoCreatorOptions): AutoCreator {
  const inFlight = new Map<string, Promise<CrmRef | null>>();
  const made = new Set<string>();
  const madeKey = (portal: string, ref: CrmRef): string => `${portal}\u0000${ref.entityType}\u0000${ref.entityId}`;

  async function create(portal: string, e164: string, responsibleUserId: number | undefined, presented: string): Promise<CrmRef | null> {
    const settings = opts.settingsOf(portal);
    // Another process, a person or a call that finished a moment ago may have made the record since the lookup.
    const existing = await opts.lookup.findFresh(portal, e164, settings.defaultCountry);
    if (existing) return existing;
    const entityType = settings.autoCreate.entityType;
    const entityId = await addPerson(opts.clients.forPortal(portal), entityType, {
      name: autoCreatedName(settings.autoCreate.namePrefix, presented),
      phone: e164,
      assignedById: responsibleUserId,
    });
    const ref: CrmRef = { entityType, entityId };
    opts.lookup.remember(portal, e164, ref);
    made.add(madeKey(portal, ref));
    if (made.size > REMEMBER_CREATED) {
      const oldest = made.values().next();
      if (!oldest.done) made.delete(oldest.value);
    }
    opts.log.info({ portal, entityType, entityId }, 'auto-created a CRM record for an unknown number');
    return ref;
  }

  return {
    created: (portal, ref) => made.has(madeKey(portal, ref)),
    createForUnknown(portal, e164, direction, responsibleUserId, presented) {
      if (!wantsAutoCreate(opts.settingsOf(portal), direction, e164)) return Promise.resolve(null);
      const key = `${portal}\u0000${e164}`;
      const running = inFlight.get(key);
      if (running) return running;
      const creation = create(portal, e164, responsibleUserId, presented?.trim() || e164).finally(() => inFlight.delete(key));
      inFlight.set(key, creation);
      return creation;
    },
  };
}
