import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../../server/config.js';
import { createLogger } from '../../../server/log.js';
import { startServer, type RunningServer, type StartOptions } from '../../../server/index.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../emulators/bitrix24/harness.js';

/** A free loopback port, so PUBLIC_URL is known before the server listens (Bitrix24 needs it at install). */
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

export async function tempDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pbxb24-foundation-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, port: number, env: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    B24_CLIENT_ID: DEFAULT_CLIENT_ID,
    B24_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OUTBOX_MAX_ATTEMPTS: '50',
    ...env,
  });
}

/** The real composition root, quick retries so tests stay short. */
export function startTestServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  return startServer(config, {
    log: createLogger(config.logLevel),
    bitrixRestriction: { maxRetries: 2, retryDelay: 50 },
    outboxBackoff: () => 100,
    ...opts,
  });
}

/** Polls until `check` holds (bounded). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, stepMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
