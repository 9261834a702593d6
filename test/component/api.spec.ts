// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { toUserError } from '../../client/errors.js';
import { fail, fakeApi, ok } from './fake-api.js';
import { statusFixture } from './fixtures.js';

describe('client/api.ts: frame auth on every /api request', () => {
  it('sends the frame token as Bearer and the portal as X-Member-Id', async () => {
    const { api, seen } = fakeApi({ 'GET /status': ok(statusFixture()) });
    await api.status();
    expect(seen[0]?.headers.authorization).toBe('Bearer frame-token-1');
    expect(seen[0]?.headers['x-member-id']).toBe('member-1');
  });

  it('refreshes an expired frame token once and repeats the request with the new one', async () => {
    const { api, seen } = fakeApi({
      'GET /status': [fail(401, 'UNAUTHORIZED', 'token expired'), ok(statusFixture())],
    });
    const status = await api.status();
    expect(status.user.id).toBe(1);
    expect(seen.map((r) => r.headers.authorization)).toEqual(['Bearer frame-token-1', 'Bearer frame-token-2']);
  });

  it('shares one refresh between requests that fail together, and gives up after one retry', async () => {
    let refreshes = 0;
    const { api, seen } = fakeApi(
      { 'GET /status': fail(401, 'UNAUTHORIZED', 'token refused'), 'GET /settings': fail(401, 'UNAUTHORIZED', 'token refused') },
      {
        refreshAuth: async () => {
          refreshes += 1;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { accessToken: 'fresh', memberId: 'member-1' };
        },
      },
    );
    const results = await Promise.allSettled([api.status(), api.settings()]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(refreshes).toBe(1);
    expect(seen).toHaveLength(4);
  });

  it('asks the parent window for a token when the frame has none left before sending', async () => {
    let current: { accessToken: string; memberId: string } | null = null;
    const { api, seen } = fakeApi(
      { 'GET /status': ok(statusFixture()) },
      { auth: () => current, refreshAuth: async () => (current = { accessToken: 'renewed', memberId: 'member-1' }) },
    );
    await api.status();
    expect(seen[0]?.headers.authorization).toBe('Bearer renewed');
  });

  it('passes timeline paging as query parameters', async () => {
    const { api, seen } = fakeApi({ 'GET /calls': ok({ calls: [], nextBefore: null }) });
    await api.calls({ entityType: 'CONTACT', entityId: 7, before: 1700, limit: 20 });
    expect(seen[0]?.params).toEqual({ entityType: 'CONTACT', entityId: 7, before: 1700, limit: 20 });
  });
});

describe('client/errors.ts: API codes become i18n keys in one place', () => {
  // Issue 12 point 3 changed this: PBX errors show our own message with a next step, never the PBX's raw words.
  it('maps a known code to our message, without the PBX raw words', async () => {
    const { api } = fakeApi({ 'POST /pbx/test': fail(502, 'PBX_AUTH_FAILED', 'the PBX refused the client ID/secret [PBX said -1 FAILURE]') });
    const error = await api.testPbx({ baseUrl: 'https://pbx.acme.test', clientId: 'cid' }).catch((e: unknown) => e);
    expect(toUserError(error)).toEqual({ key: 'saveLive.errors.pbxAuthFailed', detail: null });
  });

  it('keeps the server words that name the field to fix', async () => {
    const { api } = fakeApi({ 'PUT /settings': fail(400, 'BAD_REQUEST', 'pbx.baseUrl: invalid URL') });
    const error = await api.saveSettings({ enabled: true }).catch((e: unknown) => e);
    expect(toUserError(error)).toEqual({ key: 'errors.badRequest', detail: 'pbx.baseUrl: invalid URL' });
  });

  it('falls back to the HTTP status for an unknown code', async () => {
    const { api } = fakeApi({ 'PUT /settings': fail(403, 'SOMETHING_NEW', 'no') });
    const error = await api.saveSettings({ enabled: true }).catch((e: unknown) => e);
    expect(toUserError(error).key).toBe('errors.forbidden');
  });

  it('reports a network failure as such', () => {
    expect(toUserError(new Error('boom')).key).toBe('errors.unknown');
  });
});
