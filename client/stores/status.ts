import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { StatusResponse } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** The portal's state as the server sees it: who the user is, PBX link, outbox depth. */
export const useStatusStore = defineStore('status', () => {
  const status = ref<StatusResponse | null>(null);
  const error = ref<UserError | null>(null);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(async () => {
      try {
        status.value = await useApi().status();
        error.value = null;
      } catch (e) {
        error.value = toUserError(e);
      }
    }),
  );

  return { status: readonly(status), error: readonly(error), loading, load };
});
