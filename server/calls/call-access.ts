/**
 * Who may see a call and play its recording (issue 10 point 7). Bitrix24's own telephony keeps calls and recordings
 * behind the user's rights; so do we:
 * - a portal admin sees every call of the portal;
 * - an employee sees their own calls: the ones the call record names them in (the user it was logged to, the users
 *   its card was shown to). Only a record that names nobody falls back to today's extension bindings, since a
 *   binding made after the call must not open old calls of that extension to a new holder;
 * - and the calls on CRM records the employee can read, asked of Bitrix24 WITH THE EMPLOYEE'S OWN TOKEN
 *   (crm.item.get, api-reference/crm/universal/crm-item-get.md: "any user with 'read' access permission for CRM
 *   object elements"; refused with ACCESS_DENIED "You do not have permission to view this item", or NOT_FOUND), so
 *   Bitrix24's rights decide and we never re-implement them.
 * Verdicts are kept briefly per user and record, bounded, and asked once: a page of 20 calls on one record costs one
 * crm.item.get, and the distinct records of a page go in one batch.
 */
import { isReadRefusal, type UserAuth, type UserRest } from '../bitrix/as-user.js';
import type { BatchCommand } from '../bitrix/types.js';
import type { CallRecord, CrmEntityType, CrmRef } from '../store/records.js';

/** The employee looking, as frame auth established them, with the frame token Bitrix24 is asked with. */
export interface CallViewer extends UserAuth {
  isAdmin: boolean;
}

export interface CallAccessDeps {
  /** Today's binding of an extension (only for records that name no user). */
  userForExtension(portal: string, extension: string): number | undefined;
  /** Bitrix24 REST acting as the viewer. */
  restAs(user: UserAuth): UserRest;
  /** How long a verdict is reused; default 60 s (a right taken away in Bitrix24 applies within this). */
  ttlMs?: number;
  /** At most this many verdicts are kept (oldest dropped first); default 5000. */
  maxEntries?: number;
  now?: () => number;
}

export interface CallAccess {
  /** The records `viewer` may see, in the order given. */
  visible(viewer: CallViewer, records: CallRecord[]): Promise<CallRecord[]>;
  /** Whether `viewer` may see this one call (and play its recording). */
  canSee(viewer: CallViewer, record: CallRecord): Promise<boolean>;
  /** Drops the verdicts of a portal (uninstall). */
  forget(portal: string): void;
}

/** crm.item.get entityTypeId of the CRM object types (api-reference/crm/data-types.md#object_type). */
const ENTITY_TYPE_ID: Record<CrmEntityType, number> = { LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4 };
const MAX_BATCH = 50;

/** The users a call record names: who it was logged to and who was shown its card; else today's extension holders. */
export function participantsOf(record: CallRecord, userForExtension: CallAccessDeps['userForExtension']): Set<number> {
  const named = new Set<number>(record.shownTo);
  if (record.userId !== undefined) named.add(record.userId);
  if (named.size > 0) return named;
  for (const extension of [...record.extensions, ...(record.answeredBy ? [record.answeredBy] : [])]) {
    const userId = userForExtension(record.portal, extension);
    if (userId !== undefined) named.add(userId);
  }
  return named;
}

const refKey = (ref: CrmRef) => `${ref.entityType}:${ref.entityId}`;

interface Verdict {
  readable: boolean;
  until: number;
}

