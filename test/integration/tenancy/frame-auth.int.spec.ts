import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_AUTH_DEFAULTS } from '../../../server/http/middleware/frame-auth.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Attacks on /api frame auth (issue 10 point 6), against the running product and the Bitrix24 emulator:
 * - an admin demoted, or deactivated, in Bitrix24 kept admin rights here for the 10 minutes of the verdict cache;
 *   now a mutation needs a verdict younger than 60 s, so the change bites within a minute;
 * - every new garbage bearer cost an outbound `profile` call, unmetered: now checks of unseen tokens are metered per
 *   portal and per client address (429 + Retry-After, nothing sent), while other portals and addresses are served;
 * - a token our app never issued (another app on the same portal) passed as a user: now refused.
 *
 * The product's clock for frame auth is injected (startServer `frameAuth.now`), so "61 s later" is a step of the clock,
 * not a sleep, and no token bucket refills behind the test's back. The production defaults are used throughout.
 * Client addresses are told apart the way the reverse proxy tells them (X-Forwarded-For from loopback, `trust proxy`).
 */
describe('tenancy: frame auth keeps up with Bitrix24 and meters unknown tokens', () => {
  let stack: Stack;
  let t: Tenant;
  let other: Tenant;
  let clock = Date.now();

  beforeAll(async () => {
    stack = await startStack({ start: { frameAuth: { now: () => clock } } });
    t = await stack.addTenant({ pbx: 'none' });
    other = await stack.addTenant({ pbx: 'none' });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  async function api(memberId: string, token: string, method: string, path: string, from: string, body?: unknown) {
    const res = await fetch(`${stack.url()}/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`, 'x-member-id': memberId, 'x-forwarded-for': from,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
  }

  const putSettings = (memberId: string, token: string, from: string) => api(memberId, token, 'PUT', '/settings', from, { defaultCountry: 'US' });
  /** HTTP requests the portal received for frame checks (a batch of profile + app.info, or a bare profile). */
  const batches = async (memberId: string) => (await stack.b24.requests({ memberId }))
    .filter((r) => !r.viaBatch && (r.method === 'batch' || r.method === 'profile')).length;

  async function newAdmin(name: string): Promise<{ id: number; token: string }> {
    const { id } = await stack.b24.addUser(t.memberId, { name, lastName: 'Admin', email: `${name}@example.com`, admin: true });
    return { id, token: (await stack.b24.frameToken(t.memberId, id)).accessToken };
  }

  it('a demoted admin can change nothing once 60 s have passed since their rights were last checked (403)', async () => {
    const dana = await newAdmin('dana');
    expect((await putSettings(t.memberId, dana.token, '198.51.100.1')).status).toBe(200);
    await stack.b24.updateUser(t.memberId, dana.id, { admin: false });
    clock += FRAME_AUTH_DEFAULTS.mutationTtlMs + 1_000;
    const refused = await putSettings(t.memberId, dana.token, '198.51.100.1');
    expect(refused.status, refused.text).toBe(403);
    // The portal's real admin is not affected.
    expect((await putSettings(t.memberId, t.adminToken, '198.51.100.1')).status).toBe(200);
  });

  it('a deactivated admin can change nothing either: the portal no longer accepts their token (401)', async () => {
    const eve = await newAdmin('eve');
    expect((await putSettings(t.memberId, eve.token, '198.51.100.2')).status).toBe(200);
    await stack.b24.updateUser(t.memberId, eve.id, { active: false });
    clock += FRAME_AUTH_DEFAULTS.mutationTtlMs + 1_000;
    expect((await putSettings(t.memberId, eve.token, '198.51.100.2')).status).toBe(401);
    expect((await api(t.memberId, eve.token, 'GET', '/status', '198.51.100.2')).status).toBe(401);
  });

  it('200 garbage bearers from one address cost at most the address\'s burst in outbound checks; the rest get 429, other addresses and portals are served', async () => {
    clock += 10 * 60_000; // full buckets
    const attacker = '203.0.113.66';
    const before = await batches(t.memberId);
    const statuses = new Map<number, number>();
    let retryAfter: string | null = null;
    for (let i = 0; i < 200; i++) {
      const res = await api(t.memberId, `garbage-bearer-${String(i).padStart(4, '0')}`, 'GET', '/status', attacker);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) retryAfter = res.retryAfter;
    }
    const outbound = (await batches(t.memberId)) - before;
    const burst = FRAME_AUTH_DEFAULTS.missLimitPerAddress.burst;
    expect(outbound).toBeLessThanOrEqual(burst);
    expect(outbound).toBeGreaterThan(0);
    expect(statuses.get(401)).toBe(outbound);
    expect(statuses.get(429)).toBe(200 - outbound);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await stack.logs()).toMatch(/frame token check refused: too many unknown tokens/);

    // The same portal from another address, and another portal, with tokens never seen before: served.
    const fresh = (await stack.b24.frameToken(t.memberId, t.agentId)).accessToken;
    expect((await api(t.memberId, fresh, 'GET', '/status', '198.51.100.3')).status).toBe(200);
    const otherFresh = (await stack.b24.frameToken(other.memberId, other.agentId)).accessToken;
    expect((await api(other.memberId, otherFresh, 'GET', '/status', '198.51.100.4')).status).toBe(200);
    // A user already checked is served even from the flooding address (no check needed).
    expect((await api(t.memberId, t.adminToken, 'GET', '/status', attacker)).status).toBe(200);
  });

  it('garbage from many addresses is capped per portal; another portal is still served', async () => {
    clock += 10 * 60_000;
    const before = await batches(t.memberId);
    let limited = 0;
    for (let i = 0; i < 100; i++) {
      const res = await api(t.memberId, `spread-garbage-${String(i).padStart(4, '0')}`, 'GET', '/status', `203.0.113.${i + 1}`);
      if (res.status === 429) limited += 1;
    }
    const outbound = (await batches(t.memberId)) - before;
    expect(outbound).toBeGreaterThan(0);
    expect(outbound).toBeLessThanOrEqual(FRAME_AUTH_DEFAULTS.missLimitPerPortal.burst);
    expect(limited).toBe(100 - outbound);
    const otherFresh = (await stack.b24.frameToken(other.memberId, other.agentId)).accessToken;
    expect((await api(other.memberId, otherFresh, 'GET', '/status', '198.51.100.5')).status).toBe(200);
  });

  it('refuses a token Bitrix24 issued to another application on the same portal (401), though the portal accepts it', async () => {
    clock += 10 * 60_000;
    const foreignApp = await stack.b24.frameToken(t.memberId, t.adminId, { clientId: 'local.otherapp000000001.00000002' });
    const before = await stack.b24.requests({ memberId: t.memberId, method: 'app.info' });
    const res = await api(t.memberId, foreignApp.accessToken, 'GET', '/status', '198.51.100.6');
    expect(res.status, res.text).toBe(401);
    expect((await api(t.memberId, foreignApp.accessToken, 'PUT', '/settings', '198.51.100.6', { defaultCountry: 'DE' })).status).toBe(401);
    // The portal answered the check (the token works there): it is the application that does not match.
    const answered = (await stack.b24.requests({ memberId: t.memberId, method: 'app.info' })).slice(before.length);
    expect(answered.some((r) => r.httpStatus === 200 && r.userId === t.adminId)).toBe(true);
    expect(await stack.logs()).toMatch(/"reason":"WRONG_APPLICATION"[^\n]*frame token refused by the portal/);
    // Our own app's token for the same user is fine.
    const ours = (await stack.b24.frameToken(t.memberId, t.adminId)).accessToken;
    expect((await api(t.memberId, ours, 'GET', '/status', '198.51.100.6')).status).toBe(200);
  });
});
