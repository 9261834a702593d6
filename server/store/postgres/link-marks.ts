import { createDebouncedWrite } from '../../debounced-write.js';
import type { Logger } from '../../log.js';
import type { LinkMarksStore } from '../types.js';
import type { PgContext } from './db.js';

/**
 * The PBX supervisor's coverage marks in `pbx_link_marks` (the file store keeps them in DATA_DIR/pbx-links.json,
 * pbx/link-state.ts): the time up to which each portal's link heard everything. Changes are debounced as in the
 * file version (a mark only ever moves forward; a lost last second is recovered from the PBX's call history) and
 * each write is guarded by the portal's lease epoch. The legacy webhook key never lived in the database.
 */
export interface PgLinkMarks extends LinkMarksStore {
  /** Reads the portal's mark again (another instance moved it), or every mark; a mark only moves forward. */
  reload(memberId?: string): Promise<void>;
}

export function createPgLinkMarks(ctx: PgContext, log: Logger, debounceMs = 1_000): PgLinkMarks {
  const marks = new Map<string, number>();
  const dirty = new Set<string>();
  const forgotten = new Set<string>();
  let writing: Promise<void> = Promise.resolve();

  const write = async (): Promise<void> => {
    const changed = [...dirty];
    const gone = [...forgotten];
    dirty.clear();
    forgotten.clear();
    for (const memberId of changed) {
      const at = marks.get(memberId);
      if (at === undefined) continue;
      const result = await ctx.pool.query(
        `INSERT INTO pbx_link_marks (member_id, covered_until) SELECT $1::text, $2::bigint WHERE portal_epoch_ok($1, $3)
         ON CONFLICT (member_id) DO UPDATE SET covered_until = greatest(pbx_link_marks.covered_until, EXCLUDED.covered_until)`,
        [memberId, at, ctx.epoch(memberId)]);
      if (ctx.refused(memberId, result.rowCount, 1)) log.warn({ portal: memberId }, 'link mark not written: this instance no longer owns the portal');
    }
    for (const memberId of gone) await ctx.pool.query('DELETE FROM pbx_link_marks WHERE member_id = $1', [memberId]);
  };

  const flushNow = (): Promise<void> => {
    const run = writing.then(write);
    writing = run.catch((err: unknown) => {
      log.warn({ err }, 'PBX link marks could not be written to the database; retried with the next change');
    });
    return run;
  };
  const debounced = createDebouncedWrite(debounceMs, () => flushNow().catch(() => undefined));

  return {
    async load() {
      const { rows } = await ctx.pool.query<{ member_id: string; covered_until: string }>('SELECT member_id, covered_until FROM pbx_link_marks');
      for (const row of rows) marks.set(row.member_id, Number(row.covered_until));
    },
    async reload(memberId) {
      const { rows } = await ctx.pool.query<{ member_id: string; covered_until: string }>(
        'SELECT member_id, covered_until FROM pbx_link_marks WHERE $1::text IS NULL OR member_id = $1', [memberId ?? null]);
      for (const row of rows) marks.set(row.member_id, Math.max(marks.get(row.member_id) ?? 0, Number(row.covered_until)));
    },
    coveredUntil: (memberId) => marks.get(memberId),
    setCoveredUntil(memberId, at) {
      if (at <= (marks.get(memberId) ?? 0)) return;
      marks.set(memberId, at);
      forgotten.delete(memberId);
      dirty.add(memberId);
      debounced.request();
    },
    forget(memberId) {
      marks.delete(memberId);
      dirty.delete(memberId);
      forgotten.add(memberId);
      void flushNow().catch(() => undefined);
    },
    marksLost: () => false,
    legacyWebhookKey: () => undefined,
    dropLegacyWebhookKey: () => undefined,
    async flush() {
      debounced.cancel();
      await flushNow();
    },
  };
}
