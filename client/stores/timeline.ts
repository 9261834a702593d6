import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { CallRow } from '../../contract/api-shapes.js';
import type { CallsFilter } from '../api.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { pollWhileVisible } from '../live.js';
import { useDelayedLoading } from './loading.js';

export const TIMELINE_PAGE = 20;

/**
 * The calls of one CRM record (or, for the call card, of one outside number), newest first, paged with `before`.
 * While one is open its first page stays live
 * (client/live.ts): a call goes ringing → talking → ended in the timeline tab and the call card without a Refresh.
 */
export const useTimelineStore = defineStore('timeline', () => {
  const entity = ref<{ entityType: string; entityId: number } | null>(null);
  const phone = ref<string | null>(null);
  const calls = ref<CallRow[]>([]);
  const nextBefore = ref<number | null>(null);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const { loading, track } = useDelayedLoading();
  let inFlight: Promise<void> | null = null;
  let firstPageEtag: string | null = null;
  let stopLive: (() => void) | null = null;

  /** What is open: a CRM record (timeline tab) or an outside number (call card). */
  const currentTarget = (): CallsFilter | null => entity.value ?? (phone.value !== null ? { phone: phone.value } : null);

  function fetchPage(before: number | null): Promise<void> {
    const target = currentTarget();
    if (!target) return Promise.resolve();
    inFlight ??= track(async () => {
      try {
        const page = await useApi().calls({ ...target, before, limit: TIMELINE_PAGE });
        const known = new Set(before === null ? [] : calls.value.map((call) => call.id));
        const fresh = page.calls.filter((call) => !known.has(call.id));
        calls.value = before === null ? fresh : [...calls.value, ...fresh];
        nextBefore.value = page.nextBefore;
        if (before === null) firstPageEtag = null;
        loaded.value = true;
        error.value = null;
      } catch (e) {
        error.value = toUserError(e);
      }
    }).finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  /** The live poll: the first page again, only when the server's answer changed; older pages already shown stay. */
  async function followFirstPage(): Promise<void> {
    const target = currentTarget();
    if (!target || inFlight) return;
    try {
      const answer = await useApi().callsIfChanged({ ...target, limit: TIMELINE_PAGE }, firstPageEtag);
      if (JSON.stringify(currentTarget()) !== JSON.stringify(target)) return;
      firstPageEtag = answer.etag;
      if (!answer.body) return;
      const page = answer.body;
      const onPage = new Set(page.calls.map((call) => call.id));
      const older = calls.value.filter((call) => !onPage.has(call.id));
      calls.value = [...page.calls, ...older];
      if (older.length === 0) nextBefore.value = page.nextBefore;
      loaded.value = true;
      error.value = null;
    } catch (e) {
      error.value = toUserError(e);
    }
  }

  function open(entityType: string, entityId: number): Promise<void> {
    entity.value = { entityType, entityId };
    phone.value = null;
    return reset();
  }

  /** The call card: the calls with this number, whichever CRM record they were logged on. */
  function openByPhone(number: string): Promise<void> {
    entity.value = null;
    phone.value = number;
    return reset();
  }

  function reset(): Promise<void> {
    calls.value = [];
    nextBefore.value = null;
    loaded.value = false;
    firstPageEtag = null;
    stopLive ??= pollWhileVisible(followFirstPage);
    return fetchPage(null);
  }

  /** Stops the live poll (the record's frame going away; tests). */
  function close(): void {
    stopLive?.();
    stopLive = null;
    entity.value = null;
    phone.value = null;
  }

  const refresh = (): Promise<void> => fetchPage(null);
  const loadMore = (): Promise<void> => (nextBefore.value === null ? Promise.resolve() : fetchPage(nextBefore.value));

  return {
    entity: readonly(entity),
    phone: readonly(phone),
    calls: readonly(calls),
    nextBefore: readonly(nextBefore),
    loaded: readonly(loaded),
    error: readonly(error),
    loading,
    open,
    openByPhone,
    close,
    refresh,
    loadMore,
  };
});
