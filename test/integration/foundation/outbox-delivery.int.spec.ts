import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../emulators/bitrix24/harness.js';
import type { RunningServer } from '../../../server/index.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/enqueue-and-wait.ts', import.meta.url));
const MAIN = fileURLToPath(new URL('../../../server/main.ts', import.meta.url));

function titles(rows: Record<string, unknown>[], prefix: string): string[] {
  return rows.map((r) => String(r.TITLE ?? '')).filter((t) => t.startsWith(`${prefix} `));
}

describe('outbox delivery through the real client (emulator)', () => {
  let emulator: Bitrix24Emulator;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let port: number;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    emulator = await startBitrix24Emulator();
    data = await tempDataDir();
    port = await freePort();
    portal = await emulator.createPortal();
    await emulator.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true });
    const server = await startTestServer(testConfig(data.dir, port));
    await emulator.install(portal.memberId, { appUrl: `http://127.0.0.1:${port}` });
    await server.close();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await emulator?.stop();
    await data?.remove();
  });

  it('100 writes queued while Bitrix24 answers QUERY_LIMIT_EXCEEDED all arrive, none twice', async () => {
    let server: RunningServer | undefined;
    try {
      server = await startTestServer(testConfig(data.dir, port), { bitrixRestriction: { maxRetries: 1, retryDelay: 50 } });
      await emulator.setFault(portal.memberId, { kind: 'query_limit', forMs: 1500 });
      await server.services.outbox.enqueue(Array.from({ length: 100 }, (_, i) => ({
        portal: portal.memberId,
        group: `call-${i % 10}`,
        method: 'crm.lead.add',
        params: { fields: { TITLE: `limited ${i}` } },
        key: `limited-${i}`,
      })));
      await server.services.outbox.idle(portal.memberId, 40_000);
      const got = titles(await emulator.listCrm(portal.memberId, 'LEAD'), 'limited');
      expect(got).toHaveLength(100);
      expect(new Set(got).size).toBe(100);
      const limited = (await emulator.requests({ memberId: portal.memberId })).filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED');
      expect(limited.length).toBeGreaterThan(0);
      expect(server.services.outbox.stats(portal.memberId).failed).toBe(0);
    } finally {
      await server?.close();
      await emulator.setFault(portal.memberId, null);
    }
  }, 60_000);

  it('writes queued by a server killed with SIGKILL are delivered by the next start', async () => {
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: data.dir,
      B24_CLIENT_ID: DEFAULT_CLIENT_ID,
      B24_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      // The emulated portal is on loopback: Bitrix24 traffic obeys the address policy at connect time (issue 10).
      B24_ALLOW_LOOPBACK: '1',
      LOG_LEVEL: 'warn',
      ENQUEUE_PORTAL: portal.memberId,
      ENQUEUE_COUNT: '30',
      ENQUEUE_PREFIX: 'killed',
    };
    await emulator.setFault(portal.memberId, { kind: 'http503' });
    const first = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(first);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fixture did not queue in time')), 20_000);
      first.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
      createInterface({ input: first.stdout }).on('line', (line) => {
        if (line.includes('"queued"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(titles(await emulator.listCrm(portal.memberId, 'LEAD'), 'killed')).toHaveLength(0);

    await emulator.setFault(portal.memberId, null);
    const second = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(second);
    await eventually(async () => titles(await emulator.listCrm(portal.memberId, 'LEAD'), 'killed').length >= 30, 30_000, 200);
    const got = titles(await emulator.listCrm(portal.memberId, 'LEAD'), 'killed');
    expect(new Set(got).size).toBe(30);
    expect(got).toHaveLength(30);

    // SIGTERM stops it cleanly.
    second.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  }, 60_000);
});
