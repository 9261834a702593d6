import { createLogger } from '../../server/log.js';
import { openPostgresStore } from '../../server/store/postgres/index.js';
import type { CallRecord } from '../../server/store/records.js';
import type { Store } from '../../server/store/types.js';
import { startPostgres } from '../../test/support/postgres.js';
import { HISTORY_PORTAL, storedCall, timeCallEventPuts } from '../lib/call-history-workload.js';
import { atMost, distribution, info, type ResultRow } from '../lib/stats.js';
import pg from 'pg';

/**
 * The PostgreSQL store with `stored` calls in its `calls` table (bulk-seeded), then the time to persist one call
 * event (`store.calls.put`, awaited: the row upserted and committed), on a throwaway cluster with fsync on (Debian
 * postgresql via test/support/postgres.ts; a local socket-free loopback TCP connection). Same workload and target as
 * the file store's history phase (bench/phases/history.ts), so the two rows compare.
 */
const KEY = 'b'.repeat(64);

/** 5,000 rows per statement, from one jsonb array: seeding is not what is measured. */
async function seed(url: string, stored: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let start = 0; start < stored; start += 5000) {
      const batch: CallRecord[] = [];
      for (let i = start; i < Math.min(stored, start + 5000); i += 1) batch.push(storedCall(i, 'logged'));
      await client.query(
        `INSERT INTO calls (member_id, pbx_call_id, started_at, phase, b24_call_id, external, entity_type, entity_id, record, updated_at)
         SELECT $1, r->>'pbxCallId', (r->>'startedAt')::bigint, r->>'phase', r->>'b24CallId', r->>'external',
                r->'crm'->>'entityType', (r->'crm'->>'entityId')::bigint, r, (r->>'updatedAt')::bigint
         FROM jsonb_array_elements($2::jsonb) AS r`, [HISTORY_PORTAL, JSON.stringify(batch)]);
    }
    await client.query('ANALYZE calls');
  } finally {
    await client.end();
  }
}

export async function measurePostgres(log: (line: string) => void, stored = 100_000): Promise<ResultRow[]> {
  const cluster = await startPostgres({ durable: true });
  let store: Store | undefined;
  try {
    const url = await cluster.createDatabase('bench');
    const quiet = createLogger('silent');
    await (await openPostgresStore({ databaseUrl: url, secretKey: KEY, log: quiet })).close();
    const s0 = performance.now();
    await seed(url, stored);
    const seedMs = performance.now() - s0;
    const t0 = performance.now();
    store = await openPostgresStore({ databaseUrl: url, secretKey: KEY, log: quiet });
    const loadMs = performance.now() - t0;
    const puts = await timeCallEventPuts(store.calls, stored);
    const d = distribution(puts);
    log(`postgres: seeded ${stored} calls in ${seedMs.toFixed(0)} ms; open (load) ${loadMs.toFixed(0)} ms; put p50 ${d.p50.toFixed(2)} p99 ${d.p99.toFixed(2)} max ${d.max.toFixed(2)}`);
    const section = `PostgreSQL store, ${stored.toLocaleString('en')} calls stored`;
    return [
      atMost(section, 'persist one call event p99 (committed, fsync on)', d.p99, 'ms', 20, `p50 ${d.p50.toFixed(2)}; 2000 puts; same workload and target as the file store's history row`),
      info(section, 'open store (load every call into memory)', loadMs, 'ms'),
    ];
  } finally {
    await store?.close().catch(() => undefined);
    await cluster.stop();
  }
}
