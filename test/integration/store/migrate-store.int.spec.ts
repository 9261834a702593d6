import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../../server/store/postgres/migrate.js';
import type { StatusResponse } from '../../../contract/api-shapes.js';
import type { RunningServer } from '../../../server/index.js';
import { EMPTY_REPORT, expectEachLoggedOnce } from '../../support/calls.js';
import { captureLogs } from '../../support/log-capture.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { startProduct } from '../../support/product-options.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { runMigrateStore } from '../../support/migrate-store-script.js';

/**
 * npm run migrate-store -- --from file --to postgres, end to end: the real product fills a file store (three
 * portals, logged calls, and calls whose Bitrix24 writes are still pending in the outbox because Bitrix24 answers
 * 503), the server stops, the script copies DATA_DIR into a throwaway PostgreSQL database, and the product started
 * on that database shows the same call history and delivers the pending writes: every call logged exactly once.
 */

const METRICS_TOKEN = 'metrics-token-for-the-test';


describe('migrate-store: a file store moved into PostgreSQL through the real product', () => {
  let cluster: PgCluster;
  let stack: Stack;
  let onPostgres: RunningServer | undefined;
  const tenants: Tenant[] = [];

  beforeAll(async () => {
    cluster = await startPostgres();
    // Writes stay pending (not parked) for the whole Bitrix24 outage below.
    stack = await startStack({ env: { OUTBOX_MAX_ATTEMPTS: '1000' }, start: { outboxBackoff: () => 300 } });
    for (let n = 0; n < 3; n += 1) tenants.push(await stack.addTenant());
  }, 120_000);

  afterAll(async () => {
    await onPostgres?.close();
    await stack?.close();
    await cluster?.stop();
  });

  const call = async (n: number): Promise<string> => (await stack.pbx.scenario('inbound-answered', {
    from: `+1555020${String(1000 + n)}`, to: '1001', talkSeconds: 5, ringSeconds: 2, record: true, wait: true,
  })).callId;

  it('copies every portal, call and pending outbox item; the product on PostgreSQL delivers the pending ones exactly once', async () => {
    const logged = [await call(1), await call(2)];
    for (const t of tenants) expect(await expectEachLoggedOnce(stack.b24, t.memberId, logged, 30_000, 200)).toEqual(EMPTY_REPORT);

    // Bitrix24 down: the next calls' writes wait in the outbox of every portal.
    await stack.b24.setFault('*', { kind: 'http503' });
    const pendingCalls = [await call(3), await call(4)];
    const store = stack.server().services.store;
    await eventually(async () => tenants.every((t) => store.calls.get(t.memberId, pendingCalls[1] ?? '')?.phase === 'logged'), 20_000, 100);
    for (const t of tenants) expect(store.outbox.pending(t.memberId).length).toBeGreaterThan(0);
    const historyBefore = new Map(tenants.map((t) => [t.memberId, store.calls.listRecent(t.memberId, { limit: 100 }).map((c) => [c.pbxCallId, c.startedAt, c.external])]));
    const pendingBefore = new Map(tenants.map((t) => [t.memberId, store.outbox.pending(t.memberId).map((i) => i.id)]));
    await stack.stopServer();

    const url = await cluster.createDatabase('migrated');
    const env = { DATA_DIR: stack.dataDir, DATABASE_URL: url };
    const first = await runMigrateStore(env);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('portals: 3');
    const callsCopied = Number(/copied: .*calls (\d+)/.exec(first.out)?.[1]);
    expect(callsCopied).toBe(3 * 4);
    expect(Number(/copied: .*outbox (\d+)/.exec(first.out)?.[1])).toBeGreaterThan(0);

    // Idempotent: a second run finds everything in place and writes nothing.
    const again = await runMigrateStore(env);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/copied: portals 0, settings 0, bindings 0, calls 0, outbox 0/);
    expect(Number(/unchanged: .*calls (\d+)/.exec(again.out)?.[1])).toBe(3 * 4);

    // The product on PostgreSQL (same DATA_DIR for its key, same port), Bitrix24 back. (It starts delivering at once:
    // the history is compared by call, not by the CALL_IDs those deliveries add.)
    await stack.b24.setFault('*', null);
    onPostgres = await startProduct({ ...stack.config, databaseUrl: url, metricsToken: METRICS_TOKEN }, captureLogs().log, { outboxBackoff: () => 300 });
    const pgStore = onPostgres.services.store;
    expect(pgStore.database?.kind).toBe('postgres');
    for (const t of tenants) {
      expect(pgStore.calls.listRecent(t.memberId, { limit: 100 }).map((c) => [c.pbxCallId, c.startedAt, c.external])).toEqual(historyBefore.get(t.memberId));
      for (const id of pendingBefore.get(t.memberId) ?? []) expect(pgStore.outbox.get(id)).toBeDefined();
    }
    for (const t of tenants) {
      expect(await expectEachLoggedOnce(stack.b24, t.memberId, [...logged, ...pendingCalls], 30_000, 1_000)).toEqual(EMPTY_REPORT);
      // stack.api speaks to the stack's own server; this one was started here.
      const res = await fetch(`${onPostgres.url}/api/status`, { headers: { authorization: `Bearer ${t.adminToken}`, 'x-member-id': t.memberId } });
      const status = await res.json() as StatusResponse;
      expect(status.outbox).toMatchObject({ pending: 0, failed: 0 });
    }
    // A new call on PostgreSQL is logged too.
    const fresh = await call(5);
    for (const t of tenants) expect(await expectEachLoggedOnce(stack.b24, t.memberId, [fresh], 30_000, 200)).toEqual(EMPTY_REPORT);

    // While a server runs on DATA_DIR the script refuses (the DATA_DIR lock), before it reads anything.
    const running = await runMigrateStore(env);
    expect(running.code).toBe(1);
    expect(running.err).toMatch(/DATA_DIR|lock/i);

    // The database now holds newer states than DATA_DIR (the writes were delivered): a re-run refuses and writes
    // nothing, so the delivered writes are not made pending again.
    await onPostgres.close();
    onPostgres = undefined;
    const stale = await runMigrateStore(env);
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/conflicts: \d+/);
    expect(stale.err).toContain('nothing was written');
    onPostgres = await startProduct({ ...stack.config, databaseUrl: url, metricsToken: METRICS_TOKEN }, captureLogs().log, { outboxBackoff: () => 300 });
    for (const t of tenants) {
      expect(onPostgres.services.store.outbox.pending(t.memberId)).toEqual([]);
      expect(onPostgres.services.store.calls.count(t.memberId)).toBe(5);
    }
  }, 180_000);

  it('/healthz and /metrics report the database: reachable with its schema version, 503 (and 0) while it is down, back after', async () => {
    if (!onPostgres) throw new Error('the migration case runs first');
    const health = async (): Promise<{ status: number; body: { ok: boolean; store: string; database?: { reachable: boolean; schemaVersion?: number } } }> => {
      const res = await fetch(`${stack.config.publicUrl}/healthz`);
      return { status: res.status, body: await res.json() as never };
    };
    const metrics = async (): Promise<string> => (await fetch(`${stack.config.publicUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const up = await health();
    expect(up).toMatchObject({ status: 200, body: { ok: true, store: 'postgres', database: { reachable: true, schemaVersion: (await readMigrations()).at(-1)?.version } } });
    expect(await metrics()).toMatch(/^pbxb24_store_postgres 1$[\s\S]*^pbxb24_store_database_up 1$/m);
    await cluster.pause();
    const down = await health();
    expect(down).toMatchObject({ status: 503, body: { ok: false, store: 'postgres', database: { reachable: false } } });
    expect(await metrics()).toMatch(/^pbxb24_store_database_up 0$/m);
    await cluster.start();
    await eventually(async () => (await health()).status === 200, 15_000, 200);
  }, 60_000);
});
