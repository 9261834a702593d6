/**
 * CRM lookups by phone, coalesced per portal: when no lookup of the portal is in flight, one goes out at once, alone
 * (no added wait for a lone call); the lookups that arrive while it is in flight wait for it and then go out together
 * as ONE `batch` of `crm.duplicate.findbycomm` commands (≤ 50, Bitrix24's batch limit, batch.md).
 *
 * Why: a portal has 2 REST requests per second (burst 50). With one request per ringing call, 100 calls ringing at
 * once spent the whole burst on lookups and the last screen pop waited 25 s (bench/, issue 7); a busy call centre
 * with new numbers every few seconds would starve its own call log. Coalesced, a burst of lookups costs about as many
 * requests as there are round trips.
 */
import { findByPhone as findByPhoneCall, readDuplicates } from '../bitrix/crm.js';
import { BitrixError, type BitrixClient, type BitrixClients } from '../bitrix/types.js';
import { isPersonType, type DuplicateHits } from './bitrix-crm.js';

export const MAX_LOOKUPS_PER_BATCH = 50;

export interface LookupQueue {
  /** Contacts, leads and companies having one of `values` (one findbycomm, alone or in a batch). */
  find(portal: string, values: string[]): Promise<DuplicateHits>;
}

interface Waiting {
  values: string[];
  resolve: (hits: DuplicateHits) => void;
  reject: (err: unknown) => void;
}

interface PortalQueue {
  busy: boolean;
  waiting: Waiting[];
}

export function hitsOf(result: unknown): DuplicateHits {
  const hits: DuplicateHits = {};
  for (const ref of readDuplicates(result)) {
    if (!isPersonType(ref.entityType)) continue;
    (hits[ref.entityType] ??= []).push(ref.entityId);
  }
  return hits;
}

async function sendTogether(client: BitrixClient, group: Waiting[]): Promise<void> {
  if (group.length === 1) {
    const [only] = group;
    if (!only) return;
    const call = findByPhoneCall(only.values);
    only.resolve(hitsOf(await client.call<unknown>(call.method, call.params)));
    return;
  }
  const commands = group.map((w, i) => {
    const call = findByPhoneCall(w.values);
    return { key: `find${i}`, method: call.method, params: call.params };
  });
  // halt=false: one refused lookup must not fail the others (batch.md).
  const answer = await client.batch(commands, false);
  group.forEach((w, i) => {
    const key = `find${i}`;
    const error = answer.errors[key];
    if (error) w.reject(new BitrixError(error.error, error.description, 400, false));
    else if (key in answer.results) w.resolve(hitsOf(answer.results[key]));
    else w.reject(new BitrixError('ERROR_UNEXPECTED_ANSWER', 'the batch answer has no result for this lookup', 0, true));
  });
}

export function createLookupQueue(clients: Pick<BitrixClients, 'forPortal'>, maxPerBatch = MAX_LOOKUPS_PER_BATCH): LookupQueue {
  const queues = new Map<string, PortalQueue>();

  async function pump(portal: string, queue: PortalQueue): Promise<void> {
    queue.busy = true;
    try {
      while (queue.waiting.length > 0) {
        const group = queue.waiting.splice(0, maxPerBatch);
        try {
          await sendTogether(clients.forPortal(portal), group);
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
    } finally {
      queue.busy = false;
      queues.delete(portal);
    }
  }

  return {
    find(portal, values) {
      let queue = queues.get(portal);
      if (!queue) {
        queue = { busy: false, waiting: [] };
        queues.set(portal, queue);
      }
      const q = queue;
      return new Promise<DuplicateHits>((resolve, reject) => {
        q.waiting.push({ values, resolve, reject });
        if (!q.busy) void pump(portal, q);
      });
    },
  };
}
