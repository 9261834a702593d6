import type { Bitrix24Emulator, PortalInfo } from '../../test/emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../../test/emulators/yeastar/harness.js';

/**
 * One Bitrix24 portal set up the way an admin does it: install the app (the emulator POSTs /install and the event),
 * finish the install, save the PBX settings through PUT /api/settings with a frame token, wait for the PBX link, and
 * bind an agent to extension 1001 through PUT /api/bindings. Nothing is written into the product's store directly.
 */
export interface BenchPortal {
  info: PortalInfo;
  memberId: string;
  agentId: number;
  pbx: YeastarEmulator;
}

export interface PortalSetup {
  autoCreate: boolean;
  /** Outside numbers seeded as CRM contacts (known numbers). */
  knownNumbers: string[];
}

/**
 * One /api request; a 503 ("try again": Bitrix24 did not answer the frame check, e.g. a kept-alive socket the emulator
 * closed under load) is retried twice, as the admin's page would. Setup is not what the bench measures.
 */
async function api(serverUrl: string, memberId: string, token: string, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await apiOnce(serverUrl, memberId, token, method, path, body);
    } catch (err) {
      if (!(err instanceof UnavailableError) || attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

class UnavailableError extends Error {}

async function apiOnce(serverUrl: string, memberId: string, token: string, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${serverUrl}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`, 'x-member-id': memberId,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  if (res.status === 503) throw new UnavailableError(`${method} /api${path} → 503 ${JSON.stringify(json)}`);
  if (!res.ok) throw new Error(`${method} /api${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function setUpPortal(b24: Bitrix24Emulator, serverUrl: string, pbx: YeastarEmulator, setup: PortalSetup): Promise<BenchPortal> {
  const info = await b24.createPortal();
  const { memberId } = info;
  const installed = await b24.install(memberId, { appUrl: serverUrl });
  if (installed.installerPage.status !== 200) throw new Error(`install of ${memberId} answered ${installed.installerPage.status}`);
  await b24.finishInstall(memberId);
  const agentId = (await b24.addUser(memberId, { name: 'Anna', lastName: 'Agent', email: `anna-${memberId}@example.test` })).id;
  for (const phone of setup.knownNumbers) {
    await b24.seedCrm(memberId, 'CONTACT', { NAME: 'Known', LAST_NAME: phone, PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] });
  }
  const admin = (await b24.frameToken(memberId, installed.adminUserId)).accessToken;
  await api(serverUrl, memberId, admin, 'PUT', '/settings', {
    enabled: true,
    defaultCountry: 'US',
    pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket' },
    autoCreate: { enabled: setup.autoCreate, inbound: true, outbound: false, entityType: 'CONTACT' },
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await api(serverUrl, memberId, admin, 'GET', '/status') as { pbx?: { state?: string } };
    if (status.pbx?.state === 'connected') break;
    if (Date.now() > deadline) throw new Error(`PBX link of ${memberId} not connected: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const bound = await api(serverUrl, memberId, admin, 'PUT', '/bindings', { bindings: [{ userId: agentId, extension: '1001' }] }) as {
    bindings: { userId: number; extension: string }[];
  };
  if (!bound.bindings.some((b) => b.userId === agentId && b.extension === '1001')) {
    throw new Error(`binding refused on ${memberId}: ${JSON.stringify(bound)}`);
  }
  // The installation spent part of the portal's bucket; measurements start from a full one.
  await b24.resetRateLimit(memberId);
  return { info, memberId, agentId, pbx };
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next;
      next += 1;
      if (i >= items.length) return;
      const item = items[i] as T;
      out[i] = await work(item, i);
    }
  });
  await Promise.all(runners);
  return out;
}
