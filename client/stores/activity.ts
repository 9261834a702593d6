import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { CallRow, FailedWriteRow } from '../../server/http/api/shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** Recent calls of the portal and the Bitrix24 writes the outbox parked after its last retry. */
export const useActivityStore = defineStore('activity', () => {
  const calls = ref<CallRow[]>([]);
  const failedWrites = ref<FailedWriteRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const retrying = ref<string[]>([]);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(async () => {
      try {
        const api = useApi();
        const [recent, failed] = await Promise.all([api.recentCalls(), api.failedWrites()]);
        calls.value = recent.calls;
        failedWrites.value = failed;
        loaded.value = true;
        error.value = null;
      } catch (e) {
        error.value = toUserError(e);
      }
    }),
  );

  async function retry(id: string): Promise<boolean> {
    retrying.value = [...retrying.value, id];
    try {
      await useApi().retryWrite(id);
      failedWrites.value = failedWrites.value.filter((row) => row.id !== id);
      error.value = null;
      return true;
    } catch (e) {
      error.value = toUserError(e);
      return false;
    } finally {
      retrying.value = retrying.value.filter((other) => other !== id);
    }
  }

  return {
    calls: readonly(calls),
    failedWrites: readonly(failedWrites),
    loaded: readonly(loaded),
    error: readonly(error),
    retrying: readonly(retrying),
    loading,
    load,
    retry,
  };
});
