import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { OpenItemsResponse } from '../../contract/api-shapes.js';
import type { OpenItemsQuery } from '../api.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { useDelayedLoading } from './loading.js';

/** The call card's open deals and activities of the caller's CRM record (the server caches them for 30 s). */
export const useOpenItemsStore = defineStore('openItems', () => {
  const record = ref<OpenItemsQuery | null>(null);
  const items = ref<OpenItemsResponse | null>(null);
  const error = ref<UserError | null>(null);
  const { loading, track } = useDelayedLoading();
  // One request per record at a time: two components (or a double click on retry) share it.
  let inFlight: { target: OpenItemsQuery; promise: Promise<void> } | null = null;

  function fetchItems(): Promise<void> {
    const target = record.value;
    if (!target) return Promise.resolve();
    if (inFlight?.target === target) return inFlight.promise;
    const promise: Promise<void> = track(async () => {
      try {
        const answer = await useApi().openItems(target);
        // The card may have moved to another record while this one was loading.
        if (record.value !== target) return;
        items.value = answer;
        error.value = null;
      } catch (e) {
        if (record.value === target) error.value = toUserError(e);
      }
    }).finally(() => {
      if (inFlight?.promise === promise) inFlight = null;
    });
    inFlight = { target, promise };
    return promise;
  }

  function open(entityType: OpenItemsQuery['entityType'], entityId: number): Promise<void> {
    record.value = { entityType, entityId };
    items.value = null;
    error.value = null;
    return fetchItems();
  }

  const refresh = (): Promise<void> => fetchItems();

  return {
    record: readonly(record),
    items: readonly(items),
    error: readonly(error),
    loading,
    open,
    refresh,
  };
});
