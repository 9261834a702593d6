import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../../server/config.js';
import { createLogger } from '../../../server/log.js';
import { startServer, type RunningServer, type StartOptions } from '../../../server/index.js';
import { runningOAuthServers } from '../../emulators/bitrix24/harness.js';
import { loopbackServerEnv } from '../../support/spawn-server.js';

/** Tests import the port helper from here, beside the rest of the server-under-test set-up. */
export { freePort } from '../../support/spawn-server.js';

export async function tempDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pbxb24-foundation-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The OAuth server the test server trusts (installs are confirmed there with app.info): TEST_B24_OAUTH_SERVER when a
 * parent process passes it to a server child, else the one Bitrix24 emulator this process runs. With none the
 * product's default stays (no install can then succeed: the intended failure); with several the test must choose.
 */
function trustedOAuthServer(env: Record<string, string>): Record<string, string> {
  if (env.B24_OAUTH_SERVER !== undefined) return {};
  const fromParent = process.env.TEST_B24_OAUTH_SERVER;
  if (fromParent) return { B24_OAUTH_SERVER: fromParent };
  const running = runningOAuthServers();
  if (running.length > 1) throw new Error('several Bitrix24 emulators run: pass B24_OAUTH_SERVER to testConfig');
  return running[0] ? { B24_OAUTH_SERVER: running[0] } : {};
}

/** Everything on loopback: the emulated portals (B24_ALLOW_LOOPBACK) and the OAuth server of the running emulator. */
export function testConfig(dataDir: string, port: number, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...loopbackServerEnv(dataDir, port),
    ...trustedOAuthServer(env),
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
