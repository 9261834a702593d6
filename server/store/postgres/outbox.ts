import type { PortalFences } from '../fences.js';
import { createOutboxIndex } from '../outbox-index.js';
import type { OutboxItem } from '../records.js';
import type { OutboxRepository } from '../types.js';
import { toNumber, type PgContext } from './db.js';

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
  /**
   * Replaces the portal's items in memory with the table's: what the former owner enqueued, sent and parked since
   * this instance loaded them (cluster/: a new owner resumes the portal's pending writes).
   */
  reloadPortal(memberId: string): Promise<void>;
  /**
   * Reads these items again (another instance wrote them), or all of them (`undefined`: after the LISTEN link was
   * down). Portals this instance owns are skipped: it is their only writer.
   */
  reload(ids: string[] | undefined): Promise<void>;
  /** Drops the portal's items from memory (another instance removed the portal). */
  forget(memberId: string): void;
}

/**
 * Outbox items as rows of the `outbox` table, loaded into memory at start (the Store's reads are synchronous: the
 * in-memory index is store/outbox-index.ts, shared with the file store) and written through before a write resolves. Each portal's versions reach the database in the order they were made.
 * Done items older than DONE_RETENTION_MS (store/outbox-index.ts) are dropped from memory and deleted from the table, as the file store's
 * compaction drops them; pending and failed items are never dropped. A restart resumes pending items (the worker
 * sends them again, keyed for idempotency) exactly as after a file-store restart.
 */
export function createPgOutboxRepository(ctx: PgContext, fences: PortalFences, now: () => number = Date.now): PgOutboxStore {
  const deleteExpired = (before: number): Promise<unknown> =>
    ctx.pool.query(`DELETE FROM outbox WHERE status = 'done' AND coalesce(done_at, 0) < $1`, [before]);

  const index = createOutboxIndex(fences, now, {
    save: (memberId, versions) => ctx.serial(`outbox\u0000${memberId}`, async () => {
      const result = await ctx.pool.query(UPSERT, [memberId, JSON.stringify(versions), ctx.epoch(memberId)]);
      const refused = ctx.refused(memberId, result.rowCount, versions.length);
      if (refused) throw refused;
    }),
    pruned: (before) => {
      void deleteExpired(before).catch(() => undefined);
    },
  });

  return {
    ...index.repository,

    async load() {
      await deleteExpired(index.cutoff());
      const { rows } = await ctx.pool.query<{ member_id: string; item: OutboxItem }>('SELECT member_id, item FROM outbox ORDER BY seq');
      for (const { member_id: memberId, item } of rows) index.load(memberId, item);
      const max = await ctx.pool.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM outbox');
      index.raiseSeq(toNumber(max.rows[0]?.seq ?? 0));
    },

    reloadPortal: (memberId) => ctx.serial(`outbox\u0000${memberId}`, async () => {
      const { rows } = await ctx.pool.query<{ item: OutboxItem; seq: string }>(
        'SELECT item, seq FROM outbox WHERE member_id = $1 ORDER BY seq', [memberId]);
      index.forget(memberId);
      for (const { item } of rows) index.load(memberId, item);
      // Items enqueued by other instances carry their sequence numbers: ours must follow them.
      index.raiseSeq(rows.reduce((max, r) => Math.max(max, toNumber(r.seq)), 0));
    }),

    async removePortal(portal) {
      await ctx.serial(`outbox\u0000${portal}`, () => ctx.pool.query('DELETE FROM outbox WHERE member_id = $1', [portal]));
      index.forget(portal);
    },

    async reload(ids) {
      if (ids?.length === 0) return;
      const { rows } = await ctx.pool.query<{ member_id: string; item: OutboxItem }>(
        'SELECT member_id, item FROM outbox WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY seq', [ids ?? null]);
      for (const { member_id: memberId, item } of rows) if (ctx.epoch(memberId) === null) index.load(memberId, item);
    },

    forget: (memberId) => index.forget(memberId),
  };
}
