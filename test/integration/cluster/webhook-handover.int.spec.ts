import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsResponse } from '../../../contract/api-shapes.js';
import type { Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';
import { tenantOwnedByA } from './support/portal-owned-by-a.js';

/**
 * Issue 14, "any instance answers PBX webhooks": in webhook mode the PBX pushes its events to the portal's URL, which
 * a reverse proxy may route to any instance. Before: each instance derived the URL from its own DATA_DIR/webhook.key
 * (two instances, two URLs for one portal), and a push reaching an instance that did not hold the portal's link was
 * refused (401). Now the key is one row in the database, and the instance receiving the push checks its signature
 * and hands it to the owner, answering the PBX only once the owner took it.
 */

const SECRET = 'W'.repeat(32);
let two: TwoInstances;
let tenant: Tenant;

const webhookUrlOn = async (on: 'a' | 'b'): Promise<string> =>
  ((await two.api(on, tenant, 'admin', 'GET', '/settings')).body as SettingsResponse).pbx?.webhookUrl ?? '';
const handedPushes = async (): Promise<number> => {
  const database = two.a.services.store.database;
  if (!database) throw new Error('instance A runs without PostgreSQL');
  const { rows } = await database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM portal_work WHERE kind = 'pbx.webhookPush'`);
  return Number(rows[0]?.n ?? 0);
};

beforeAll(async () => {
  two = await startTwoInstances();
  tenant = await tenantOwnedByA(two, { events: 'webhook', webhookSecret: SECRET });
}, 180_000);
afterAll(async () => {
  await two.close();
});

describe('PBX webhook pushes reaching the instance that does not own the portal', () => {
  it('both instances give the portal the same webhook URL (one key in the database)', async () => {
    const onA = new URL(await webhookUrlOn('a'));
    const onB = new URL(await webhookUrlOn('b'));
    expect(onA.pathname).toMatch(/^\/pbx\/webhook\/[A-Za-z0-9_-]{32}$/);
    expect(onB.pathname).toBe(onA.pathname);
  });

  it('a call pushed to B is handed to A, which owns the link, and is registered in Bitrix24 once', async () => {
    const { b24, pbx } = two.stack;
    const url = `${two.b.url}${new URL(await webhookUrlOn('b')).pathname}`;
    await pbx.setWebhook({ url, secret: SECRET });
    const run = await pbx.scenario('inbound-answered', { from: '+15550104455', to: '1001', ringSeconds: 2, talkSeconds: 5, wait: true });
    await pbx.waitIdle();
    await eventually(async () => (await b24.calls(tenant.memberId)).some((c) => c.finished !== null), 30_000, 100);
    const calls = await b24.calls(tenant.memberId);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.phoneNumber).toContain('5550104455');
    const deliveries = (await pbx.webhookDeliveries()).filter((d) => d.url === url);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.map((d) => d.status)).toEqual(deliveries.map(() => 200));
    expect(two.logs()).toContain('handing it to the owner');
    expect(await two.stack.logs()).toContain('delivered to this instance\'s link');
    // The call is A's: stored under the PBX's call id, readable through either instance.
    await eventually(async () => JSON.stringify((await two.api('b', tenant, 'admin', 'GET', '/calls')).body).includes(run.callId), 10_000, 100);
    await pbx.clearWebhooks();
  }, 60_000);

  it('a push to B with a wrong signature is refused there and nothing reaches A', async () => {
    const { b24, pbx } = two.stack;
    const url = `${two.b.url}${new URL(await webhookUrlOn('b')).pathname}`;
    const handedBefore = await handedPushes();
    const callsBefore = (await b24.calls(tenant.memberId)).length;
    await pbx.setWebhook({ url, secret: 'X'.repeat(32) });
    await pbx.scenario('inbound-answered', { from: '+15550106677', to: '1001', ringSeconds: 1, talkSeconds: 1, wait: true });
    await pbx.waitIdle();
    const deliveries = (await pbx.webhookDeliveries()).filter((d) => d.url === url && d.status !== 200);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(new Set(deliveries.map((d) => d.status))).toEqual(new Set([401]));
    expect(await handedPushes()).toBe(handedBefore);
    expect((await b24.calls(tenant.memberId)).length).toBe(callsBefore);
    expect(two.logs()).toContain('PBX webhook refused: unknown key or wrong signature');
    await pbx.clearWebhooks();
  }, 60_000);
});
