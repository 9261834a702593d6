import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '../../../../server/log.js';
import { openStore } from '../../../../server/store/index.js';
import { DEFAULT_SETTINGS } from '../../../../server/store/records.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../../emulators/bitrix24/harness.js';
import { startYeastarEmulators, type YeastarEmulator, type YeastarEmulatorFleet } from '../../../emulators/yeastar/harness.js';
import { startPostgres, type PgCluster } from '../../../support/postgres.js';
import { installWriteAudit } from './audit.js';
import { startFront, type Front } from './front.js';
import { startInstance, type Instance } from './instance.js';

/**
 * The fault test's world: one throwaway PostgreSQL, one Bitrix24 emulator, one PBX per portal (one emulator process,
 * multi-pbx.ts), the round-robin front, and product instances started and stopped by the scenarios.
 * The portals are installed through the front by a first instance alone; their PBX settings and the agent's binding are
 * then written into the database while no instance runs (as in the single-server SIGKILL test), so the set-up does
 * not depend on cross-instance cache refresh, which is not what this test is about.
 */
export interface ClusterPortal {
  info: PortalInfo;
  memberId: string;
  agentId: number;
  pbx: YeastarEmulator;
}

export interface Lease {
  memberId: string;
  owner: string;
  epoch: number;
  live: boolean;
}

export interface ClusterStack {
  pg: PgCluster;
  /** Direct URL (not through any instance's proxy): the test's own reads. */
  databaseUrl: string;
  b24: Bitrix24Emulator;
  fleet: YeastarEmulatorFleet;
  front: Front;
  portals: ClusterPortal[];
  /** Every instance started, dead ones included. */
  instances: Instance[];
  leaseTtlMs: number;
  /** Starts one more instance and puts it behind the front. */
  addInstance(id: string): Promise<Instance>;
  /** Instances that run and are put behind the front. */
  up(): Instance[];
  /** Instances whose process runs (neither exited nor stopped), behind the front or not: the ones that can own. */
  alive(): Instance[];
  markDown(instance: Instance): void;
  markUp(instance: Instance): void;
  leases(): Promise<Lease[]>;
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  portals: number;
  instances: string[];
  leaseTtlMs: number;
}

export async function startCluster(opts: ClusterOptions): Promise<ClusterStack> {
  const cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase('fault');
  const database = 'fault';
  const [b24, fleet, front] = await Promise.all([
    // No rate limit: the bucket is per portal and shared by the instances; this test is about who sends, not how fast.
    startBitrix24Emulator({ rateLimit: false }),
    startYeastarEmulators(opts.portals, { speed: 1000 }),
    startFront(),
  ]);
  const secretKey = randomBytes(32).toString('hex');
  const instances: Instance[] = [];
  const down = new Set<Instance>();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const up = (): Instance[] => instances.filter((i) => !i.exited && !down.has(i));
  const refreshFront = (): void => front.setBackends(up().map((i) => i.port));
  const launch = (id: string): Promise<Instance> => startInstance({
    id, pgPort: cluster.port, database, publicUrl: front.url, secretKey, oauthServer: b24.serverEndpoint, leaseTtlMs: opts.leaseTtlMs,
  });

  const portals: ClusterPortal[] = [];
  const setup = await launch('fault-setup');
  instances.push(setup);
  refreshFront();
  // Four installs at a time: the set-up is not what the test is about, and one by one it takes most of a minute.
  let nextPortal = 0;
  const installOne = async (n: number): Promise<ClusterPortal> => {
    const pbx = fleet.pbxes[n];
    if (!pbx) throw new Error(`no PBX ${n}`);
    const info = await b24.createPortal();
    const installed = await b24.install(info.memberId, { appUrl: front.url });
    if (installed.installerPage.status !== 200) throw new Error(`install of portal ${n} answered ${installed.installerPage.status}: ${installed.installerPage.body.slice(0, 300)}`);
    await b24.finishInstall(info.memberId);
    const agentId = (await b24.addUser(info.memberId, { name: 'Anna', lastName: `Agent${n}`, email: `anna${n}@example.test` })).id;
    return { info, memberId: info.memberId, agentId, pbx };
  };
  const installed: ClusterPortal[] = new Array<ClusterPortal>(opts.portals);
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let n = nextPortal++; n < opts.portals; n = nextPortal++) installed[n] = await installOne(n);
  }));
  portals.push(...installed);
  await setup.stop();
  refreshFront();

  const scratch = await mkdtemp(join(tmpdir(), 'pbxb24-cluster-setup-'));
  const store = await openStore({ dataDir: scratch, databaseUrl, secretKey, log: createLogger('silent') });
  for (const p of portals) {
    await store.bindings.replace(p.memberId, [{ userId: p.agentId, extension: '1001', source: 'manual' }]);
    await store.settings.put(p.memberId, {
      ...DEFAULT_SETTINGS, enabled: true, defaultCountry: 'US',
      pbx: { baseUrl: p.pbx.url, clientId: p.pbx.clientId, clientSecret: p.pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
  }
  await store.close();
  await rm(scratch, { recursive: true, force: true });
  await installWriteAudit(databaseUrl);

  const started = await Promise.all(opts.instances.map((id) => launch(id)));
  instances.push(...started);
  refreshFront();

  return {
    pg: cluster, databaseUrl, b24, fleet, front, portals, instances, leaseTtlMs: opts.leaseTtlMs,
    async addInstance(id) {
      const instance = await launch(id);
      instances.push(instance);
      refreshFront();
      return instance;
    },
    up,
    alive: () => instances.filter((i) => !i.exited && !i.paused),
    markDown(instance) {
      down.add(instance);
      refreshFront();
    },
    markUp(instance) {
      down.delete(instance);
      refreshFront();
    },
    async leases() {
      const r = await pool.query<{ member_id: string; owner: string; epoch: string; live: boolean }>(
        'SELECT member_id, owner, epoch, expires_at > now() AS live FROM portal_leases',
      );
      return r.rows.map((x) => ({ memberId: x.member_id, owner: x.owner, epoch: Number(x.epoch), live: x.live }));
    },
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await pool.query<R>(sql, params)).rows;
    },
    async stop() {
      await Promise.all(instances.map((i) => i.remove()));
      await pool.end();
      await Promise.all([b24.stop(), fleet.stop(), front.close()]);
      await cluster.stop();
    },
  };
}
