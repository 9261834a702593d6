import type { PortalFences } from '../fences.js';
import { createCallIndex } from '../call-index.js';
import type { CallRecord } from '../records.js';
import type { CallsRepository } from '../types.js';
import type { PgContext } from './db.js';

/** One row per call; the columns the history is looked up by beside the whole record (jsonb). */
const UPSERT = `
  INSERT INTO calls (member_id, pbx_call_id, started_at, phase, b24_call_id, external, entity_type, entity_id, record, updated_at)
  SELECT $1::text, $2::text, $3::bigint, $4::text, $5::text, $6::text, $7::text, $8::bigint, $9::jsonb, $10::bigint
  WHERE portal_epoch_ok($1, $11)
  ON CONFLICT (member_id, pbx_call_id) DO UPDATE SET
    started_at = EXCLUDED.started_at, phase = EXCLUDED.phase, b24_call_id = EXCLUDED.b24_call_id,
    external = EXCLUDED.external, entity_type = EXCLUDED.entity_type, entity_id = EXCLUDED.entity_id,
    record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`;

export interface PgCallsStore extends CallsRepository {
  load(): Promise<void>;
  /** Replaces the portal's calls in memory with the table's (a new owner takes the portal over: cluster/). */
  reloadPortal(memberId: string): Promise<void>;
  /**
   * Reads these calls again (another instance wrote them), or every call changed since `since` (the database's
   * clock; after the LISTEN link was down). Portals this instance owns are skipped: it is their only writer, and its memory may hold
   * a write still on its way to the database.
   */
  reload(keys: { memberId: string; key: string }[]): Promise<void>;
  reloadSince(since: Date): Promise<void>;
  /** Drops the portal's calls from memory (another instance removed the portal). */
  forget(memberId: string): void;
}

/**
 * Call history in the `calls` table. The Store's reads are synchronous, so the rows are loaded into memory at start
 * with the same indexes as the file store (store/call-index.ts); put() writes the row
 * (guarded by the portal's lease epoch) before it resolves. Memory shows a write at once and is put back when the
 * database refuses it, as the file store does with its journal.
 */
export function createPgCallsRepository(ctx: PgContext, fences: PortalFences): PgCallsStore {
  const index = createCallIndex(fences, {
    save: (next) => ctx.serial(`calls\u0000${next.portal}`, async () => {
      const result = await ctx.pool.query(UPSERT, [
        next.portal, next.pbxCallId, next.startedAt, next.phase, next.b24CallId ?? null, next.external ?? null,
        next.crm?.entityType ?? null, next.crm?.entityId ?? null, JSON.stringify(next), next.updatedAt, ctx.epoch(next.portal),
      ]);
      const refused = ctx.refused(next.portal, result.rowCount, 1);
      if (refused) throw refused;
    }),
  });

  return {
    ...index.repository,

    async load() {
      // Oldest first: the time index is built by appending, not by inserting in the middle.
      const { rows } = await ctx.pool.query<{ member_id: string; record: CallRecord }>(
        'SELECT member_id, record FROM calls ORDER BY member_id, started_at, pbx_call_id');
      for (const { member_id: memberId, record } of rows) index.load(memberId, record);
    },

    reloadPortal: (memberId) => ctx.serial(`calls\u0000${memberId}`, async () => {
      const { rows } = await ctx.pool.query<{ record: CallRecord }>(
        'SELECT record FROM calls WHERE member_id = $1 ORDER BY started_at, pbx_call_id', [memberId]);
      index.forget(memberId);
      for (const { record } of rows) index.load(memberId, record);
    }),

    async removePortal(portal) {
      await ctx.serial(`calls\u0000${portal}`, () => ctx.pool.query('DELETE FROM calls WHERE member_id = $1', [portal]));
      index.forget(portal);
    },

    async reload(keys) {
      const wanted = keys.filter((k) => ctx.epoch(k.memberId) === null);
      if (wanted.length === 0) return;
      const { rows } = await ctx.pool.query<{ member_id: string; record: CallRecord }>(
        `SELECT c.member_id, c.record FROM calls c
         JOIN unnest($1::text[], $2::text[]) AS k(member_id, pbx_call_id) USING (member_id, pbx_call_id)`,
        [wanted.map((k) => k.memberId), wanted.map((k) => k.key)]);
      for (const { member_id: memberId, record } of rows) if (ctx.epoch(memberId) === null) index.load(memberId, record);
    },

    async reloadSince(since) {
      const { rows } = await ctx.pool.query<{ member_id: string; record: CallRecord }>(
        'SELECT member_id, record FROM calls WHERE changed_at >= $1 ORDER BY member_id, started_at, pbx_call_id', [since]);
      for (const { member_id: memberId, record } of rows) if (ctx.epoch(memberId) === null) index.load(memberId, record);
    },

    forget: (memberId) => index.forget(memberId),
  };
}
