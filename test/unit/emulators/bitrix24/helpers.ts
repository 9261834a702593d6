/** In-process emulator and a tiny app for the emulator's own tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlHandler } from '../../../emulators/bitrix24/control.js';
import { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import type { EmulatorConfig } from '../../../emulators/bitrix24/state.js';

export interface AppRequest {
  path: string;
  body: URLSearchParams;
}

export interface FakeApp {
  url: string;
  received: AppRequest[];
  close(): Promise<void>;
}

/** Answers 200 to every POST and keeps what it got (event and installer requests). */
export async function startFakeApp(): Promise<FakeApp> {
  const received: AppRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: new URLSearchParams(Buffer.concat(chunks).toString()) });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The emulator and the fake app a test file shares: started in its beforeAll, stopped in its afterAll. */
export async function startCloudAndApp(config: Partial<EmulatorConfig> = { rateLimit: false }): Promise<{ cloud: Bitrix24Cloud; app: FakeApp }> {
  const cloud = await startCloud(config);
  return { cloud, app: await startFakeApp() };
}

export async function stopCloudAndApp(cloud: Bitrix24Cloud | undefined, app: FakeApp | undefined): Promise<void> {
  await cloud?.stop();
  await app?.close();
}

export async function startCloud(config: Partial<EmulatorConfig> = {}): Promise<Bitrix24Cloud> {
  const cloud = new Bitrix24Cloud(config);
  cloud.controlHandler = controlHandler(cloud);
  await cloud.start(0);
  return cloud;
}

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

export async function callRest(base: string, method: string, params: Record<string, unknown> = {}): Promise<RestAnswer> {
  const response = await fetch(`${base}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body };
}

export function resultOf(answer: RestAnswer): Record<string, unknown> {
  const r = answer.body.result;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`no object result: ${JSON.stringify(answer.body)}`);
  return r as Record<string, unknown>;
}

/** A portal with the app installed and finished, an app token of the admin, and `rest` calling the portal as the admin. */
export async function installedPortal(cloud: Bitrix24Cloud, app: FakeApp, plan: 'standard' | 'enterprise' = 'standard') {
  const portal = await cloud.createPortal({ plan });
  await cloud.install(portal.memberId, { appUrl: app.url });
  cloud.finishInstall(portal.memberId);
  const adminToken = cloud.frameToken(portal.memberId, 1).accessToken;
  const rest = (method: string, params: Record<string, unknown> = {}): Promise<RestAnswer> => callRest(portal.clientEndpoint, method, { auth: adminToken, ...params });
  return { portal, adminToken, rest };
}

/** A minimal valid WAV: RIFF header, fmt chunk, 4 bytes of silence. */
export function tinyWav(): Buffer {
  const data = Buffer.alloc(4);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}
