import { expect } from 'vitest';
import type { Tenant } from '../../../support/stack.js';
import { eventually } from '../../foundation/server-under-test.js';
import type { TwoInstances } from '../coherence-cluster.js';

/** This instance's owned portal count, from its /healthz. */
export const ownedBy = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { owned?: number }).owned ?? -1;

/**
 * A tenant whose portal instance A owns (its lease, so A holds its PBX link), installed through instance B (Bitrix24
 * sends its events to B). B first takes a portal of its own: with two portals and two instances each owns one (the
 * fair share), so the portal under test is left for A. Its PBX settings are saved through A with `pbx` (events mode,
 * webhook secret); agent bound to extension 1001.
 */
export async function tenantOwnedByA(two: TwoInstances, pbx: { events: 'websocket' | 'webhook'; webhookSecret?: string }): Promise<Tenant> {
  const { b24 } = two.stack;
  const filler = await b24.createPortal();
  await b24.install(filler.memberId, { appUrl: two.b.url });
  await b24.finishInstall(filler.memberId);
  await eventually(async () => (await ownedBy(two.b.url)) === 1, 20_000, 100);
  const info = await b24.createPortal();
  const adminId = (await b24.addUser(info.memberId, { name: 'Ann', lastName: 'Admin', email: `ann-${info.memberId}@example.com`, admin: true })).id;
  const agentId = (await b24.addUser(info.memberId, { name: 'Anna', lastName: 'Agent', email: `anna-${info.memberId}@example.com` })).id;
  const installed = await b24.install(info.memberId, { appUrl: two.b.url });
  expect(installed.installerPage.status).toBe(200);
  await b24.finishInstall(info.memberId);
  const tenant: Tenant = {
    info, memberId: info.memberId, adminId, agentId,
    adminToken: (await b24.frameToken(info.memberId, adminId)).accessToken,
    agentToken: (await b24.frameToken(info.memberId, agentId)).accessToken,
  };
  await eventually(async () => (await two.api('a', tenant, 'admin', 'GET', '/status')).status === 200, 10_000);
  await eventually(async () => (await ownedBy(two.a.url)) === 1, 20_000, 100);
  const emulator = two.stack.pbx;
  const saved = await two.api('a', tenant, 'admin', 'PUT', '/settings', {
    enabled: true, defaultCountry: 'US', pbx: { baseUrl: emulator.url, clientId: emulator.clientId, clientSecret: emulator.clientSecret, ...pbx },
  });
  expect(saved.status, saved.text).toBe(200);
  await eventually(async () => ((await two.api('a', tenant, 'admin', 'GET', '/status')).body as { pbx?: { state?: string } }).pbx?.state === 'connected', 15_000, 100);
  expect((await two.api('a', tenant, 'admin', 'PUT', '/bindings', { bindings: [{ userId: agentId, extension: '1001' }] })).status).toBe(200);
  return tenant;
}
