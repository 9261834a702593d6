/**
 * The whole product (startServer with every part, as the composition root wires them) against both emulators, with
 * the app installed on one portal: the set-up of the integration tests that follow one call or one setting end to end.
 */
import { afterAll, beforeAll } from 'vitest';
import type { RunningServer } from '../../../server/index.js';
import { wireParts } from '../../../server/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { freePort, startTestServer, tempDataDir, testConfig } from '../foundation/server-under-test.js';

export interface InstalledServer {
  b24: Bitrix24Emulator;
  pbx: YeastarEmulator;
  server: RunningServer;
  memberId: string;
  /** Calls /api as the portal's admin (user 1) from the app's frame; the body is the parsed JSON answer. */
  api(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** `portal`: how the emulated portal is created (e.g. its licence region), as Bitrix24Emulator.createPortal takes it. */
export async function startInstalledServer(portal: Parameters<Bitrix24Emulator['createPortal']>[0] = {}): Promise<InstalledServer> {
  // The PBX plays calls at 1000× so a call of minutes takes milliseconds; no rate limit, these tests are not about it.
  const [b24, pbx] = await Promise.all([startBitrix24Emulator({ rateLimit: false }), startYeastarEmulator({ speed: 1000 })]);
  const data = await tempDataDir();
  const stopEmulators = async (): Promise<void> => {
    await Promise.all([b24.stop(), pbx.stop()]);
    await data.remove();
  };
  let server: RunningServer | undefined;
  try {
    server = await startTestServer(testConfig(data.dir, await freePort(), { PBX_ALLOW_LOOPBACK: '1' }), { parts: wireParts });
    const memberId = (await b24.createPortal(portal)).memberId;
    await b24.install(memberId, { appUrl: server.url });
    await b24.finishInstall(memberId);
    const token = (await b24.frameToken(memberId, 1)).accessToken;
    return installed(b24, pbx, server, memberId, token, stopEmulators);
  } catch (error) {
    await server?.close();
    await stopEmulators();
    throw error;
  }
}

function installed(b24: Bitrix24Emulator, pbx: YeastarEmulator, server: RunningServer, memberId: string, token: string, stopEmulators: () => Promise<void>): InstalledServer {
  return {
    b24, pbx, server, memberId,
    async api(method, path, body) {
      const response = await fetch(`${server.url}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'x-member-id': memberId, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, body: await response.json() as unknown };
    },
    async close() {
      await server.close();
      await stopEmulators();
    },
  };
}

/**
 * startInstalledServer for every test of the calling file: started before the first (before the file's own beforeAll,
 * which runs next), closed after the last. Read its fields inside hooks and tests, not at the file's top level.
 */
export function installedServerForThisFile(portal: Parameters<typeof startInstalledServer>[0] = {}): InstalledServer {
  let started: InstalledServer | undefined;
  beforeAll(async () => {
    started = await startInstalledServer(portal);
  }, 60_000);
  afterAll(async () => {
    await started?.close();
  }, 30_000);
  const running = (): InstalledServer => {
    if (started === undefined) throw new Error('the installed server is used before beforeAll started it');
    return started;
  };
  return {
    get b24() {
      return running().b24;
    },
    get pbx() {
      return running().pbx;
    },
    get server() {
      return running().server;
    },
    get memberId() {
      return running().memberId;
    },
    api: (method, path, body) => running().api(method, path, body),
    close: () => running().close(),
  };
}
