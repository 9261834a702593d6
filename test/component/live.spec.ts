// @vitest-environment happy-dom
/**
 * Issue 12 point 2: open frames stay live with a conditional poll (client/live.ts). These tests hold that the poll
 * runs while the frame is visible, pauses while it is hidden and runs at once when it shows again, and that a 304
 * keeps what the store shows while a changed answer replaces it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../client/apiContext.js';
import { LIVE_POLL_MS, pollWhileVisible } from '../../client/live.js';
import { useStatusStore } from '../../client/stores/status.js';
import { fakeApi, ok } from './fake-api.js';
import { statusFixture } from './fixtures.js';

let visibility: DocumentVisibilityState = 'visible';

function setVisibility(next: DocumentVisibilityState): void {
  visibility = next;
  document.dispatchEvent(new Event('visibilitychange'));
}

beforeEach(() => {
  visibility = 'visible';
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visibility });
  vi.useFakeTimers();
  setActivePinia(createPinia());
});
afterEach(() => {
  vi.useRealTimers();
});

describe('pollWhileVisible', () => {
  it('runs every tick while visible, not while hidden, and at once when shown again', async () => {
    let runs = 0;
    const stop = pollWhileVisible(async () => {
      runs += 1;
    }, 1_000);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(runs).toBe(3);
    setVisibility('hidden');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(3);
    setVisibility('visible');
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(4);
    stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(4);
  });
});

describe('status store, live', () => {
  it('asks with the ETag it got; a 304 keeps the status, a new answer replaces it', async () => {
    const frozen = statusFixture();
    frozen.pbx = { ...frozen.pbx, state: 'unreachable', lastError: 'the PBX stopped answering', lastErrorCode: 'PBX_NOT_ANSWERING' };
    const { api, seen } = fakeApi({ 'GET /status': [ok(statusFixture()), { status: 304, body: '' }, ok(frozen)] });
    setApi(api);
    const store = useStatusStore();
    await store.load();
    expect(store.status?.pbx.state).toBe('connected');
    await vi.advanceTimersByTimeAsync(LIVE_POLL_MS);
    expect(seen).toHaveLength(2);
    expect(store.status?.pbx.state).toBe('connected');
    await vi.advanceTimersByTimeAsync(LIVE_POLL_MS);
    expect(seen).toHaveLength(3);
    expect(store.status?.pbx.state).toBe('unreachable');
    expect(store.status?.pbx.lastErrorCode).toBe('PBX_NOT_ANSWERING');
    store.stopFollowing();
  });
});
