import { copyRecord } from '../copy.js';
import type { PortalFences } from '../fences.js';
import { DONE_RETENTION_MS } from '../outbox.js';
import type { OutboxItem } from '../records.js';
import type { OutboxRepository } from '../types.js';
import { toNumber, type PgContext } from './db.js';

interface PortalOutbox {
  items: Map<string, OutboxItem>;
  pending: Map<string, OutboxItem>;
  failed: Map<string, OutboxItem>;
  byKey: Map<string, string>;
  pendingSorted: OutboxItem[] | undefined;
}

/**
 * Every version of a portal's items in one statement: rows from a jsonb array, all guarded by the portal's lease
 * epoch (a refused guard writes none of them).
 */
const UPSERT = `
  INSERT INTO outbox (id, member_id, grp, seq, key, status, next_attempt_at, done_at, delivered, item)
  SELECT v->>'id', $1::text, v->>'group', (v->>'seq')::bigint, v->>'key', v->>'status', (v->>'nextAttemptAt')::bigint,
         (v->>'doneAt')::bigint, coalesce((v->>'delivered')::boolean, false), v
  FROM jsonb_array_elements($2::jsonb) AS v
  WHERE portal_epoch_ok($1, $3)
  ON CONFLICT (id) DO UPDATE SET
    grp = EXCLUDED.grp, seq = EXCLUDED.seq, key = EXCLUDED.key, status = EXCLUDED.status,
    next_attempt_at = EXCLUDED.next_attempt_at, done_at = EXCLUDED.done_at, delivered = EXCLUDED.delivered, item = EXCLUDED.item`;

export interface PgOutboxStore extends OutboxRepository {
  load(): Promise<void>;
}

/**
 * Outbox items as rows of the `outbox` table, loaded into memory at start (the Store's reads are synchronous) and
 * written through before a write resolves. Each portal's versions reach the database in the order they were made.
 * Done items older than DONE_RETENTION_MS are dropped from memory and deleted from the table, as the file store's
 * compaction drops them; pending and failed items are never dropped. A restart resumes pending items (the worker
 * sends them again, keyed for idempotency) exactly as after a file-store restart.
 */
export function createPgOutboxRepository(ctx: PgContext, fences: PortalFences, now: () => number = Date.now): PgOutboxStore {
  const portals = new Map<string, PortalOutbox>();
  const byId = new Map<string, OutboxItem>();
  let seq = 0;
  let writesSincePrune = 0;

  const stateFor = (memberId: string): PortalOutbox => {
    let state = portals.get(memberId);
    if (!state) {
      state = { items: new Map(), pending: new Map(), failed: new Map(), byKey: new Map(), pendingSorted: undefined };
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

  const cutoff = (): number => now() - DONE_RETENTION_MS;

  const prune = (): void => {
    const before = cutoff();
    for (const s of portals.values()) {
      for (const item of s.items.values()) {
        if (item.status === 'done' && (item.doneAt ?? item.createdAt) < before) reindex(s, item, undefined);
      }
    }
    void ctx.pool.query(`DELETE FROM outbox WHERE status = 'done' AND coalesce(done_at, 0) < $1`, [before]).catch(() => undefined);
  };

  const persist = async (memberId: string, versions: OutboxItem[]): Promise<void> => {
    const s = stateFor(memberId);
    const previous = versions.map((v) => s.items.get(v.id));
    versions.forEach((v, i) => reindex(s, previous[i], v));
    try {
      await ctx.serial(`outbox\u0000${memberId}`, async () => {
        const result = await ctx.pool.query(UPSERT, [memberId, JSON.stringify(versions), ctx.epoch(memberId)]);
        const refused = ctx.refused(memberId, result.rowCount, versions.length);
        if (refused) throw refused;
      });
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
      prune();
    }
  };

  const writeMany = async (items: OutboxItem[]): Promise<void> => {
    const groups = new Map<string, OutboxItem[]>();
    for (const item of items) {
      const list = groups.get(item.portal) ?? [];
      list.push(copyRecord(item));
      groups.set(item.portal, list);
    }
    await Promise.all([...groups].map(([memberId, versions]) => persist(memberId, versions)));
  };

  return {
    async load() {
      await ctx.pool.query(`DELETE FROM outbox WHERE status = 'done' AND coalesce(done_at, 0) < $1`, [cutoff()]);
      const { rows } = await ctx.pool.query<{ member_id: string; item: OutboxItem }>('SELECT member_id, item FROM outbox ORDER BY seq');
      for (const { member_id: memberId, item } of rows) {
        item.portal = memberId;
        const s = stateFor(memberId);
        reindex(s, s.items.get(item.id), item);
      }
      const max = await ctx.pool.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM outbox');
      seq = Math.max(seq, toNumber(max.rows[0]?.seq ?? 0));
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

    list: (portal) => [...(portals.get(portal)?.items.values() ?? [])].sort((a, b) => a.seq - b.seq).map((i) => copyRecord(i)),

    portalsWithPending: () => [...portals]
      .filter(([memberId, s]) => s.pending.size > 0 && !fences.isFenced(memberId)).map(([memberId]) => memberId),

    async removePortal(portal) {
      await ctx.serial(`outbox\u0000${portal}`, () => ctx.pool.query('DELETE FROM outbox WHERE member_id = $1', [portal]));
      const s = portals.get(portal);
      portals.delete(portal);
      for (const id of s?.items.keys() ?? []) byId.delete(id);
    },

    nextSeq: () => {
      seq += 1;
      return seq;
    },
  };
}
