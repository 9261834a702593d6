import type { OutboxItem } from '../store/records.js';
import { batchExpression, readPath, referencedIds, replaceRefs } from './refs.js';

/** Bitrix24 runs at most 50 commands in one batch (batch.md: ERROR_BATCH_LENGTH_EXCEEDED beyond). */
export const MAX_BATCH = 50;

export interface PlannedCommand {
  item: OutboxItem;
  /** Batch command key, also what `$result[key]` of a later command points at. */
  key: string;
  /** Params with every reference resolved (or, in a batch, turned into a `$result[...]` expression). */
  params: Record<string, unknown>;
  /** Keys of commands in the same send whose results this one uses. */
  dependsOnKeys: string[];
}

export interface SendPlan {
  commands: PlannedCommand[];
  /** Items that can never be sent: a referenced item failed or is gone, or its result lacks the field. */
  park: { item: OutboxItem; reason: string }[];
  /** Earliest time a waiting item becomes due (when nothing is sendable now). */
  wakeAt: number | undefined;
}

/**
 * Chooses what to send now from the portal's pending items (seq order):
 * - an item is sendable when it is due and every earlier pending item of its group is done or goes in this send
 *   (so a group is delivered in order; the batch runs its commands in order);
 * - its references point at done items (resolved from their stored result) or at items in this send;
 * - groups are independent: a waiting group never holds another one back.
 */
export function planSend(
  pending: OutboxItem[], now: number, lookup: (id: string) => OutboxItem | undefined,
  /** Command keys are `<keyPrefix><n>`: sends of one worker that may travel in one request need distinct keys. */
  keyPrefix = 'c',
): SendPlan {
  const commands: PlannedCommand[] = [];
  const keyOf = new Map<string, string>();
  const blocked = new Set<string>();
  const groupAboard = new Map<string, Set<string>>();
  const park: SendPlan['park'] = [];
  let wakeAt: number | undefined;

  for (const item of pending) {
    if (commands.length >= MAX_BATCH) break;
    if (blocked.has(item.group)) continue;
    if (item.nextAttemptAt > now) {
      blocked.add(item.group);
      wakeAt = wakeAt === undefined ? item.nextAttemptAt : Math.min(wakeAt, item.nextAttemptAt);
      continue;
    }
    // A second item of a group rides along only when it needs the result of one already aboard (register → finish):
    // if that one fails, this one fails with it. An independent follower waits for the next send, so a retryable
    // failure of an earlier item can never let a later one of its group overtake it.
    const aboard = groupAboard.get(item.group);
    if (aboard && !referencedIds(item.params).some((id) => aboard.has(id))) {
      blocked.add(item.group);
      continue;
    }
    const verdict = checkRefs(item, keyOf, lookup);
    if (verdict.kind === 'park') {
      park.push({ item, reason: verdict.reason });
      continue;
    }
    if (verdict.kind === 'wait') {
      blocked.add(item.group);
      continue;
    }
    const key = `${keyPrefix}${commands.length}`;
    const dependsOnKeys: string[] = [];
    const params = replaceRefs(item.params, (ref) => {
      const sameSendKey = keyOf.get(ref.$ref);
      if (sameSendKey !== undefined) {
        dependsOnKeys.push(sameSendKey);
        return batchExpression(sameSendKey, ref.path);
      }
      return readPath(lookup(ref.$ref)?.result, ref.path).value;
    });
    keyOf.set(item.id, key);
    if (aboard) aboard.add(item.id);
    else groupAboard.set(item.group, new Set([item.id]));
    commands.push({ item, key, params, dependsOnKeys });
  }
  return { commands, park, wakeAt };
}

type RefVerdict = { kind: 'ok' } | { kind: 'wait' } | { kind: 'park'; reason: string };

function checkRefs(item: OutboxItem, inThisSend: Map<string, string>, lookup: (id: string) => OutboxItem | undefined): RefVerdict {
  for (const id of referencedIds(item.params)) {
    if (inThisSend.has(id)) continue;
    const target = lookup(id);
    if (!target) return { kind: 'park', reason: `DEPENDENCY_MISSING: needs the result of outbox item ${id}, which does not exist` };
    if (target.status === 'failed') {
      return { kind: 'park', reason: `DEPENDENCY_FAILED: needs the result of outbox item ${id} (${target.method}), which failed: ${target.lastError ?? 'unknown error'}` };
    }
    if (target.status === 'pending') return { kind: 'wait' };
  }
  // Every referenced item is done (or rides along): check the fields exist before spending a request.
  let missing: string | undefined;
  replaceRefs(item.params, (ref) => {
    if (inThisSend.has(ref.$ref) || missing) return undefined;
    if (!readPath(lookup(ref.$ref)?.result, ref.path).found) missing = `${ref.$ref} → ${ref.path.join('.')}`;
    return undefined;
  });
  if (missing) return { kind: 'park', reason: `DEPENDENCY_RESULT_MISSING: the result of outbox item ${missing} is absent` };
  return { kind: 'ok' };
}
