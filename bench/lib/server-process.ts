import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../test/emulators/bitrix24/harness.js';
import { parseMetrics } from './stats.js';

/**
 * The product as operators run it: `server/main.ts` in its own Node process (so its memory and event loop are its
 * own, read from /metrics), configured only through the environment, on loopback, with a temporary DATA_DIR.
 */
export interface ServerProcess {
  url: string;
  dataDir: string;
  logFile: string;
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'server', 'main.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pbxb24-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dataDir, 'server.log');
  // /metrics is served only with the operator's token (METRICS_TOKEN), as in production.
  const metricsToken = randomBytes(24).toString('hex');
  const log = createWriteStream(logFile);
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child: ChildProcess = spawn(process.execPath, ['--import', tsxLoader, MAIN], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, DATA_DIR: join(dataDir, 'data'),
      B24_CLIENT_ID: DEFAULT_CLIENT_ID, B24_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', PBX_ALLOW_LOOPBACK: '1', B24_ALLOW_LOOPBACK: '1',
      METRICS_TOKEN: metricsToken,
      ...env,
    },
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) at start; see ${logFile}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not up within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url, dataDir, logFile,
    metrics: async () => parseMetrics(await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text()),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(force);
      }
      log.end();
      if (process.env.BENCH_KEEP_DATA !== '1') await rm(dataDir, { recursive: true, force: true });
    },
  };
}
