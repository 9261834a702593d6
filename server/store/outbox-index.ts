import { copyRecord, copyThroughIndex } from './copy.js';
import type { PortalFences } from './fences.js';
import type { OutboxItem } from './records.js';
import type { MemoryIndexBackend, OutboxRepository, PortalMemoryIndex } from './types.js';

/**
 * Done items are kept this long (their results feed `$ref`s of later items; their keys keep enqueue idempotent),
 * then dropped from memory and from what is stored. Pending and failed items are never dropped.
 */
export const DONE_RETENTION_MS = 24 * 60 * 60 * 1000;

/** After this many written versions, every portal's expired done items are dropped. */
const PRUNE_EVERY_WRITES = 1000;

/** One portal's outbox items in memory, indexed the ways the worker reads them. */
interface PortalOutbox {
  items: Map<string, OutboxItem>;
  pending: Map<string, OutboxItem>;
  failed: Map<string, OutboxItem>;
  byKey: Map<string, string>;
  /** pending() sorted by seq, rebuilt only after a change. */
  pendingSorted: OutboxItem[] | undefined;
  /**
   * Items whose first version is shown but not stored yet (its journal line not fdatasync'd, its row not committed):
   * pending() lists them, sendable() does not. A send before that could be followed by a crash that loses the item and
   * the call record that asked for it; the call, recovered from the PBX's history, would then be registered again.
   */
  unsaved: Set<string>;
}

/** Besides the write: what else a prune clears. */
export interface OutboxBackend extends MemoryIndexBackend {
  /** Writes one portal's new versions; a throw puts memory back as it was. */
  save(memberId: string, versions: OutboxItem[]): Promise<void>;
  /** Called after the periodic in-memory prune, with the cutoff used (the PostgreSQL store deletes those rows). */
  pruned?(before: number): void;
}

/** `live` drops the portal's expired done items first. */
export interface OutboxIndex extends PortalMemoryIndex<OutboxItem, OutboxRepository> {
  /** After a portal's journal is replayed: its expired done items are dropped (store/portal-journals.ts). */
  loaded(memberId: string): void;
  /** The oldest done time still kept. */
  cutoff(): number;
  /** Raises the sequence to at least `seq` (the PostgreSQL store reads the highest from its table). */
  raiseSeq(seq: number): void;
}

/**
 * The outbox in memory, shared by the file store (store/outbox.ts, replayed from its journal) and the PostgreSQL
 * store (store/postgres/outbox.ts, loaded from its table): items by id and key, each portal's pending items in seq
 * order, its failed items, the sequence, the done-item retention, and the write that shows new versions at once and
 * puts memory back when the backend refuses them. A fenced portal's items are held back from every worker read.
 */
