import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { openStore } from '../../../server/store/index.js';
import { openPostgresStore } from '../../../server/store/postgres/index.js';
import { readMigrations } from '../../../server/store/postgres/migrate.js';
import type { Store } from '../../../server/store/types.js';
import { postgresForThisFile } from '../../support/postgres-for-file.js';
import { queryRows as sql } from '../../support/postgres.js';
import { captureLog, makeCall, makePortal, TEST_KEY } from '../../unit/store/helpers.js';

/** What only the PostgreSQL store has: migrations under a lock, the lease-epoch fence, DATABASE_URL validation. */

const cluster = postgresForThisFile();

const open = (url: string): Promise<Store> => openPostgresStore({ databaseUrl: url, secretKey: TEST_KEY, log: captureLog().log });

describe('PostgreSQL store', () => {
  it('migrates once when several instances start together on an empty database, and again is a no-op', async () => {
    const url = await cluster.createDatabase();
    const stores = await Promise.all([open(url), open(url), open(url), open(url)]);
    await stores[0]?.portals.put(makePortal('m1'));
    await Promise.all(stores.map((s) => s.close()));
    const again = await open(url);
    expect(again.portals.get('m1')?.accessToken).toBe('access-m1-SECRET2');
    await again.close();
    const known = (await readMigrations()).map((m) => ({ version: m.version, name: m.name }));
    expect(known[0]).toEqual({ version: 1, name: 'initial' });
    expect(await sql<{ version: number; name: string }>(url, 'SELECT version, name FROM schema_migrations ORDER BY version')).toEqual(known);
  }, 60_000);

  it('refuses a database whose schema is newer than this release, naming the versions', async () => {
    const url = await cluster.createDatabase();
    await (await open(url)).close();
    await sql(url, `INSERT INTO schema_migrations (version, name) VALUES (99, 'from-the-future')`);
    await expect(open(url)).rejects.toThrow(/STORE_SCHEMA_NEWER|version 99/);
  }, 60_000);

  it('says which database it could not reach, without its password', async () => {
    const url = `postgres://postgres:pw-SECRET9@127.0.0.1:${cluster.port}/no_such_database`;
    const failure = await open(url).then(() => undefined, (err: unknown) => err);
    expect(String(failure)).toMatch(/STORE_UNAVAILABLE|no_such_database/);
    expect(String(failure)).not.toContain('pw-SECRET9');
  }, 60_000);

  it('fences an owner whose lease epoch is no longer current: its call and outbox writes are refused and change nothing', async () => {
    const url = await cluster.createDatabase();
    const owner = await open(url);
    await sql(url, `INSERT INTO portal_leases (member_id, owner, epoch, expires_at) VALUES ('m1', 'a', 1, now() + interval '15 seconds')`);
    owner.database?.setEpoch('m1', 1);
    await owner.calls.put(makeCall('m1', 'c1', { talkSeconds: 1 }));
    // Another instance takes the portal over (epoch 2); the old owner wakes up and tries to write.
    await sql(url, `UPDATE portal_leases SET owner = 'b', epoch = 2 WHERE member_id = 'm1'`);
    await expect(owner.calls.put(makeCall('m1', 'c1', { talkSeconds: 99 }))).rejects.toThrow(/PORTAL_LEASE_LOST|no longer owns/);
    expect(owner.calls.get('m1', 'c1')?.talkSeconds).toBe(1);
    const item = { id: 'i1', portal: 'm1', group: 'g', seq: owner.outbox.nextSeq(), method: 'x', params: {}, status: 'pending' as const, attempts: 0, nextAttemptAt: 0, createdAt: 1 };
    await expect(owner.outbox.append([item])).rejects.toThrow(/PORTAL_LEASE_LOST/);
    expect(owner.outbox.pending('m1')).toEqual([]);
    await expect(owner.contactSync.put({ portal: 'm1', entityType: 'CONTACT', entityId: 1, phonebookId: 'p', state: 'synced', updatedAt: 1 })).rejects.toThrow(/PORTAL_LEASE_LOST/);
    // Another portal of the same instance, not fenced, is written as usual.
    await owner.calls.put(makeCall('m2', 'c1'));
    expect(await sql<{ talk: number }>(url, `SELECT (record->>'talkSeconds')::int AS talk FROM calls WHERE member_id = 'm1'`)).toEqual([{ talk: 1 }]);
    expect(await sql(url, 'SELECT id FROM outbox')).toEqual([]);
    // With the current epoch the writes land again.
    owner.database?.setEpoch('m1', 2);
    await owner.calls.put(makeCall('m1', 'c1', { talkSeconds: 7 }));
    await owner.outbox.append([item]);
    await owner.close();
    const reopened = await open(url);
    expect(reopened.calls.get('m1', 'c1')?.talkSeconds).toBe(7);
    expect(reopened.outbox.pending('m1').map((i) => i.id)).toEqual(['i1']);
    await reopened.close();
  }, 60_000);

  it('a portal whose sealed PBX secret does not open is fenced (others served); the repair starts its settings afresh', async () => {
    const url = await cluster.createDatabase();
    const first = await open(url);
    for (const m of ['m1', 'm2']) {
      await first.portals.put(makePortal(m));
      await first.settings.put(m, { ...first.settings.get(m), enabled: true, pbx: { baseUrl: 'https://pbx.test', clientId: 'c', clientSecret: 's', events: 'websocket', webhookSecret: 'w' } });
    }
    await first.close();
    // Damage one sealed value in the database (a bad restore, a hand edit).
    await sql(url, `UPDATE portal_settings SET settings = jsonb_set(settings, '{pbx,clientSecret}', '"enc:v1:AAAA:BBBB:CCCC"') WHERE member_id = 'm1'`);
    const store = await open(url);
    expect(store.fences.has('m1', 'settings.json')).toBe(true);
    expect(store.settings.get('m1').enabled).toBe(false);
    expect(store.settings.get('m2').pbx?.clientSecret).toBe('s');
    const repaired = await store.repairPortal('m1');
    expect(repaired.repaired.map((r) => r.file)).toEqual(['settings.json']);
    expect(store.fences.isFenced('m1')).toBe(false);
    await store.settings.put('m1', { ...store.settings.get('m1'), defaultCountry: 'DE' });
    await store.close();
    const reopened = await open(url);
    expect(reopened.fences.isFenced('m1')).toBe(false);
    expect(reopened.settings.get('m1').defaultCountry).toBe('DE');
    await reopened.close();
  }, 60_000);

  it('openStore picks the store by DATABASE_URL; a malformed DATABASE_URL is a clear config error', async () => {
    const url = await cluster.createDatabase();
    const config = loadConfig({ DATABASE_URL: url });
    expect(config.databaseUrl).toBe(url);
    const store = await openStore({ dataDir: '/nonexistent', secretKey: TEST_KEY, log: captureLog().log, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
    expect(store.database?.kind).toBe('postgres');
    expect(await store.database?.check()).toEqual({ reachable: true, schemaVersion: (await readMigrations()).at(-1)?.version });
    await store.close();
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).toBeUndefined();
    expect(loadConfig({}).databaseUrl).toBeUndefined();
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:p@h/db' })).toThrow(/CONFIG_INVALID: DATABASE_URL/);
  }, 60_000);
});
