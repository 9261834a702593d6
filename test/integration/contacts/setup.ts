/**
 * The contacts/ world for integration tests: both emulators, a real store in a temp dir, the real Bitrix24 client
 * (inbound-webhook connection to the emulated portal), the real PBX supervisor with its Yeastar adapter, and the
 * settings/users/phonebooks routers behind the real frame auth — wired the way startServer wires them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { createBitrixClients } from '../../../server/bitrix/client.js';
import { loadConfig } from '../../../server/config.js';
import { createCrmContacts, type CrmContactsService } from '../../../server/contacts/index.js';
import type { ContactsApiDeps } from '../../../server/http/api/route-support.js';
import { phonebooksRouter } from '../../../server/http/api/phonebooks.js';
import { settingsRouter } from '../../../server/http/api/settings.js';
import { usersRouter } from '../../../server/http/api/users.js';
import { errorHandler } from '../../../server/http/middleware/errors.js';
import { frameAuth, requireAdmin } from '../../../server/http/middleware/frame-auth.js';
import { requestLog } from '../../../server/http/middleware/request-log.js';
import { createPbxSupervisor, type PbxSupervisor } from '../../../server/pbx/supervisor.js';
import { yeastarBrand } from '../../../server/pbx/yeastar/brand.js';
import { openStore } from '../../../server/store/index.js';
import type { Store } from '../../../server/store/types.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';

export interface ContactsWorld {
  b24: Bitrix24Emulator;
  pbx: YeastarEmulator;
  store: Store;
  supervisor: PbxSupervisor;
  contacts: CrmContactsService;
  memberId: string;
  /** Calls /api as a frame user of the portal (admin by default). */
  api(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, as?: 'admin' | 'user'): Promise<{ status: number; body: unknown }>;
  /** Saves the PBX connection and waits for the link. */
  connectPbx(): Promise<void>;
  addUser(input: { name: string; email?: string; innerPhone?: string }): Promise<number>;
  close(): Promise<void>;
}

export async function startContactsWorld(): Promise<ContactsWorld> {
  const [b24, pbx] = await Promise.all([startBitrix24Emulator({ rateLimit: false }), startYeastarEmulator()]);
  const dataDir = await mkdtemp(join(tmpdir(), 'contacts-int-'));
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const config = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL: 'https://connector.example.test', PBX_ALLOW_LOOPBACK: '1', B24_ALLOW_LOOPBACK: '1', LOG_LEVEL: 'silent' });
  const store = await openStore({ dataDir, secretKey: 'a'.repeat(64), log });

  const info = await b24.createPortal();
  const memberId = info.memberId;
  const hook = await b24.createWebhook(memberId, 1);
  const now = Date.now();
  await store.portals.put({
    memberId, domain: info.domain, clientEndpoint: info.clientEndpoint, serverEndpoint: info.serverEndpoint,
    applicationToken: info.applicationToken, accessToken: '', refreshToken: '', expiresAt: 0, webhookUrl: hook.url,
    scope: 'crm,user,telephony,placement', status: 'L', ratePlan: 'standard', lineNumber: 'pbx-1', installedAt: now, updatedAt: now, installed: true,
  });
  const clients = createBitrixClients({ store, config, log });
  const supervisor = createPbxSupervisor({ store, log, config, ...yeastarBrand(), onCallEvent: () => undefined, coverageTickMs: 60_000 });
  await supervisor.start();
  const contacts = createCrmContacts({ store, clients, adapterFor: (p) => supervisor.adapter(p), log });

  const deps: ContactsApiDeps = {
    store, clients, log, config, requireAdmin,
    adapterFor: (p) => supervisor.adapter(p),
    onSettingsChanged: (p) => supervisor.reconcile(p),
    webhookPath: (p) => supervisor.webhookPath(p),
    forgetPortal: (p) => contacts.forgetPortal(p),
  };
  const app = express();
  app.use(requestLog(log));
  app.post('/install', (_req, res) => {
    res.send('installed');
  });
  app.use('/api', frameAuth({ store, clients }), settingsRouter(deps), usersRouter(deps), phonebooksRouter(deps));
  app.use(errorHandler());
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // Frame tokens exist once the app is on the portal; this test stores the portal itself (webhook connection), so the
  // installer page it gets is a stub.
  await b24.install(memberId, { appUrl: base, installHandler: null });
  await b24.finishInstall(memberId);
  const adminToken = (await b24.frameToken(memberId, 1)).accessToken;
  const plainUser = await b24.addUser(memberId, { name: 'Plain', lastName: 'User', email: 'plain@example.test' });
  const userToken = (await b24.frameToken(memberId, plainUser.id)).accessToken;

  const api: ContactsWorld['api'] = async (method, path, body, as = 'admin') => {
    const response = await fetch(`${base}/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${as === 'admin' ? adminToken : userToken}`,
        'x-member-id': memberId,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: await response.json() as unknown };
  };

  return {
    b24, pbx, store, supervisor, contacts, memberId, api,
    async connectPbx() {
      const saved = await api('PUT', '/settings', {
        enabled: true,
        pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket' },
        defaultCountry: 'ZA',
      });
      if (saved.status !== 200) throw new Error(`PBX settings refused: ${JSON.stringify(saved.body)}`);
      if (!supervisor.adapter(memberId)) throw new Error('the supervisor opened no PBX link');
    },
    async addUser(input) {
      return (await b24.addUser(memberId, input)).id;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await supervisor.stop();
      await contacts.sync.idle();
      await store.close();
      await Promise.all([b24.stop(), pbx.stop()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
