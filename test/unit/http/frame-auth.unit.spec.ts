import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { frameAuth, requireAdmin } from '../../../server/http/middleware/frame-auth.js';
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

function app(store: Store, clients: ReturnType<typeof profiles>, opts: { now?: () => number; maxEntries?: number } = {}) {
  const a = express();
  a.use(requestLog(createLogger('silent')));
  a.use(frameAuth({ store, clients, ttlMs: 1000, negativeTtlMs: 500, ...opts }));
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
});
