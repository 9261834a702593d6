import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { CallRow, FailedWriteRow, MissedCallTaskRow } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import type { UserError } from '../errors.js';
import { attempt } from './attempt.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** Recent calls of the portal, the Bitrix24 writes the outbox parked after its last retry, and open missed-call tasks. */
export const useActivityStore = defineStore('activity', () => {
  const calls = ref<CallRow[]>([]);
  const failedWrites = ref<FailedWriteRow[]>([]);
  const missedTasks = ref<MissedCallTaskRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const retrying = ref<string[]>([]);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(() => attempt(error, async () => {
      const api = useApi();
      // The missed-call task list is an extra: a server without it must not hide the calls.
      const [recent, failed, missed] = await Promise.all([
        api.recentCalls(), api.failedWrites(), api.missedCallTasks().catch((): MissedCallTaskRow[] => []),
      ]);
      calls.value = recent.calls;
      failedWrites.value = failed;
      missedTasks.value = missed;
      loaded.value = true;
    })),
  );

  async function retry(id: string): Promise<boolean> {
    retrying.value = [...retrying.value, id];
    const retried = await attempt(error, async () => {
      await useApi().retryWrite(id);
      failedWrites.value = failedWrites.value.filter((row) => row.id !== id);
      return true;
    });
    retrying.value = retrying.value.filter((other) => other !== id);
    return retried ?? false;
  }

  return {
    calls: readonly(calls),
    failedWrites: readonly(failedWrites),
    missedTasks: readonly(missedTasks),
    loaded: readonly(loaded),
    error: readonly(error),
    retrying: readonly(retrying),
    loading,
    load,
    retry,
  };
});
