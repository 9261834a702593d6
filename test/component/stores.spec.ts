// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../client/apiContext.js';
import { useBindingsStore } from '../../client/stores/bindings.js';
import { useStatusStore } from '../../client/stores/status.js';
import { useTimelineStore } from '../../client/stores/timeline.js';
import { useActivityStore } from '../../client/stores/activity.js';
import { useSettingsStore } from '../../client/stores/settings.js';
import type { UserRow } from '../../contract/api-shapes.js';
import { fail, fakeApi, ok } from './fake-api.js';
import { callFixture, settingsFixture, statusFixture } from './fixtures.js';

beforeEach(() => setActivePinia(createPinia()));

describe('status store', () => {
  it('makes one request when two components load at once', async () => {
    const { api, seen } = fakeApi({ 'GET /status': ok(statusFixture()) });
    setApi(api);
    const store = useStatusStore();
    await Promise.all([store.load(), store.load()]);
    expect(seen).toHaveLength(1);
    expect(store.status?.portal.domain).toBe('acme.bitrix24.com');
  });

  it('keeps an error people can act on, and clears it on a good retry', async () => {
    const { api } = fakeApi({ 'GET /status': [fail(503, 'UNAVAILABLE', 'down'), ok(statusFixture())] });
    setApi(api);
    const store = useStatusStore();
    await store.load();
    expect(store.error?.key).toBe('errors.unavailable');
    await store.load();
    expect(store.error).toBeNull();
  });
});

describe('bindings store', () => {
  const users: UserRow[] = Array.from({ length: 120 }, (_, i) => ({
    id: i + 1, name: `User ${i + 1}`, email: `u${i + 1}@acme.test`, innerPhone: '', extension: null, bindingSource: null, cardMode: 'ring',
  }));

  it('saves an employee\'s call card mode (admin) and shows it on the row', async () => {
    const { api, seen } = fakeApi({ 'GET /users': ok(users.slice(0, 2)), 'GET /extensions': ok([]), 'PUT /card-modes': ok({ modes: { 2: 'answer' } }) });
    setApi(api);
    const store = useBindingsStore();
    await store.load();
    expect(await store.saveCardMode(2, 'answer')).toBe(true);
    expect(seen.find((r) => r.method === 'PUT')).toMatchObject({ url: '/card-modes', body: { modes: [{ userId: 2, mode: 'answer' }] } });
    expect(store.users.map((u) => u.cardMode)).toEqual(['ring', 'answer']);
  });

  // Before issue 12 the store saved in chunks of 50: a swap split across two chunks could be refused half-way.
  it('saves hundreds of bindings in one request, so the server checks them (a swap) as a whole', async () => {
    const { api, seen } = fakeApi({
      'GET /users': ok(users),
      'GET /extensions': ok([]),
      'PUT /bindings': ok({ bindings: [], conflicts: [], applied: true }),
    });
    setApi(api);
    const store = useBindingsStore();
    const saving: number[] = [];
    store.$subscribe(() => {
      if (store.savingCount) saving.push(store.savingCount);
    });
    const changes = users.map((user) => ({ userId: user.id, extension: String(1000 + user.id) }));
    expect(await store.saveBindings(changes)).toBe(true);
    const puts = seen.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => (r.body as { bindings: unknown[] }).bindings.length)).toEqual([120]);
    expect(saving).toContain(120);
    expect(store.savingCount).toBe(0);
  });

  it('reports a refused save (a conflict) as not saved, with the conflicts', async () => {
    const conflict = { userId: 2, extension: '1001', reason: 'extension 1001 would also ring User 1: give one of them another extension' };
    const { api } = fakeApi({ 'GET /users': ok(users), 'GET /extensions': ok([]), 'PUT /bindings': ok({ bindings: [], conflicts: [conflict], applied: false }) });
    setApi(api);
    const store = useBindingsStore();
    expect(await store.saveBindings([{ userId: 2, extension: '1001' }])).toBe(false);
    expect(store.conflicts).toEqual([conflict]);
  });

  it('previews auto-binding with dryRun and applies it without', async () => {
    const pairs = [{ userId: 1, extension: '1001', reason: 'email' }];
    const { api, seen } = fakeApi({
      'POST /bindings/auto': (request) => ok({ pairs, changes: [], conflicts: [], applied: !(request.body as { dryRun: boolean }).dryRun }),
      'GET /users': ok(users.slice(0, 1)),
      'GET /extensions': ok([]),
    });
    setApi(api);
    const store = useBindingsStore();
    await store.previewAutoBind();
    expect(store.preview?.pairs).toEqual(pairs);
    expect(await store.applyAutoBind()).toBe(true);
    expect(seen.filter((r) => r.url === '/bindings/auto').map((r) => r.body)).toEqual([{ dryRun: true }, { dryRun: false }]);
    expect(store.preview).toBeNull();
  });
});

describe('timeline store', () => {
  it('pages older calls with `before` and never shows a call twice', async () => {
    const first = [callFixture('c3', 3000), callFixture('c2', 2000)];
    const second = [callFixture('c2', 2000), callFixture('c1', 1000)];
    const { api, seen } = fakeApi({
      'GET /calls': (request) => (request.params.before ? ok({ calls: second, nextBefore: null }) : ok({ calls: first, nextBefore: 2000 })),
    });
    setApi(api);
    const store = useTimelineStore();
    await store.open('CONTACT', 7);
    expect(store.calls.map((c) => c.id)).toEqual(['c3', 'c2']);
    await store.loadMore();
    expect(store.calls.map((c) => c.id)).toEqual(['c3', 'c2', 'c1']);
    expect(store.nextBefore).toBeNull();
    expect(seen[1]?.params).toMatchObject({ entityType: 'CONTACT', entityId: 7, before: 2000 });
  });
});

describe('activity store', () => {
  it('retries a parked write and drops it from the list', async () => {
    const { api, seen } = fakeApi({
      'GET /calls/recent': ok({ calls: [], nextBefore: null }),
      'GET /outbox/failed': ok([{ id: 'w1', method: 'telephony.externalCall.finish', group: 'call-1', attempts: 8, lastError: 'QUERY_LIMIT_EXCEEDED', createdAt: 1 }]),
      'POST /outbox/w1/retry': ok({}),
    });
    setApi(api);
    const store = useActivityStore();
    await store.load();
    expect(store.failedWrites).toHaveLength(1);
    expect(await store.retry('w1')).toBe(true);
    expect(store.failedWrites).toHaveLength(0);
    expect(seen.some((r) => r.method === 'POST' && r.url === '/outbox/w1/retry')).toBe(true);
  });
});

describe('settings store', () => {
  it('shows why a save failed and keeps the settings it had', async () => {
    const { api } = fakeApi({ 'GET /settings': ok(settingsFixture()), 'PUT /settings': fail(403, 'FORBIDDEN', 'admins only') });
    setApi(api);
    const store = useSettingsStore();
    await store.load();
    expect(await store.save({ enabled: true })).toBe(false);
    expect(store.saveError?.key).toBe('errors.forbidden');
    expect(store.settings?.enabled).toBe(false);
  });
});
