import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createFrameAuth, frameAuth, requireAdmin, type FrameAuthTuning } from '../../../server/http/middleware/frame-auth.js';
import { errorHandler } from '../../../server/http/middleware/errors.js';
import { requestLog } from '../../../server/http/middleware/request-log.js';
import { createLogger } from '../../../server/log.js';
import { frameUser } from '../../../server/http/context.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import type { FrameProfile } from '../../../server/bitrix/client.js';
import type { Portal } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';

const portal = (memberId: string): Portal => ({
  memberId, domain: `${memberId}.example`, clientEndpoint: `https://${memberId}.example/rest/`, serverEndpoint: 'https://oauth.example/rest/',
  applicationToken: 't', accessToken: 'a', refreshToken: 'r', expiresAt: 0, scope: '', status: 'L', ratePlan: 'standard',
  lineNumber: 'pbx-1', installedAt: 0, updatedAt: 0, installed: true,
});

/** Only `portals.get` is read by frame auth. */
function portalsOnly(portals: Portal[]): Store {
  const byId = new Map(portals.map((p) => [p.memberId, p]));
  return { portals: { get: (id: string) => byId.get(id) } } as unknown as Store;
}

/** Plays Bitrix24's `profile`: each portal knows its own tokens. */
function profiles(tokens: Record<string, Record<string, FrameProfile | 'down'>>) {
  const calls: string[] = [];
  return {
    calls,
    profileOf: async (p: Portal, token: string): Promise<FrameProfile> => {
      calls.push(`${p.memberId}:${token}`);
      const answer = tokens[p.memberId]?.[token];
      if (answer === 'down') throw new BitrixError('NETWORK_ERROR', 'down', 0, true);
      if (!answer) throw new BitrixError('NO_AUTH_FOUND', 'Wrong authorization data', 401, false);
      return answer;
    },
  };
}

function app(store: Store, clients: ReturnType<typeof profiles>, opts: FrameAuthTuning = {}, middleware = frameAuth({ store, clients, ttlMs: 1000, negativeTtlMs: 500, ...opts })) {
  const a = express();
  // As in app.ts: the address of a client is the one the local reverse proxy names (X-Forwarded-For).
  a.set('trust proxy', 'loopback');
  a.use(requestLog(createLogger('silent')));
  a.use(middleware);
  a.use(requireAdmin);
  a.get('/who', (_req, res) => { res.json(frameUser(res)); });
  a.put('/settings', (_req, res) => { res.json({ ok: true }); });
  a.use(errorHandler());
  return a;
}

const auth = (token: string, memberId: string) => ({ Authorization: `Bearer ${token}`, 'X-Member-Id': memberId });

