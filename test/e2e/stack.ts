import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Router } from 'express';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/log.js';
import { startServer, type RunningServer } from '../../server/index.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startBitrix24Emulator, type Bitrix24Emulator } from '../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../emulators/yeastar/harness.js';
import { productParts } from './product-parts.js';

/** Who is in the seeded portal: the portal admin (user 1), three agents whose e-mails match PBX extensions, a contact. */
export interface SeededPortal {
  memberId: string;
  applicationToken: string;
  adminId: number;
  agents: { id: number; name: string; email: string; extension: string }[];
  /** A non-admin user (an agent). */
  userId: number;
  contact: { id: number; name: string; phone: string };
}

export interface Stack {
  b24: Bitrix24Emulator;
  pbx: YeastarEmulator;
  server: RunningServer;
  portal: SeededPortal;
  /** Every secret the browser must never see (PBX client secret, app secret, application token). */
  secrets: string[];
  close(): Promise<void>;
}

export interface StackOptions {
  /** Fixed product port (the demo: 3000); default a free one. */
  port?: number;
  host?: string;
  /** Scenario speed of the PBX emulator (1 = real time). */
  pbxSpeed?: number;
  logLevel?: string;
  /** Routers mounted at the product's root before the app pages (the demo page). */
  rootRouters?: (stack: Omit<Stack, 'close' | 'server' | 'portal'>) => Router[];
}

const AGENTS = [
  { name: 'Alice', lastName: 'Smith', email: 'alice@example.com', extension: '1001' },
  { name: 'Bob', lastName: 'Jones', email: 'bob@example.com', extension: '1002' },
  { name: 'Carol', lastName: 'White', email: 'carol@example.com', extension: '1003' },
];

export const KNOWN_CALLER = { name: 'John', lastName: 'Doe', phone: '+15550123456' };

/**
 * Both emulators and the real product (startServer) on loopback, a portal with the app installed the way Bitrix24
 * installs it (installer POST, ONAPPINSTALL, installFinish), users and a CRM contact. The PBX is not configured:
 * that is what the admin does in the UI.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const [b24, pbx] = await Promise.all([startBitrix24Emulator({ rateLimit: false }), startYeastarEmulator({ speed: opts.pbxSpeed ?? 1000 })]);
  const dataDir = await mkdtemp(join(tmpdir(), 'pbxb24-e2e-'));
  let server: RunningServer | undefined;
  try {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    const config = loadConfig({
      PORT: String(port),
      HOST: host,
      ...(opts.port ? { PUBLIC_URL: `http://localhost:${opts.port}` } : {}),
      DATA_DIR: dataDir,
      B24_CLIENT_ID: b24.clientId,
      B24_CLIENT_SECRET: b24.clientSecret,
      PBX_ALLOW_LOOPBACK: '1',
      B24_OAUTH_SERVER: b24.serverEndpoint, B24_ALLOW_LOOPBACK: '1',
      // The emulated Bitrix24 window is served on its own loopback port, not at the emulated portal's address as a real
      // portal's page would be: the operator's setting for such a parent lets it frame the app under the CSP.
      FRAME_ANCESTORS: 'http://127.0.0.1:* http://localhost:*',
      LOG_LEVEL: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent',
    });
    const extra = opts.rootRouters ? opts.rootRouters({ b24, pbx, secrets: [] }) : [];
    server = await startServer(config, {
      log: createLogger(config.logLevel),
      bitrixRestriction: { maxRetries: 2, retryDelay: 50 },
      outboxBackoff: () => 200,
      parts: productParts(extra),
    });
    const appUrl = opts.port ? `http://localhost:${opts.port}` : server.url;

    const info = await b24.createPortal();
    const agents: SeededPortal['agents'] = [];
    for (const agent of AGENTS) {
      const { id } = await b24.addUser(info.memberId, { name: agent.name, lastName: agent.lastName, email: agent.email });
      agents.push({ id, name: `${agent.name} ${agent.lastName}`, email: agent.email, extension: agent.extension });
    }
    const contactId = await b24.seedCrm(info.memberId, 'CONTACT', {
      NAME: KNOWN_CALLER.name, LAST_NAME: KNOWN_CALLER.lastName, PHONE: [{ VALUE: KNOWN_CALLER.phone, VALUE_TYPE: 'WORK' }],
    });
    const installed = await b24.install(info.memberId, { appUrl });
    if (installed.installerPage.status !== 200) throw new Error(`installer page answered ${installed.installerPage.status}`);
    await b24.finishInstall(info.memberId);

    const portal: SeededPortal = {
      memberId: info.memberId,
      applicationToken: info.applicationToken,
      adminId: installed.adminUserId,
      agents,
      userId: agents[2]?.id ?? 0,
      contact: { id: contactId, name: `${KNOWN_CALLER.name} ${KNOWN_CALLER.lastName}`, phone: KNOWN_CALLER.phone },
    };
    const running = server;
    return {
      b24, pbx, server: running, portal,
      secrets: [pbx.clientSecret, b24.clientSecret, DEFAULT_CLIENT_SECRET, info.applicationToken].filter((s) => s !== DEFAULT_CLIENT_ID),
      close: async () => {
        await running.close();
        await Promise.all([b24.stop(), pbx.stop()]);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server?.close();
    await Promise.all([b24.stop(), pbx.stop()]);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}