export function createOutboxIndex(fences: PortalFences, now: () => number, backend: OutboxBackend): OutboxIndex {
  const portals = new Map<string, PortalOutbox>();
  const byId = new Map<string, OutboxItem>();
  let seq = 0;
  let writesSincePrune = 0;

  const cutoff = (): number => now() - DONE_RETENTION_MS;

  const stateFor = (memberId: string): PortalOutbox => {
    let state = portals.get(memberId);
    if (!state) {
      state = { items: new Map(), pending: new Map(), failed: new Map(), byKey: new Map(), pendingSorted: undefined, unsaved: new Set() };
      portals.set(memberId, state);
    }
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

  const dropExpired = (s: PortalOutbox, before: number): void => {
    for (const item of s.items.values()) {
      if (item.status === 'done' && (item.doneAt ?? item.createdAt) < before) reindex(s, item, undefined);
    }
  };

  const prune = (memberId: string): void => {
    const s = portals.get(memberId);
    if (s) dropExpired(s, cutoff());
  };

  /** Appends new versions for one portal; memory shows them at once and is put back if the backend refuses. */
  const persist = async (memberId: string, versions: OutboxItem[]): Promise<void> => {
    backend.refuse?.(memberId);
    const s = stateFor(memberId);
    const previous = versions.map((v) => s.items.get(v.id));
    const first = versions.filter((_, i) => previous[i] === undefined).map((v) => v.id);
    versions.forEach((v, i) => reindex(s, previous[i], v));
    for (const id of first) s.unsaved.add(id);
    try {
      await backend.save(memberId, versions);
    } catch (err) {
      for (let i = versions.length - 1; i >= 0; i -= 1) {
        const v = versions[i];
        if (v && s.items.get(v.id) === v) reindex(s, v, previous[i]);
      }
      throw err;
    } finally {
      for (const id of first) s.unsaved.delete(id);
    }
    writesSincePrune += versions.length;
    if (writesSincePrune > PRUNE_EVERY_WRITES) {
      writesSincePrune = 0;
      const before = cutoff();
      for (const state of portals.values()) dropExpired(state, before);
      backend.pruned?.(before);
    }
  };

  /** Each portal's versions (copied: callers keep theirs) written in one go, the portals side by side. */
  const writeMany = async (items: OutboxItem[]): Promise<void> => {
    const groups = new Map<string, OutboxItem[]>();
    for (const item of items) {
      const list = groups.get(item.portal) ?? [];
      list.push(copyRecord(item));
      groups.set(item.portal, list);
    }
    await Promise.all([...groups].map(([memberId, versions]) => persist(memberId, versions)));
  };

  const bySeq = (a: OutboxItem, b: OutboxItem): number => a.seq - b.seq;

  /** The portal's pending items in seq order (not copied; none of a fenced portal). */
  const pendingIn = (portal: string): OutboxItem[] => {
    const s = portals.get(portal);
    if (!s || fences.isFenced(portal)) return [];
    s.pendingSorted ??= [...s.pending.values()].sort(bySeq);
    return s.pendingSorted;
  };

  const repository: Omit<OutboxRepository, 'removePortal'> = {
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
      // What the caller handed in: the store keeps its own copies (writeMany), so these are the caller's to change.
      return fresh;
    },

    update: (item) => writeMany([item]),
    updateMany: (items) => writeMany(items),

    get: (id) => {
      const item = byId.get(id);
      return item ? copyRecord(item) : undefined;
    },

    getByKey: (portal, key) => {
      const s = portals.get(portal);
      return copyThroughIndex(s?.byKey, s?.items, key);
    },

    pending: (portal) => pendingIn(portal).map((i) => copyRecord(i)),

    sendable: (portal, skipGroups) => {
      const unsaved = portals.get(portal)?.unsaved;
      // Filtered before copying: a worker asks on every wake, and most pending items are in sends still out.
      return pendingIn(portal).filter((i) => !unsaved?.has(i.id) && !skipGroups?.has(i.group)).map((i) => copyRecord(i));
    },

    failed: (portal) => {
      const s = portals.get(portal);
      if (!s || fences.isFenced(portal)) return [];
      return [...s.failed.values()].sort(bySeq).map((i) => copyRecord(i));
    },

    undelivered: () => [...byId.values()]
      .filter((i) => !i.delivered && !fences.isFenced(i.portal) && ((i.status === 'done' && i.onDone) || (i.status === 'failed' && i.onFailed)))
      .sort(bySeq)
      .map((i) => copyRecord(i)),

    list: (portal) => [...(portals.get(portal)?.items.values() ?? [])].sort(bySeq).map((i) => copyRecord(i)),

    portalsWithPending: () => [...portals]
      .filter(([memberId, s]) => s.pending.size > 0 && !fences.isFenced(memberId)).map(([memberId]) => memberId),

    nextSeq: () => {
      seq += 1;
      return seq;
    },
  };

  return {
    repository,
    load(memberId, item) {
      item.portal = memberId;
      const s = stateFor(memberId);
      reindex(s, s.items.get(item.id), item);
    },
    live(memberId) {
      prune(memberId);
      return (portals.get(memberId)?.items ?? new Map<string, OutboxItem>()).values();
    },
    liveCount: (memberId) => portals.get(memberId)?.items.size ?? 0,
    loaded: prune,
    cutoff,
    raiseSeq(value) {
      seq = Math.max(seq, value);
    },
    forget(memberId) {
      const s = portals.get(memberId);
      portals.delete(memberId);
      for (const id of s?.items.keys() ?? []) byId.delete(id);
    },
  };
}
