import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../server/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../emulators/bitrix24/harness.js';
import { startYeastarEmulators, type YeastarEmulator, type YeastarEmulatorFleet } from '../../emulators/yeastar/harness.js';
import { EMPTY_REPORT, expectEachLoggedOnce } from '../../support/calls.js';
import { captureLogs } from '../../support/log-capture.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { startProduct } from '../../support/product-options.js';
import { eventually, freePort, tempDataDir, testConfig } from '../foundation/server-under-test.js';

/**
 * Two real product instances (startServer twice in this process, each with its own DATA_DIR and port) on one
 * PostgreSQL database, four portals each with its own PBX (one emulator process, four PBXs): every PBX sees exactly
 * one WebSocket link at every moment we look, the portals are split two and two, calls are logged exactly once by
 * whichever instance owns the portal, and closing one instance moves its portals and their links to the other.
 * The SIGKILL/SIGSTOP cases with separate processes are test/integration/cluster/fault-*.spec.ts.
 */

const SECRET_KEY = 'c'.repeat(64);
const TTL_MS = '3000';
const METRICS_TOKEN = 'metrics-token-of-the-cluster-test';

interface Tenant { memberId: string; adminToken: string; pbx: YeastarEmulator }

describe('two instances on one database', () => {
  let pg: PgCluster;
  let b24: Bitrix24Emulator;
  let fleet: YeastarEmulatorFleet;
  let databaseUrl: string;
  const running = new Map<string, RunningServer>();
  const dirs: { remove(): Promise<void> }[] = [];
  const tenants: Tenant[] = [];

  async function startInstance(name: string): Promise<RunningServer> {
    const data = await tempDataDir();
    dirs.push(data);
    const config = testConfig(data.dir, await freePort(), {
      PBX_ALLOW_LOOPBACK: '1', B24_OAUTH_SERVER: `${b24.url}/rest/`,
      DATABASE_URL: databaseUrl, SECRET_KEY, INSTANCE_ID: name, LEASE_TTL_MS: TTL_MS, METRICS_TOKEN,
      // Writes stay pending (not parked) through the Bitrix24 outage of the last case.
      OUTBOX_MAX_ATTEMPTS: '1000',
    });
    const server = await startProduct(config, captureLogs().log);
    running.set(name, server);
    return server;
  }

  async function health(server: RunningServer): Promise<{ instance: string; owned: number }> {
    return await (await fetch(`${server.url}/healthz`)).json() as { instance: string; owned: number };
  }

  async function api(server: RunningServer, tenant: Pick<Tenant, 'memberId' | 'adminToken'>, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${server.url}/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tenant.adminToken}`, 'x-member-id': tenant.memberId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, text: await res.text() };
  }

  /** Open sockets per PBX, in tenant order. */
  const socketsPerPbx = async (): Promise<number[]> => Promise.all(tenants.map(async (t) => (await t.pbx.sockets()).length));

  /** Watches every PBX's socket count while `during` runs: the most links any PBX had at once. */
  async function mostLinksDuring(during: () => Promise<void>): Promise<number> {
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, ...await socketsPerPbx());
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    try {
      await during();
    } finally {
      watching = false;
      await watch;
    }
    return most;
  }

  async function callOnEveryPortal(n: number): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    await Promise.all(tenants.map(async (t) => {
      const run = await t.pbx.scenario('inbound-answered', { from: `+1555030${String(1000 + n)}`, to: '1001', talkSeconds: 5, ringSeconds: 2, record: true, wait: true });
      ids.set(t.memberId, run.callId);
    }));
    return ids;
  }

  beforeAll(async () => {
    pg = await startPostgres();
    databaseUrl = await pg.createDatabase();
    b24 = await startBitrix24Emulator({ rateLimit: false });
    fleet = await startYeastarEmulators(4, { speed: 1000 });
  }, 120_000);

  afterAll(async () => {
    for (const server of running.values()) await server.close().catch(() => undefined);
    await fleet?.stop();
    await b24?.stop();
    await pg?.stop();
    for (const d of dirs) await d.remove();
  });

  it('splits four portals two and two, one PBX link each, and calls are logged exactly once', async () => {
    const a = await startInstance('a');
    // The portals are installed and set up through instance a, alone at first: it owns every one and links them.
    for (const pbx of fleet.pbxes) {
      const info = await b24.createPortal();
      const adminId = (await b24.addUser(info.memberId, { name: 'Ann', lastName: 'Admin', email: `ann-${info.memberId}@example.com`, admin: true })).id;
      const agentId = (await b24.addUser(info.memberId, { name: 'Anna', lastName: 'Agent', email: `anna-${info.memberId}@example.com` })).id;
      await b24.install(info.memberId, { appUrl: a.url });
      await b24.finishInstall(info.memberId);
      const tenant = { memberId: info.memberId, adminToken: (await b24.frameToken(info.memberId, adminId)).accessToken, pbx };
      await eventually(async () => (await api(a, tenant, 'GET', '/status')).status === 200, 10_000);
      const saved = await api(a, tenant, 'PUT', '/settings', {
        enabled: true, defaultCountry: 'US', pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket' },
      });
      expect(saved.status).toBe(200);
      expect((await api(a, tenant, 'PUT', '/bindings', { bindings: [{ userId: agentId, extension: '1001' }] })).status).toBe(200);
      tenants.push(tenant);
    }
    await eventually(async () => (await socketsPerPbx()).every((n) => n === 1), 20_000, 100);
    expect(await health(a)).toMatchObject({ instance: 'a', owned: 4 });

    // A second instance joins: a gives two portals up (link closed first), b takes them (link opened after).
    let b: RunningServer | undefined;
    const most = await mostLinksDuring(async () => {
      b = await startInstance('b');
      const second = b;
      await eventually(async () => (await health(a)).owned === 2 && (await health(second)).owned === 2, 30_000, 100);
      await eventually(async () => (await socketsPerPbx()).every((n) => n === 1), 20_000, 100);
    });
    expect(most).toBe(1);
    if (!b) throw new Error('b did not start');
    expect(a.services.parts.gauges.pbxLinksUp() + b.services.parts.gauges.pbxLinksUp()).toBe(4);
    expect(a.services.parts.gauges.pbxLinksUp()).toBe(2);

    const calls = await callOnEveryPortal(1);
    for (const t of tenants) expect(await expectEachLoggedOnce(b24, t.memberId, [calls.get(t.memberId) ?? ''], 30_000, 500)).toEqual(EMPTY_REPORT);
  }, 180_000);

  it('closing one instance moves its portals and their links to the other; calls go on being logged exactly once', async () => {
    const a = running.get('a');
    const b = running.get('b');
    if (!a || !b) throw new Error('the first case runs first');
    const most = await mostLinksDuring(async () => {
      await a.close();
      running.delete('a');
      await eventually(async () => (await health(b)).owned === 4, 30_000, 100);
      await eventually(async () => (await socketsPerPbx()).every((n) => n === 1), 20_000, 100);
    });
    expect(most).toBe(1);
    expect(b.services.parts.gauges.pbxLinksUp()).toBe(4);

    const calls = await callOnEveryPortal(2);
    for (const t of tenants) expect(await expectEachLoggedOnce(b24, t.memberId, [calls.get(t.memberId) ?? ''], 30_000, 500)).toEqual(EMPTY_REPORT);
    const metrics = await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(/^pbxb24_portals_owned\{instance="b"\} 4$/m);
    // b took two portals when it joined and two when a left.
    expect(Number(/^pbxb24_lease_changes_total\{instance="b"\} (\d+)$/m.exec(metrics)?.[1])).toBe(4);
    // a left the heartbeat table as it closed.
    expect(metrics).toMatch(/^pbxb24_cluster_instances 1$/m);
  }, 180_000);

  it('the new owner resumes the former owner\'s pending Bitrix24 writes from the database and sends each once', async () => {
    const b = running.get('b');
    if (!b) throw new Error('the earlier cases run first');
    const c = await startInstance('c');
    await eventually(async () => (await health(b)).owned === 2 && (await health(c)).owned === 2, 30_000, 100);
    await eventually(async () => (await socketsPerPbx()).every((n) => n === 1), 20_000, 100);
    const ofC = tenants.filter((t) => c.services.parts.pbxStatus(t.memberId).state === 'connected');
    expect(ofC).toHaveLength(2);

    // Bitrix24 down: the calls' writes wait in c's outbox (and in the database).
    await b24.setFault('*', { kind: 'http503' });
    const calls = await callOnEveryPortal(3);
    await eventually(() => ofC.every((t) => c.services.store.outbox.pending(t.memberId).length > 0), 20_000, 100);
    const pendingOfC = new Map(ofC.map((t) => [t.memberId, c.services.store.outbox.pending(t.memberId).map((i) => i.id)]));
    // b hears of them (store_changed) but sends none while c holds the leases: nothing reached Bitrix24 meanwhile.

    await c.close();
    running.delete('c');
    await eventually(async () => (await health(b)).owned === 4, 30_000, 100);
    for (const t of ofC) {
      const seen = new Set(b.services.store.outbox.list(t.memberId).map((i) => i.id));
      for (const id of pendingOfC.get(t.memberId) ?? []) expect(seen.has(id)).toBe(true);
    }
    await b24.setFault('*', null);
    for (const t of tenants) expect(await expectEachLoggedOnce(b24, t.memberId, [calls.get(t.memberId) ?? ''], 30_000, 1_000)).toEqual(EMPTY_REPORT);
  }, 180_000);
});
