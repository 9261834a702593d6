import type { Logger } from '../../log.js';
import { DEFAULT_SETTINGS, type CallRecord, type OutboxItem } from '../records.js';
import type { LinkMarksStore, Store } from '../types.js';

/** What a copy did (or, with conflicts and no force, would have done), per kind of record. */
export interface CopyCounts {
  portals: number;
  copied: Record<CopyKind, number>;
  unchanged: Record<CopyKind, number>;
  /** Records the target holds with other content: listed, and overwritten only with `force`. */
  conflicts: string[];
}

type CopyKind = 'portals' | 'settings' | 'bindings' | 'calls' | 'outbox' | 'contactSync' | 'missedCallTasks' | 'linkMarks';
const KINDS: CopyKind[] = ['portals', 'settings', 'bindings', 'calls', 'outbox', 'contactSync', 'missedCallTasks', 'linkMarks'];

/** JSON with sorted keys: jsonb does not keep key order, so a round trip must still compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

interface Step {
  kind: CopyKind;
  label: string;
  /** undefined: the target has nothing there. */
  existing: unknown;
  wanted: unknown;
  write(): Promise<void>;
  /** Writing merges with what the target holds (never a conflict). */
  merges?: boolean;
}

/**
 * Copies every portal's data from one store into another (npm run migrate-store): portals with their secrets
 * (opened with the source's key, sealed again by the target with the same key), settings, bindings, card modes,
 * calls, outbox items (pending, failed and done ones, whose results later items refer to), contact sync, missed-call
 * tasks and the PBX link marks (so the first start on the target recovers exactly the calls that ended since).
 * Idempotent: what the target already holds unchanged is skipped. A record the target holds with other content is
 * a conflict: nothing at all is written unless `force` (then the source's version wins).
 */
export async function copyStore(opts: {
  source: Store; target: Store; sourceMarks: LinkMarksStore; targetMarks: LinkMarksStore; force: boolean; log: Logger;
}): Promise<CopyCounts> {
  const { source, target } = opts;
  const memberIds = [...new Set([...source.portals.list().map((p) => p.memberId), ...source.outbox.portalsWithPending()])].sort();
  const steps: Step[] = [];
  for (const m of memberIds) {
    const portal = source.portals.get(m);
    if (portal) steps.push({ kind: 'portals', label: `portal ${m}`, existing: target.portals.get(m), wanted: portal, write: () => target.portals.put(portal) });
    const settings = source.settings.get(m);
    steps.push({ kind: 'settings', label: `settings of ${m}`, existing: target.settings.get(m), wanted: settings, write: () => target.settings.put(m, settings) });
    const bindings = { list: source.bindings.list(m), modes: source.bindings.cardModes(m) };
    steps.push({
      kind: 'bindings', label: `bindings of ${m}`, wanted: bindings,
      existing: { list: target.bindings.list(m), modes: target.bindings.cardModes(m) },
      write: async () => {
        await target.bindings.replace(m, bindings.list);
        await target.bindings.setCardModes(m, bindings.modes);
      },
    });
    const calls: CallRecord[] = source.calls.listRecent(m, { limit: Number.MAX_SAFE_INTEGER }).reverse();
    for (const call of calls) {
      steps.push({ kind: 'calls', label: `call ${m}/${call.pbxCallId}`, existing: target.calls.get(m, call.pbxCallId), wanted: call, write: () => target.calls.put(call) });
    }
    for (const item of source.outbox.list(m)) {
      const existing = target.outbox.get(item.id) ?? (item.key !== undefined ? target.outbox.getByKey(m, item.key) : undefined);
      steps.push({ kind: 'outbox', label: `outbox item ${m}/${item.id}`, existing, wanted: item, write: () => writeItem(target, item, existing) });
    }
    for (const entry of source.contactSync.list(m)) {
      steps.push({
        kind: 'contactSync', label: `contact sync ${m}/${entry.entityType}:${entry.entityId}`,
        existing: target.contactSync.get(m, entry.entityType, entry.entityId), wanted: entry, write: () => target.contactSync.put(entry),
      });
    }
    for (const entry of source.missedCallTasks.list(m)) {
      steps.push({
        kind: 'missedCallTasks', label: `missed-call task ${m}/${entry.phone}`,
        existing: target.missedCallTasks.get(m, entry.phone), wanted: entry, write: () => target.missedCallTasks.put(entry),
      });
    }
    const mark = opts.sourceMarks.coveredUntil(m);
    if (mark !== undefined) {
      const current = opts.targetMarks.coveredUntil(m);
      // A mark only moves forward: a later mark in the target is kept (not a conflict), an earlier one is advanced.
      steps.push({
        kind: 'linkMarks', label: `PBX link mark of ${m}`, existing: current, wanted: Math.max(mark, current ?? 0), merges: true,
        write: async () => opts.targetMarks.setCoveredUntil(m, mark),
      });
    }
  }

  const counts: CopyCounts = {
    portals: memberIds.length,
    copied: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<CopyKind, number>,
    unchanged: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<CopyKind, number>,
    conflicts: [],
  };
  const isEmpty = (step: Step): boolean => step.existing === undefined || step.merges === true
    || (step.kind === 'settings' && same(step.existing, DEFAULT_SETTINGS))
    || (step.kind === 'bindings' && same(step.existing, { list: [], modes: {} }));
  const todo = steps.filter((step) => {
    if (same(step.existing, step.wanted)) {
      counts.unchanged[step.kind] += 1;
      return false;
    }
    if (!isEmpty(step)) counts.conflicts.push(step.label);
    return true;
  });
  if (counts.conflicts.length > 0 && !opts.force) return counts;
  for (const step of todo) {
    await step.write();
    counts.copied[step.kind] += 1;
  }
  await opts.targetMarks.flush();
  opts.log.info({ copied: counts.copied, unchanged: counts.unchanged, conflicts: counts.conflicts.length }, 'store copied');
  return counts;
}

/** A new item is appended; an item the target holds with other content (only with force) is overwritten. */
async function writeItem(target: Store, item: OutboxItem, existing: OutboxItem | undefined): Promise<void> {
  if (existing === undefined) {
    await target.outbox.append([item]);
    return;
  }
  await target.outbox.update({ ...item, id: existing.id });
}
