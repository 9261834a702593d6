import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../../server/store/postgres/index.js';
import type { Store } from '../../../server/store/types.js';
import { eventually } from '../foundation/server-under-test.js';
import { postgresForThisFile } from '../../support/postgres-for-file.js';
import { captureLog, makeCall, makePortal, TEST_KEY } from '../../unit/store/helpers.js';

/**
 * Two PostgreSQL stores on one database, as two instances hold them: each keeps every record in memory, so what one
 * writes must reach the other's memory through NOTIFY store_changed (server/store/postgres/notify.ts), including what was
 * written while the other's LISTEN link was down.
 */

const cluster = postgresForThisFile();

const logs: string[][] = [];
const open = (url: string, instanceId: string): Promise<Store> => {
  const capture = captureLog();
  logs.push(capture.lines);
  return openPostgresStore({ databaseUrl: url, secretKey: TEST_KEY, log: capture.log, instanceId, listenBackoff: { initialMs: 50, maxMs: 200 } });
};

describe('store coherence between instances', () => {
  it('shows one instance every kind of record another wrote, and a portal another removed is gone from it too', async () => {
    const url = await cluster.createDatabase();
    const a = await open(url, 'instance-a');
    const b = await open(url, 'instance-b');
    try {
      await a.portals.put(makePortal('m1'));
      await eventually(() => b.portals.get('m1')?.accessToken === 'access-m1-SECRET2', 10_000);

      await a.settings.put('m1', { ...a.settings.get('m1'), enabled: true, defaultCountry: 'DE' });
      await a.bindings.replace('m1', [{ userId: 7, extension: '1007', source: 'manual' }]);
      await a.calls.put(makeCall('m1', 'c1', { talkSeconds: 11 }));
      await a.contactSync.put({ portal: 'm1', entityType: 'CONTACT', entityId: 5, phonebookId: 'p', state: 'synced', updatedAt: 1 });
      const item = { id: 'i1', portal: 'm1', group: 'g', seq: a.outbox.nextSeq(), method: 'x', params: {}, status: 'pending' as const, attempts: 0, nextAttemptAt: 0, createdAt: 1 };
      await a.outbox.append([item]);
      await eventually(() => b.settings.get('m1').defaultCountry === 'DE'
        && b.bindings.userForExtension('m1', '1007') === 7
        && b.calls.get('m1', 'c1')?.talkSeconds === 11
        && b.contactSync.get('m1', 'CONTACT', 5)?.state === 'synced'
        && b.outbox.get('i1')?.status === 'pending', 10_000);
      expect(b.calls.listRecent('m1').map((c) => c.pbxCallId)).toEqual(['c1']);

      // A later version replaces the earlier one in the other's memory (the call moved on, the token rotated).
      await a.calls.put(makeCall('m1', 'c1', { talkSeconds: 42 }));
      await a.portals.update('m1', { accessToken: 'rotated-by-a' });
      await a.outbox.update({ ...item, status: 'done', doneAt: 2 });
      await eventually(() => b.calls.get('m1', 'c1')?.talkSeconds === 42 && b.portals.get('m1')?.accessToken === 'rotated-by-a'
        && b.outbox.get('i1')?.status === 'done', 10_000);

      // A write of B reaches A as well (both directions), and neither reverts its own newer write.
      await b.settings.put('m1', { ...b.settings.get('m1'), defaultCountry: 'FR' });
      await eventually(() => a.settings.get('m1').defaultCountry === 'FR', 10_000);
      expect(b.settings.get('m1').defaultCountry).toBe('FR');

      await a.removePortal('m1');
      await eventually(() => b.portals.get('m1') === undefined && b.calls.get('m1', 'c1') === undefined
        && b.bindings.list('m1').length === 0 && b.settings.get('m1').defaultCountry !== 'FR', 10_000);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);

  it('after its LISTEN link was cut, an instance reads again what was written meanwhile (those notifications are lost)', async () => {
    const url = await cluster.createDatabase();
    const a = await open(url, 'instance-a');
    const b = await open(url, 'instance-b');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await a.portals.put(makePortal('m1'));
      await eventually(() => b.portals.get('m1') !== undefined, 10_000);
      // Cut B's LISTEN session (as a network cut or a database restart would), write while it is gone.
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'instance-b' AND query LIKE 'LISTEN%'`);
      await a.settings.put('m1', { ...a.settings.get('m1'), defaultCountry: 'JP' });
      await a.calls.put(makeCall('m1', 'c9', { talkSeconds: 9 }));
      await eventually(() => b.settings.get('m1').defaultCountry === 'JP' && b.calls.get('m1', 'c9')?.talkSeconds === 9, 15_000)
        .catch((err: unknown) => {
          console.log(logs.at(-1)?.join('\n'), b.settings.get('m1').defaultCountry, b.calls.get('m1', 'c9'));
          throw err;
        });
      expect(b.database?.notifier.listening()).toBe(true);
    } finally {
      await admin.end();
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});