describe('frame auth', () => {
  const store = portalsOnly([portal('p1'), portal('p2')]);

  it('resolves the user from the portal named by member_id, and lets only admins mutate', async () => {
    const c = profiles({ p1: { 'user-token-1': { userId: 5, isAdmin: false }, 'admin-token-1': { userId: 1, isAdmin: true } } });
    const a = app(store, c);
    const who = await request(a).get('/who').set(auth('user-token-1', 'p1'));
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ userId: 5, isAdmin: false, portal: { memberId: 'p1' } });
    expect((await request(a).put('/settings').set(auth('user-token-1', 'p1'))).status).toBe(403);
    expect((await request(a).put('/settings').set(auth('admin-token-1', 'p1'))).status).toBe(200);
  });

  it('refuses missing headers, unknown portals and another portal\'s token', async () => {
    const c = profiles({ p2: { 'token-of-p2': { userId: 9, isAdmin: true } } });
    const a = app(store, c);
    expect((await request(a).get('/who')).status).toBe(401);
    expect((await request(a).get('/who').set({ Authorization: 'Bearer token-of-p2' })).status).toBe(401);
    expect((await request(a).get('/who').set(auth('token-of-p2', 'nope'))).status).toBe(401);
    expect((await request(a).get('/who').set(auth('token-of-p2', 'p1'))).status).toBe(401);
    expect(c.calls).toEqual(['p1:token-of-p2']);
  });

  it('checks a token once for its cache life, then again', async () => {
    let t = 0;
    const c = profiles({ p1: { 'user-token-1': { userId: 5, isAdmin: false } } });
    const a = app(store, c, { now: () => t });
    for (let i = 0; i < 3; i++) expect((await request(a).get('/who').set(auth('user-token-1', 'p1'))).status).toBe(200);
    expect(c.calls).toHaveLength(1);
    t = 1500;
    await request(a).get('/who').set(auth('user-token-1', 'p1'));
    expect(c.calls).toHaveLength(2);
  });

  it('remembers a refused token briefly, so garbage does not spend the portal\'s rate limit', async () => {
    let t = 0;
    const c = profiles({});
    const a = app(store, c, { now: () => t });
    for (let i = 0; i < 3; i++) expect((await request(a).get('/who').set(auth('garbage-token', 'p1'))).status).toBe(401);
    expect(c.calls).toHaveLength(1);
    t = 600;
    await request(a).get('/who').set(auth('garbage-token', 'p1'));
    expect(c.calls).toHaveLength(2);
  });

  it('keeps the cache bounded', async () => {
    const tokens: Record<string, FrameProfile> = {};
    for (let i = 0; i < 5; i++) tokens[`token-number-${i}`] = { userId: i + 1, isAdmin: false };
    const c = profiles({ p1: tokens });
    const a = app(store, c, { maxEntries: 2 });
    for (let i = 0; i < 5; i++) await request(a).get('/who').set(auth(`token-number-${i}`, 'p1'));
    await request(a).get('/who').set(auth('token-number-0', 'p1'));
    expect(c.calls.filter((x) => x === 'p1:token-number-0')).toHaveLength(2);
  });

  it('answers 503 (not 401) when Bitrix24 cannot be reached, and does not cache that', async () => {
    const c = profiles({ p1: { 'user-token-1': 'down' } });
    const a = app(store, c);
    const res = await request(a).get('/who').set(auth('user-token-1', 'p1'));
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('BITRIX_UNAVAILABLE');
    await request(a).get('/who').set(auth('user-token-1', 'p1'));
    expect(c.calls).toHaveLength(2);
  });

  it('re-checks an admin\'s rights for a mutation once the verdict is older than the mutation TTL; reads keep the cache', async () => {
    let t = 0;
    const tokens: Record<string, Record<string, FrameProfile>> = { p1: { 'admin-token-1': { userId: 1, isAdmin: true } } };
    const c = profiles(tokens);
    const a = app(store, c, { now: () => t, ttlMs: 10_000, mutationTtlMs: 1_000 });
    expect((await request(a).put('/settings').set(auth('admin-token-1', 'p1'))).status).toBe(200);
    tokens.p1 = { 'admin-token-1': { userId: 1, isAdmin: false } };
    t = 900;
    expect((await request(a).put('/settings').set(auth('admin-token-1', 'p1'))).status).toBe(200);
    t = 1_100;
    expect((await request(a).get('/who').set(auth('admin-token-1', 'p1'))).status).toBe(200);
    expect(c.calls).toHaveLength(1);
    expect((await request(a).put('/settings').set(auth('admin-token-1', 'p1'))).status).toBe(403);
    expect(c.calls).toHaveLength(2);
  });

  it('meters checks of unseen tokens per address and per portal: 429 with Retry-After, no check sent', async () => {
    const t = 0;
    const c = profiles({ p1: { 'good-token-1': { userId: 5, isAdmin: false } }, p2: { 'good-token-2': { userId: 6, isAdmin: false } } });
    const a = app(store, c, {
      now: () => t, missLimitPerAddress: { burst: 3, perSecond: 0.5 }, missLimitPerPortal: { burst: 5, perSecond: 1 },
    });
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    for (let i = 0; i < 3; i++) expect((await request(a).get('/who').set({ ...auth(`garbage-${i}-xxxx`, 'p1'), ...from('203.0.113.1') })).status).toBe(401);
    const limited = await request(a).get('/who').set({ ...auth('garbage-9-xxxx', 'p1'), ...from('203.0.113.1') });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(c.calls).toHaveLength(3);
    // Known refusals are answered from the cache, not metered and not sent.
    expect((await request(a).get('/who').set({ ...auth('garbage-0-xxxx', 'p1'), ...from('203.0.113.1') })).status).toBe(401);
    // Another address on the same portal: 2 left in the portal's bucket.
    expect((await request(a).get('/who').set({ ...auth('garbage-5-xxxx', 'p1'), ...from('203.0.113.2') })).status).toBe(401);
    expect((await request(a).get('/who').set({ ...auth('good-token-1', 'p1'), ...from('203.0.113.3') })).status).toBe(200);
    expect((await request(a).get('/who').set({ ...auth('garbage-6-xxxx', 'p1'), ...from('203.0.113.4') })).status).toBe(429);
    // Another portal from a fresh address is served; a checked user is served from the flooding address.
    expect((await request(a).get('/who').set({ ...auth('good-token-2', 'p2'), ...from('203.0.113.5') })).status).toBe(200);
    expect((await request(a).get('/who').set({ ...auth('good-token-1', 'p1'), ...from('203.0.113.1') })).status).toBe(200);
    expect(c.calls).toHaveLength(6);
  });

  it('refills the buckets with time', async () => {
    let t = 0;
    const c = profiles({});
    const a = app(store, c, { now: () => t, missLimitPerAddress: { burst: 1, perSecond: 1 } });
    const from = { 'X-Forwarded-For': '198.51.100.9' };
    expect((await request(a).get('/who').set({ ...auth('garbage-a-xxxx', 'p1'), ...from })).status).toBe(401);
    expect((await request(a).get('/who').set({ ...auth('garbage-b-xxxx', 'p1'), ...from })).status).toBe(429);
    t = 1_000;
    expect((await request(a).get('/who').set({ ...auth('garbage-b-xxxx', 'p1'), ...from })).status).toBe(401);
  });

  it('a loopback peer (a process on this host, no proxy-named address) has no address bucket; the portal\'s still applies', async () => {
    const c = profiles({});
    const a = app(store, c, { missLimitPerAddress: { burst: 1, perSecond: 0.1 }, missLimitPerPortal: { burst: 3, perSecond: 0.1 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(a).get('/who').set(auth(`local-garbage-${i}`, 'p1'))).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('garbage does not evict the verdicts of real users', async () => {
    const tokens: Record<string, FrameProfile> = { 'real-user-token': { userId: 5, isAdmin: false } };
    const c = profiles({ p1: tokens });
    const a = app(store, c, { maxEntries: 2, missLimitPerAddress: { burst: 100, perSecond: 1 } });
    expect((await request(a).get('/who').set(auth('real-user-token', 'p1'))).status).toBe(200);
    for (let i = 0; i < 5; i++) await request(a).get('/who').set(auth(`garbage-${i}-evict`, 'p1'));
    expect((await request(a).get('/who').set(auth('real-user-token', 'p1'))).status).toBe(200);
    expect(c.calls.filter((x) => x === 'p1:real-user-token')).toHaveLength(1);
  });

  it('forgetPortal drops that portal\'s verdicts only (a re-install), including one being checked right then', async () => {
    const c = profiles({ p1: { 'admin-token-1': { userId: 1, isAdmin: true } }, p2: { 'admin-token-2': { userId: 2, isAdmin: true } } });
    const fa = createFrameAuth({ store, clients: c });
    const a = app(store, c, {}, fa.middleware);
    await request(a).get('/who').set(auth('admin-token-1', 'p1'));
    await request(a).get('/who').set(auth('admin-token-2', 'p2'));
    fa.forgetPortal('p1');
    await request(a).get('/who').set(auth('admin-token-1', 'p1'));
    await request(a).get('/who').set(auth('admin-token-2', 'p2'));
    expect(c.calls).toEqual(['p1:admin-token-1', 'p2:admin-token-2', 'p1:admin-token-1']);

    let release: () => void = () => undefined;
    // Resolved when a check reaches Bitrix24: the test waits for that event, not for a guessed 50 ms (a busy machine
    // took longer, released nothing and hung).
    let reached: () => void = () => undefined;
    const checkReached = () => new Promise<void>((resolve) => { reached = resolve; });
    const slow = {
      profileOf: async (p: Portal, token: string): Promise<FrameProfile> => {
        c.calls.push(`${p.memberId}:${token}`);
        const held = new Promise<void>((resolve) => { release = resolve; });
        reached();
        await held;
        return { userId: 1, isAdmin: true };
      },
    };
    const fb = createFrameAuth({ store, clients: slow });
    const b = app(store, c, {}, fb.middleware);
    let checking = checkReached();
    const first = request(b).get('/who').set(auth('admin-token-1', 'p1')).then((r) => r.status);
    await checking;
    fb.forgetPortal('p1');
    release();
    expect(await first).toBe(200);
    const before = c.calls.length;
    checking = checkReached();
    const second = request(b).get('/who').set(auth('admin-token-1', 'p1')).then((r) => r.status);
    await checking;
    release();
    expect(await second).toBe(200);
    expect(c.calls.length).toBe(before + 1);
  });
});
