/**
 * "Is this number known to the CRM?" — one `crm.duplicate.findbycomm` for contacts, leads and companies at once,
 * with the forms people store the number in (phone.ts), cached briefly so the ring path rarely waits on Bitrix24.
 * Lookups of many calls ringing together share requests through the Bitrix24 client's coalescing (bitrix/coalesce.ts).
 *
 * When several records have the number, the preference is CONTACT > COMPANY > LEAD, and within a type the oldest
 * (lowest id): a contact is a qualified person; a company is still a qualified record (its switchboard); a lead is
 * unqualified and, after conversion, often a stale copy of the contact's phone. The oldest record is the original
 * that later duplicates were made from.
 */
import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import { phoneVariants } from '../phone.js';
import type { CrmRef } from '../store/records.js';
import { findPersonsByPhone, type DuplicateHits } from '../bitrix/crm.js';

export interface CrmLookup {
  /** The preferred record for this number, or null; served from the cache while fresh. */
  find(portal: string, e164: string, defaultCountry: string): Promise<CrmRef | null>;
  /**
   * Asks Bitrix24 again unless it answered for this number within `reuseWithinMs` (default 1 s): the check right
   * before auto-creating follows the ring's own lookup by milliseconds, and asking twice would only spend a request.
   */
  findFresh(portal: string, e164: string, defaultCountry: string): Promise<CrmRef | null>;
  /** Records what we just created, so the next call from the number finds it without a request. */
  remember(portal: string, e164: string, ref: CrmRef): void;
  /** Drops the cached answer for one number, or for the whole portal. */
  forget(portal: string, e164?: string): void;
}

export interface CrmLookupOptions {
  clients: BitrixClients;
  log: Logger;
  /** How long an answer (also "unknown") is reused. Default 60 s. */
  ttlMs?: number;
  /** findFresh reuses an answer this young (ms). */
  reuseWithinMs?: number;
  /** Bound on cached numbers over all portals; the oldest go first. Default 5,000. */
  maxEntries?: number;
  now?: () => number;
}

const PREFERENCE = ['CONTACT', 'COMPANY', 'LEAD'] as const;

/** The record a call is bound to when several have the number (see the module comment for why this order). */
export function preferredRecord(hits: DuplicateHits): CrmRef | null {
  for (const entityType of PREFERENCE) {
    const ids = hits[entityType];
    if (ids && ids.length > 0) return { entityType, entityId: Math.min(...ids) };
  }
  return null;
}

interface CacheEntry {
  ref: CrmRef | null;
  at: number;
}

export function createCrmLookup(opts: CrmLookupOptions): CrmLookup {
  const ttlMs = opts.ttlMs ?? 60_000;
  const reuseWithinMs = opts.reuseWithinMs ?? 1_000;
  const maxEntries = opts.maxEntries ?? 5_000;
  const now = opts.now ?? Date.now;
  // Map keeps insertion order: re-inserting on write makes the first key the oldest, evicted first.
  const cache = new Map<string, CacheEntry>();
  // Two calls ringing at once from one number share one request.
  const inFlight = new Map<string, Promise<CrmRef | null>>();
  const keyOf = (portal: string, e164: string): string => `${portal}\u0000${e164}`;

  function store(key: string, ref: CrmRef | null): void {
    cache.delete(key);
    cache.set(key, { ref, at: now() });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
  }

  function ask(portal: string, e164: string, defaultCountry: string): Promise<CrmRef | null> {
    const key = keyOf(portal, e164);
    const running = inFlight.get(key);
    if (running) return running;
    const request = (async () => {
      const hits = await findPersonsByPhone(opts.clients.forPortal(portal), phoneVariants(e164, defaultCountry));
      const ref = preferredRecord(hits);
      store(key, ref);
      opts.log.debug({ portal, found: ref }, 'CRM lookup by phone');
      return ref;
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, request);
    return request;
  }

  return {
    find(portal, e164, defaultCountry) {
      const hit = cache.get(keyOf(portal, e164));
      if (hit && now() - hit.at < ttlMs) return Promise.resolve(hit.ref);
      return ask(portal, e164, defaultCountry);
    },
    findFresh(portal, e164, defaultCountry) {
      const hit = cache.get(keyOf(portal, e164));
      if (hit && now() - hit.at < reuseWithinMs) return Promise.resolve(hit.ref);
      cache.delete(keyOf(portal, e164));
      return ask(portal, e164, defaultCountry);
    },
    remember(portal, e164, ref) {
      store(keyOf(portal, e164), ref);
    },
    forget(portal, e164) {
      if (e164 !== undefined) {
        cache.delete(keyOf(portal, e164));
        return;
      }
      const prefix = `${portal}\u0000`;
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
    },
  };
}