export function createCallAccess(deps: CallAccessDeps): CallAccess {
  const ttl = deps.ttlMs ?? 60_000;
  const max = deps.maxEntries ?? 5000;
  const now = deps.now ?? Date.now;
  // Insertion order is age order: a fresh verdict is re-inserted, so the first key is the one to drop.
  const verdicts = new Map<string, Verdict>();
  const inflight = new Map<string, Promise<boolean>>();

  const userPrefix = (viewer: CallViewer) => `${viewer.portal.memberId}\u0000${viewer.userId}\u0000`;

  function remember(key: string, readable: boolean): void {
    verdicts.delete(key);
    verdicts.set(key, { readable, until: now() + ttl });
    while (verdicts.size > max) {
      const oldest = verdicts.keys().next();
      if (oldest.done) break;
      verdicts.delete(oldest.value);
    }
  }

  /** One batch of crm.item.get with the viewer's token; a refusal is a verdict, anything else is not kept. */
  async function ask(viewer: CallViewer, refs: CrmRef[]): Promise<Map<string, boolean>> {
    const commands: BatchCommand[] = refs.map((ref) => ({
      key: refKey(ref).replace(':', '_'),
      method: 'crm.item.get',
      params: { entityTypeId: ENTITY_TYPE_ID[ref.entityType], id: ref.entityId },
    }));
    // A failed request (Bitrix24 down, the frame token expired) fails the whole answer: nothing is shown on a guess.
    const answer = await deps.restAs(viewer).batch(commands);
    const out = new Map<string, boolean>();
    refs.forEach((ref, i) => {
      const key = commands[i]?.key ?? '';
      const failed = answer.errors[key];
      if (key in answer.results) {
        remember(userPrefix(viewer) + refKey(ref), true);
        out.set(refKey(ref), true);
      } else if (failed && isReadRefusal(failed.error, failed.description)) {
        remember(userPrefix(viewer) + refKey(ref), false);
        out.set(refKey(ref), false);
      } else {
        // Neither read nor refused (a limit, an outage inside the batch): not shown now, asked again next time.
        out.set(refKey(ref), false);
      }
    });
    return out;
  }

  /** Readability of each distinct record, from the cache, a request already out, or one new batch per 50. */
  async function readable(viewer: CallViewer, refs: CrmRef[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    const waits: Promise<void>[] = [];
    const missing: CrmRef[] = [];
    const seen = new Set<string>();
    const t = now();
    for (const ref of refs) {
      const id = refKey(ref);
      if (seen.has(id)) continue;
      seen.add(id);
      const key = userPrefix(viewer) + id;
      const hit = verdicts.get(key);
      if (hit && hit.until > t) {
        out.set(id, hit.readable);
        continue;
      }
      const pending = inflight.get(key);
      if (pending) {
        waits.push(pending.then((r) => { out.set(id, r); }));
        continue;
      }
      missing.push(ref);
    }
    for (let i = 0; i < missing.length; i += MAX_BATCH) {
      const chunk = missing.slice(i, i + MAX_BATCH);
      const asked = ask(viewer, chunk);
      for (const ref of chunk) {
        const key = userPrefix(viewer) + refKey(ref);
        const one = asked.then((answers) => answers.get(refKey(ref)) ?? false);
        inflight.set(key, one);
        void one.catch(() => undefined).finally(() => { if (inflight.get(key) === one) inflight.delete(key); });
        waits.push(one.then((r) => { out.set(refKey(ref), r); }));
      }
    }
    await Promise.all(waits);
    return out;
  }

  async function visible(viewer: CallViewer, records: CallRecord[]): Promise<CallRecord[]> {
    if (viewer.isAdmin) return records;
    const own = (record: CallRecord) => participantsOf(record, deps.userForExtension).has(viewer.userId);
    const toCheck = records.filter((r) => !own(r) && r.crm !== undefined).map((r) => r.crm).filter((c): c is CrmRef => c !== undefined);
    const verdict = toCheck.length > 0 ? await readable(viewer, toCheck) : new Map<string, boolean>();
    return records.filter((r) => own(r) || (r.crm !== undefined && verdict.get(refKey(r.crm)) === true));
  }

  return {
    visible,
    async canSee(viewer, record) {
      return (await visible(viewer, [record])).length === 1;
    },
    forget(portal) {
      const prefix = `${portal}\u0000`;
      for (const key of [...verdicts.keys()]) if (key.startsWith(prefix)) verdicts.delete(key);
    },
  };
}
