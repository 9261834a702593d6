import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PbxError } from '../../../server/pbx/adapter.js';
import { createTokenManager } from '../../../server/pbx/yeastar/tokens.js';
import { fakeTransport, tokenReply } from './fake-transport.js';

const log = pino({ level: 'silent' });

describe('Yeastar token manager', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('many callers at once share one get_token request', async () => {
    let n = 0;
    const t = fakeTransport({ '/openapi/v1.0/get_token': () => tokenReply(++n) });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log });
    const got = await Promise.all(Array.from({ length: 20 }, () => tokens.getToken()));
    expect(new Set(got)).toEqual(new Set(['access-1']));
    expect(t.requests.filter((r) => r.path.endsWith('get_token'))).toHaveLength(1);
    expect(t.requests[0]?.body).toEqual({ username: 'id', password: 's' });
  });

  it('refreshes with refresh_token shortly before expiry and revokes the replaced token after the grace', async () => {
    let n = 0;
    const t = fakeTransport({
      '/openapi/v1.0/get_token': () => tokenReply(++n),
      '/openapi/v1.0/refresh_token': (req) => ({ json: { ...tokenReply(++n).json, echoed: (req.body as { refresh_token: string }).refresh_token } }),
      '/openapi/v1.0/del_token': () => ({ json: { errcode: 0, errmsg: 'SUCCESS' } }),
    });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log, refreshLeadMs: 60_000, revokeGraceMs: 5_000 });
    expect(await tokens.getToken()).toBe('access-1');
    vi.setSystemTime(1_000_000 + 1_700_000);
    expect(await tokens.getToken()).toBe('access-1');
    vi.setSystemTime(1_000_000 + 1_750_000);
    expect(await tokens.getToken()).toBe('access-2');
    const refresh = t.requests.find((r) => r.path.endsWith('refresh_token'));
    expect(refresh?.body).toEqual({ refresh_token: 'refresh-1' });
    expect(t.requests.some((r) => r.path.endsWith('del_token'))).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    const del = t.requests.filter((r) => r.path.endsWith('del_token'));
    expect(del.map((r) => r.query?.['access_token'])).toEqual(['access-1']);
    expect(t.requests.filter((r) => r.path.endsWith('get_token'))).toHaveLength(1);
  });

  it('falls back to get_token when refresh fails', async () => {
    let n = 0;
    const t = fakeTransport({
      '/openapi/v1.0/get_token': () => tokenReply(++n),
      '/openapi/v1.0/refresh_token': () => ({ json: { errcode: 40002, errmsg: 'PARAMETER ERROR' } }),
    });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log });
    await tokens.getToken();
    tokens.invalidate('access-1');
    expect(await tokens.getToken()).toBe('access-2');
    expect(t.requests.map((r) => r.path.split('/').pop())).toEqual(['get_token', 'refresh_token', 'get_token']);
  });

  it('a wrong secret is terminal: auth_failed with the PBX words, and no second login attempt', async () => {
    const t = fakeTransport({
      '/openapi/v1.0/get_token': () => ({ json: { errcode: -1, errmsg: 'FAILURE', invalid_param_list: [{ field: 'username or password', value: 'error' }] } }),
    });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 'bad', log });
    const err = await tokens.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PbxError);
    expect((err as PbxError).code).toBe('PBX_AUTH_FAILED');
    expect((err as PbxError).message).toMatch(/Client ID \/ Client Secret.*username or password.*FAILURE/);
    for (let i = 0; i < 10; i += 1) await tokens.getToken().catch(() => undefined);
    await vi.advanceTimersByTimeAsync(3_600_000);
    await tokens.getToken().catch(() => undefined);
    expect(t.requests).toHaveLength(1);
    expect(tokens.status()).toMatchObject({ health: 'auth_failed' });
  });

  it('the token cap (60002) backs off minutes, then tries again', async () => {
    let capped = true;
    const t = fakeTransport({
      '/openapi/v1.0/get_token': () => (capped ? { json: { errcode: 60002, errmsg: 'MAX LIMITATION EXCEEDED' } } : tokenReply(9)),
    });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log, tokenCapBackoffMs: { initial: 300_000, max: 1_800_000 } });
    const err = await tokens.getToken().catch((e: unknown) => e);
    expect((err as PbxError).code).toBe('PBX_TOKEN_LIMIT');
    expect(tokens.status()).toMatchObject({ health: 'auth_failed', retryAt: 1_000_000 + 300_000 });
    for (let i = 0; i < 5; i += 1) await tokens.getToken().catch(() => undefined);
    expect(t.requests).toHaveLength(1);
    capped = false;
    vi.setSystemTime(1_000_000 + 300_001);
    expect(await tokens.getToken()).toBe('access-9');
    expect(t.requests).toHaveLength(2);
  });

  it('a missing User-Agent style PARAMETER ERROR backs off, doubling, instead of hammering', async () => {
    const t = fakeTransport({ '/openapi/v1.0/get_token': () => ({ json: { errcode: 40002, errmsg: 'PARAMETER ERROR' } }) });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log, failureBackoffMs: { initial: 1_000, max: 8_000 } });
    const err = await tokens.getToken().catch((e: unknown) => e);
    expect((err as PbxError).code).toBe('PBX_BAD_REQUEST');
    await tokens.getToken().catch(() => undefined);
    expect(t.requests).toHaveLength(1);
    vi.setSystemTime(1_000_000 + 1_001);
    await tokens.getToken().catch(() => undefined);
    expect(t.requests).toHaveLength(2);
    expect(tokens.status().retryAt).toBe(1_000_000 + 1_001 + 2_000);
  });

  it('close revokes the held token and the one waiting for its grace', async () => {
    let n = 0;
    const t = fakeTransport({
      '/openapi/v1.0/get_token': () => tokenReply(++n),
      '/openapi/v1.0/refresh_token': () => tokenReply(++n),
      '/openapi/v1.0/del_token': () => ({ json: { errcode: 0, errmsg: 'SUCCESS' } }),
    });
    const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log, revokeGraceMs: 60_000 });
    await tokens.getToken();
    tokens.invalidate('access-1');
    await tokens.getToken();
    await tokens.close();
    const revoked = t.requests.filter((r) => r.path.endsWith('del_token')).map((r) => r.query?.['access_token']).sort();
    expect(revoked).toEqual(['access-1', 'access-2']);
    await expect(tokens.getToken()).rejects.toThrow(/closed/);
  });
});
