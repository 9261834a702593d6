import { copyRecord } from '../copy.js';
import type { PortalFences } from '../fences.js';
import { emptyCallIndexes, entityKey, newestFirst, openKey, recentCalls, reindexCall, type CallIndexes } from '../call-index.js';
import type { CallRecord } from '../records.js';
import type { CallsRepository } from '../types.js';
import type { PgContext } from './db.js';

const DEFAULT_PAGE = 50;

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
}

/**
 * Call history in the `calls` table. The Store's reads are synchronous, so the rows are loaded into memory at start
 * with the same indexes as the file store (store/call-index.ts); put() writes the row
 * (guarded by the portal's lease epoch) before it resolves. Memory shows a write at once and is put back when the
 * database refuses it, as the file store does with its journal.
 */
export function createPgCallsRepository(ctx: PgContext, fences: PortalFences): PgCallsStore {
  const portals = new Map<string, CallIndexes>();
  const open = new Map<string, CallRecord>();

  const stateFor = (memberId: string): CallIndexes => {
    let state = portals.get(memberId);
    if (!state) portals.set(memberId, (state = emptyCallIndexes()));
    return state;
  };
  const reindex = (s: CallIndexes, id: string, prev: CallRecord | undefined, next: CallRecord | undefined): void => reindexCall(s, open, id, prev, next);

  return {
    async load() {
      // Oldest first: the time index is built by appending, not by inserting in the middle.
      const { rows } = await ctx.pool.query<{ member_id: string; record: CallRecord }>(
        'SELECT member_id, record FROM calls ORDER BY member_id, started_at, pbx_call_id');
      for (const { member_id: memberId, record } of rows) {
        record.portal = memberId;
        const s = stateFor(memberId);
        reindex(s, record.pbxCallId, s.byId.get(record.pbxCallId), record);
      }
    },

    get: (portal, pbxCallId) => {
      const r = portals.get(portal)?.byId.get(pbxCallId);
      return r ? copyRecord(r) : undefined;
    },

    getByB24CallId: (portal, b24CallId) => {
      const s = portals.get(portal);
      const id = s?.byB24.get(b24CallId);
      const r = id === undefined ? undefined : s?.byId.get(id);
      return r ? copyRecord(r) : undefined;
    },

    async put(record) {
      const next = copyRecord(record);
      const s = stateFor(next.portal);
      const prev = s.byId.get(next.pbxCallId);
      reindex(s, next.pbxCallId, prev, next);
      try {
        await ctx.serial(`calls\u0000${next.portal}`, async () => {
          const result = await ctx.pool.query(UPSERT, [
            next.portal, next.pbxCallId, next.startedAt, next.phase, next.b24CallId ?? null, next.external ?? null,
            next.crm?.entityType ?? null, next.crm?.entityId ?? null, JSON.stringify(next), next.updatedAt, ctx.epoch(next.portal),
          ]);
          const refused = ctx.refused(next.portal, result.rowCount, 1);
          if (refused) throw refused;
        });
      } catch (err) {
        if (s.byId.get(next.pbxCallId) === next) reindex(s, next.pbxCallId, next, prev);
        throw err;
      }
    },

    listByEntity: (portal, entityType, entityId, opts) => {
      const s = portals.get(portal);
      return newestFirst(s, s?.byEntity.get(entityKey(entityType, entityId)), opts?.limit ?? DEFAULT_PAGE, opts?.before);
    },

    listByPhone: (portal, e164, opts) => {
      const s = portals.get(portal);
      return newestFirst(s, s?.byPhone.get(e164), opts?.limit ?? DEFAULT_PAGE);
    },

    listRecent: (portal, opts) => recentCalls(portals.get(portal), opts?.limit ?? DEFAULT_PAGE, opts?.before),

    listOpen: () => [...open.values()].filter((r) => !fences.isFenced(r.portal)).map((r) => copyRecord(r)),

    count: (portal) => portals.get(portal)?.byId.size ?? 0,

    async removePortal(portal) {
      await ctx.serial(`calls\u0000${portal}`, () => ctx.pool.query('DELETE FROM calls WHERE member_id = $1', [portal]));
      const s = portals.get(portal);
      portals.delete(portal);
      for (const r of s?.byId.values() ?? []) open.delete(openKey(r));
    },
  };
}
