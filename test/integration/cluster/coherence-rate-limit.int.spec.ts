import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../support/stack.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';

/**
 * Bitrix24 meters a portal, not our process (burst 50, 2 per second: https://apidocs.bitrix24.com/limits.html). Two
 * instances that each kept a full bucket of their own sent up to twice that together and met QUERY_LIMIT_EXCEEDED;
 * on PostgreSQL they take each request's room from one bucket in the database (bitrix/shared-bucket.ts).
 */

let two: TwoInstances;
let tenant: Tenant;
beforeAll(async () => {
  // The emulator meters nothing during the setup, so the test starts from an empty Bitrix24 bucket.
  two = await startTwoInstances({ b24: { rateLimit: false } });
  tenant = await two.stack.addTenant({ pbx: 'none' });
}, 180_000);
afterAll(async () => {
  await two.close();
});

describe('the portal\'s Bitrix24 rate limit across two instances', () => {
  it('two instances hammering Bitrix24 reads for one portal stay within its limit together', async () => {
    // Each instance checks the admin's frame token once (cached afterwards) before the limit is on.
    expect((await two.api('a', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    expect((await two.api('b', tenant, 'admin', 'GET', '/users')).status).toBe(200);
    await two.stack.b24.configure({ rateLimit: true });
    const requestsBefore = (await two.stack.b24.requests({ memberId: tenant.memberId })).length;

    // 30 reads on each instance at once: 60 requests, more than the burst of 50 that either alone may send.
    const reads = Array.from({ length: 30 }, () => [
      two.api('a', tenant, 'admin', 'GET', '/users'), two.api('b', tenant, 'admin', 'GET', '/users'),
    ]).flat();
    const answers = await Promise.all(reads);
    expect(answers.filter((r) => r.status !== 200).map((r) => r.text)).toEqual([]);

    const requests = (await two.stack.b24.requests({ memberId: tenant.memberId })).slice(requestsBefore);
    expect(requests.filter((r) => r.method === 'user.get').length).toBeGreaterThanOrEqual(60);
    expect(requests.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED')).toEqual([]);
  }, 120_000);
});
