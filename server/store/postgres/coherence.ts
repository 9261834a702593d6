import type { StoreChange } from './notify.js';
import type { Logger } from '../../log.js';
import type { PortalsStore } from '../portals.js';
import type { SettingsStore } from '../settings.js';
import type { PgCallsStore } from './calls.js';
import type { PgPortalsDocument } from './documents.js';
import type { PgLinkMarks } from './link-marks.js';
import type { PgOutboxStore } from './outbox.js';

/** Calls and outbox items changed within this window are read back in one query per kind. */
const BATCH_MS = 10;

/** A per-portal document set of the PostgreSQL store (documents.ts PgPortalDocuments). */
interface ReloadableDocuments {
  reload(memberId: string): Promise<void>;
  reloadAll(): Promise<void>;
  forget(memberId: string): void;
}

/** What a store_changed notification can make this instance read again. */
export interface CoherentParts {
  portalsDoc: PgPortalsDocument;
  portals: PortalsStore;
  settingsDocs: ReloadableDocuments;
  settings: SettingsStore;
  bindingsDocs: ReloadableDocuments;
  contactDocs: ReloadableDocuments;
  missedDocs: ReloadableDocuments;
  calls: PgCallsStore;
  outbox: PgOutboxStore;
  linkMarks: PgLinkMarks;
}

export interface Coherence {
  /** Applies one change written by another instance (batched for calls and outbox items). */
  changed(change: StoreChange): void;
  /** After the LISTEN link was down since `since`: reads again everything that may have changed meanwhile. */
  resync(since: Date): Promise<void>;
  /** Every reload started so far has finished (tests, close). */
  settled(): Promise<void>;
  /** Told after another instance's change of a portal document (portal, settings, bindings) is in memory. */
  onApplied(listener: (change: StoreChange) => void): void;
}

/**
 * Keeps this instance's memory in step with what other instances write (store/postgres/notify.ts): a document-shaped
 * record is read again whole for its portal (in the portal's write queue), calls and outbox items one row each,
 * batched. A portal that another instance removed is dropped from memory here too.
 */
export function createCoherence(parts: CoherentParts, log: Logger): Coherence {
  const running = new Set<Promise<unknown>>();
  const applied: ((change: StoreChange) => void)[] = [];
  const tell = (change: StoreChange) => (): void => {
    for (const listener of applied) listener(change);
  };
  const calls = new Map<string, { memberId: string; key: string }>();
  const outboxIds = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const track = (work: Promise<unknown>, what: string, memberId?: string): void => {
    const guarded = work.catch((err: unknown) => {
      // The next change of the same record, or the reload after a reconnect, reads it again.
      log.warn({ err: err instanceof Error ? err.message : String(err), portal: memberId, kind: what }, 'could not read a record another instance changed');
    });
    running.add(guarded);
    void guarded.finally(() => running.delete(guarded));
  };

  const forgetPortal = (memberId: string): void => {
    parts.calls.forget(memberId);
    parts.outbox.forget(memberId);
    for (const docs of [parts.settingsDocs, parts.bindingsDocs, parts.contactDocs, parts.missedDocs]) docs.forget(memberId);
    parts.settings.forget(memberId);
  };

  const reloadPortal = async (memberId: string): Promise<void> => {
    await parts.portals.refresh(() => parts.portalsDoc.reload(memberId));
    if (!parts.portals.get(memberId)) forgetPortal(memberId);
  };

  const flushBatch = (): void => {
    timer = undefined;
    const callKeys = [...calls.values()];
    const ids = [...outboxIds];
    calls.clear();
    outboxIds.clear();
    if (callKeys.length > 0) track(parts.calls.reload(callKeys), 'call');
    if (ids.length > 0) track(parts.outbox.reload(ids), 'outbox');
  };

  const batch = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(flushBatch, BATCH_MS);
    timer.unref?.();
  };

  return {
    changed(change) {
      const { memberId } = change;
      switch (change.kind) {
        case 'portal':
          return track(reloadPortal(memberId).then(tell(change)), change.kind, memberId);
        case 'settings':
          return track(parts.settingsDocs.reload(memberId).then(() => parts.settings.forget(memberId)).then(tell(change)), change.kind, memberId);
        case 'bindings':
          return track(parts.bindingsDocs.reload(memberId).then(tell(change)), change.kind, memberId);
        case 'contact-sync':
          return track(parts.contactDocs.reload(memberId), change.kind, memberId);
        case 'missed-call-tasks':
          return track(parts.missedDocs.reload(memberId), change.kind, memberId);
        case 'link-mark':
          return track(parts.linkMarks.reload(memberId), change.kind, memberId);
        case 'call':
          if (change.key !== undefined) calls.set(`${memberId}\u0000${change.key}`, { memberId, key: change.key });
          return batch();
        case 'outbox':
          if (change.key !== undefined) outboxIds.add(change.key);
          return batch();
      }
    },

    async resync(since) {
      const ids = await parts.portals.refresh(() => parts.portalsDoc.reload());
      for (const memberId of ids) if (!parts.portals.get(memberId)) forgetPortal(memberId);
      await Promise.all([
        parts.settingsDocs.reloadAll(), parts.bindingsDocs.reloadAll(), parts.contactDocs.reloadAll(), parts.missedDocs.reloadAll(),
        parts.calls.reloadSince(since), parts.outbox.reload(undefined), parts.linkMarks.reload(),
      ]);
      for (const memberId of ids) parts.settings.forget(memberId);
    },

    onApplied: (listener) => void applied.push(listener),

    async settled() {
      while (running.size > 0 || timer !== undefined) {
        if (timer !== undefined) {
          clearTimeout(timer);
          flushBatch();
        }
        await Promise.all([...running]);
      }
    },
  };
}
