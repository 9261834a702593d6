import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../../foundation/server-under-test.js';
import type { PgProxy } from './pg-proxy.js';
import { startPgProxy } from './pg-proxy.js';

/**
 * One product instance of the cluster: the real server (test/support/server-process.ts: startServer with the test
 * timings) in its own process, with its own PORT and DATA_DIR, its own road to PostgreSQL (pg-proxy.ts) and the shared
 * DATABASE_URL, SECRET_KEY and PUBLIC_URL (the front). application_name in its database URL names it to PostgreSQL
 * (the write audit, audit.ts); outbound-tag.ts names it in every request it sends.
 */
export interface OutboundRequest {
  at: number;
  method: string;
  url: string;
}

export interface Instance {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly proxy: PgProxy;
  readonly logFile: string;
  /** Set once it exited (SIGKILL or stop). */
  readonly exited: boolean;
  /** Between pause() (SIGSTOP) and resume() (SIGCONT). */
  readonly paused: boolean;
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Graceful stop (stdin closed: the server releases its leases). */
  stop(): Promise<void>;
  metrics(): Promise<string>;
  outbound(): Promise<OutboundRequest[]>;
  log(): Promise<string>;
  remove(): Promise<void>;
}

export interface InstanceOptions {
  id: string;
  pgPort: number;
  database: string;
  publicUrl: string;
  secretKey: string;
  oauthServer: string;
  leaseTtlMs: number;
}

const SERVER_PROCESS = fileURLToPath(new URL('../../../support/server-process.ts', import.meta.url));
const TAG = fileURLToPath(new URL('./outbound-tag.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const dir = await mkdtemp(join(tmpdir(), `pbxb24-cluster-${opts.id}-`));
  const port = await freePort();
  const proxy = await startPgProxy(opts.pgPort);
  const logFile = join(dir, 'server.log');
  const journal = join(dir, 'outbound.jsonl');
  const metricsToken = randomBytes(24).toString('hex');
  const env: Record<string, string> = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${opts.database}?application_name=${encodeURIComponent(opts.id)}`,
    INSTANCE_ID: opts.id,
    LEASE_TTL_MS: String(opts.leaseTtlMs),
    PUBLIC_URL: opts.publicUrl,
    SECRET_KEY: opts.secretKey,
    B24_OAUTH_SERVER: opts.oauthServer,
    METRICS_TOKEN: metricsToken,
    LOG_LEVEL: 'debug',
  };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, '--import', pathToFileURL(TAG).href, SERVER_PROCESS, dir, String(port), logFile, JSON.stringify(env)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env, FAULT_TEST_INSTANCE: opts.id, FAULT_TEST_JOURNAL: journal },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  let exited = false;
  let paused = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`instance ${opts.id} did not start in 40 s: ${stderr}`)), 40_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`instance ${opts.id} exited at start: ${stderr}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const kill = async (): Promise<void> => {
    if (!exited) child.kill('SIGKILL');
    await exit;
  };
  return {
    id: opts.id, port, url, proxy, logFile,
    get exited() {
      return exited;
    },
    get paused() {
      return paused;
    },
    kill,
    pause() {
      paused = true;
      child.kill('SIGSTOP');
    },
    resume() {
      paused = false;
      child.kill('SIGCONT');
    },
    async stop() {
      if (exited) return;
      paused = false;
      child.kill('SIGCONT');
      child.stdin?.end();
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(force);
    },
    async metrics() {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
      return res.text();
    },
    async outbound() {
      const text = await readFile(journal, 'utf8').catch(() => '');
      return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as OutboundRequest);
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async remove() {
      await kill();
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
