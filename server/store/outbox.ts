import type { Logger } from '../log.js';
import type { PortalFences } from './fences.js';
import type { StoreFs } from './fs.js';
import { copyRecord } from './copy.js';
import { Journal, readJournal } from './journal.js';
import type { StoreLayout } from './layout.js';
import { moveAside, unreadableReason } from './portal-documents.js';
import type { OutboxItem } from './records.js';
import type { OutboxRepository } from './types.js';

/**
 * Done items are kept this long (their results feed `$ref`s of later items; their keys keep enqueue idempotent),
 * then dropped from memory and, at the next compaction, from the file. Pending and failed items are never dropped.
 */
export const DONE_RETENTION_MS = 24 * 60 * 60 * 1000;

interface PortalOutbox {
  journal: Journal;
  items: Map<string, OutboxItem>;
  pending: Map<string, OutboxItem>;
  failed: Map<string, OutboxItem>;
  byKey: Map<string, string>;
  /** pending() sorted by seq, rebuilt only after a change. */
  pendingSorted: OutboxItem[] | undefined;
}

export interface OutboxStore extends OutboxRepository {
  load(memberId: string): Promise<void>;
  /** Repair: the unreadable journal is moved aside and the portal's outbox starts empty. Returns the kept name. */
  startAfresh(memberId: string, at: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Outbox items: one append-only journal per portal (outbox.jsonl); each line the full new version of one item.
 * A fenced portal's items are held back (pending/failed/undelivered do not show them, so no worker sends them)
 * until its repair; an unreadable outbox.jsonl fences its portal and is never appended to (store/fences.ts).
 */
export function createOutboxRepository(
  fs: StoreFs, layout: StoreLayout, log: Logger, fences: PortalFences, now: () => number = Date.now,
): OutboxStore {
  const portals = new Map<string, PortalOutbox>();
  const byId = new Map<string, OutboxItem>();
  let seq = 0;
  let writesSincePrune = 0;

  const expired = (item: OutboxItem, at: number): boolean =>
    item.status === 'done' && (item.doneAt ?? item.createdAt) < at - DONE_RETENTION_MS;

  const stateFor = (memberId: string): PortalOutbox => {
    let state = portals.get(memberId);
    if (state) return state;
    const items = new Map<string, OutboxItem>();
    const journal = new Journal({
      fs, log, kind: 'outbox', portal: memberId, file: layout.portalFile(memberId, 'outbox.jsonl'),
      live: () => {
        prune(memberId);
        return items.values();
      },
      liveCount: () => items.size,
    });
    state = { journal, items, pending: new Map(), failed: new Map(), byKey: new Map(), pendingSorted: undefined };
    portals.set(memberId, state);
    return state;
  };

  const reindex = (s: PortalOutbox, prev: OutboxItem | undefined, next: OutboxItem | undefined): void => {
    const item = next ?? prev;
    if (!item) return;
    if (next) {
      s.items.set(item.id, next);
      byId.set(item.id, next);
    } else {
      s.items.delete(item.id);
      byId.delete(item.id);
    }
    if (prev?.key && prev.key !== next?.key && s.byKey.get(prev.key) === item.id) s.byKey.delete(prev.key);
    if (next?.key) s.byKey.set(next.key, item.id);
    s.pending.delete(item.id);
    s.failed.delete(item.id);
    if (next?.status === 'pending') s.pending.set(item.id, next);
    if (next?.status === 'failed') s.failed.set(item.id, next);
    s.pendingSorted = undefined;
    if (next && next.seq > seq) seq = next.seq;
  };

  function prune(memberId: string): void {
    const s = portals.get(memberId);
    if (!s) return;
    const at = now();
    for (const item of s.items.values()) if (expired(item, at)) reindex(s, item, undefined);
  }

  /** Appends new versions for one portal; memory shows them at once and is put back if the disk refuses. */
  const persist = async (memberId: string, versions: OutboxItem[]): Promise<void> => {
    if (fences.has(memberId, 'outbox.jsonl')) throw fences.refuse(memberId, 'outbox.jsonl');
    const s = stateFor(memberId);
    const previous = versions.map((v) => s.items.get(v.id));
    versions.forEach((v, i) => reindex(s, previous[i], v));
    try {
      await s.journal.append(versions);
    } catch (err) {
      for (let i = versions.length - 1; i >= 0; i -= 1) {
        const v = versions[i];
        if (v && s.items.get(v.id) === v) reindex(s, v, previous[i]);
      }
      throw err;
    }
    writesSincePrune += versions.length;
    if (writesSincePrune > 1000) {
      writesSincePrune = 0;
      for (const memberId of portals.keys()) prune(memberId);
    }
  };

  const byPortal = (items: OutboxItem[]): Map<string, OutboxItem[]> => {
    const groups = new Map<string, OutboxItem[]>();
    for (const item of items) {
      const list = groups.get(item.portal) ?? [];
      list.push(copyRecord(item));
      groups.set(item.portal, list);
    }
    return groups;
  };

  const writeMany = async (items: OutboxItem[]): Promise<void> => {
    await Promise.all([...byPortal(items)].map(([memberId, versions]) => persist(memberId, versions)));
  };

  const forgetPortal = async (memberId: string): Promise<void> => {
    const s = portals.get(memberId);
    portals.delete(memberId);
    if (!s) return;
    await s.journal.close();
    for (const id of s.items.keys()) byId.delete(id);
  };

  const load = async (memberId: string): Promise<void> => {
    const file = layout.portalFile(memberId, 'outbox.jsonl');
    const s = stateFor(memberId);
    let loaded;
    try {
      loaded = await readJournal(fs, file, 'outbox', log, (raw) => {
        const item = raw as unknown as OutboxItem;
        if (typeof item.id !== 'string') return;
        item.portal = memberId;
        reindex(s, s.items.get(item.id), item);
      });
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      await forgetPortal(memberId);
      log.error({ portal: memberId, file, err }, `PORTAL_FENCED: outbox.jsonl of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      fences.add(memberId, { file: 'outbox.jsonl', repair: 'repair', reason });
      return;
    }
    s.journal.countExisting(loaded.lines);
    prune(memberId);
    if (loaded.migrated && loaded.lines > 0) await s.journal.rewrite();
  };

  return {
    load,

    async startAfresh(memberId, at) {
      await forgetPortal(memberId);
      const file = layout.portalFile(memberId, 'outbox.jsonl');
      await moveAside(fs, file, `${file}.corrupt-${at}`);
      fences.lift(memberId, 'outbox.jsonl');
      await load(memberId);
      return `outbox.jsonl.corrupt-${at}`;
    },

    async append(items) {
      const fresh: OutboxItem[] = [];
      const claimed = new Set<string>();
      for (const item of items) {
        if (item.key !== undefined) {
          const claim = `${item.portal}\u0000${item.key}`;
          if (portals.get(item.portal)?.byKey.has(item.key) || claimed.has(claim)) continue;
          claimed.add(claim);
        }
        fresh.push(item);
      }
      await writeMany(fresh);
      return fresh.map((i) => copyRecord(i));
    },

    update: (item) => writeMany([item]),
    updateMany: (items) => writeMany(items),

    get: (id) => {
      const item = byId.get(id);
      return item ? copyRecord(item) : undefined;
    },

    getByKey: (portal, key) => {
      const s = portals.get(portal);
      const id = s?.byKey.get(key);
      const item = id === undefined ? undefined : s?.items.get(id);
      return item ? copyRecord(item) : undefined;
    },

    pending: (portal) => {
      const s = portals.get(portal);
      if (!s || fences.isFenced(portal)) return [];
      s.pendingSorted ??= [...s.pending.values()].sort((a, b) => a.seq - b.seq);
      return s.pendingSorted.map((i) => copyRecord(i));
    },

    failed: (portal) => {
      const s = portals.get(portal);
      if (!s || fences.isFenced(portal)) return [];
      return [...s.failed.values()].sort((a, b) => a.seq - b.seq).map((i) => copyRecord(i));
    },

    undelivered: () => [...byId.values()]
      .filter((i) => !i.delivered && !fences.isFenced(i.portal) && ((i.status === 'done' && i.onDone) || (i.status === 'failed' && i.onFailed)))
      .sort((a, b) => a.seq - b.seq)
      .map((i) => copyRecord(i)),

    list: (portal) => [...(portals.get(portal)?.items.values() ?? [])].sort((a, b) => a.seq - b.seq).map((i) => structuredClone(i)),

    portalsWithPending: () => [...portals]
      .filter(([memberId, s]) => s.pending.size > 0 && !fences.isFenced(memberId)).map(([memberId]) => memberId),

    async removePortal(portal) {
      await forgetPortal(portal);
      // rm, not unlink: a fenced portal's unreadable journal may be a directory (uninstall with CLEAN still removes it).
      await fs.rm(layout.portalFile(portal, 'outbox.jsonl'));
      fences.lift(portal, 'outbox.jsonl');
    },

    nextSeq: () => {
      seq += 1;
      return seq;
    },

    async close() {
      await Promise.all([...portals.values()].map((s) => s.journal.close()));
    },
  };
}
