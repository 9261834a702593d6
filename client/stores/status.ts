import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { StatusResponse } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { pollWhileVisible } from '../live.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/**
 * The portal's state as the server sees it: who the user is, PBX link, outbox depth. Once loaded it stays live
 * (client/live.ts): a conditional GET every few seconds while the frame is visible, so the PBX badge follows the link
 * without a reload.
 */
export const useStatusStore = defineStore('status', () => {
  const status = ref<StatusResponse | null>(null);
  const error = ref<UserError | null>(null);
  const { loading, track } = useDelayedLoading();
  let etag: string | null = null;
  let stopLive: (() => void) | null = null;

  /** One conditional read: the status only changes when the server's answer did. */
  const refreshIfChanged = singleFlight(async () => {
    try {
      const answer = await useApi().statusIfChanged(etag);
      etag = answer.etag;
      if (answer.body) status.value = answer.body;
      error.value = null;
    } catch (e) {
      error.value = toUserError(e);
    }
  });

  const load = singleFlight(() =>
    track(async () => {
      try {
        const answer = await useApi().statusIfChanged(null);
        etag = answer.etag;
        if (answer.body) status.value = answer.body;
        error.value = null;
        stopLive ??= pollWhileVisible(refreshIfChanged);
      } catch (e) {
        error.value = toUserError(e);
      }
    }),
  );

  /** Stops the live poll (a view going away for good; tests). */
  function stopFollowing(): void {
    stopLive?.();
    stopLive = null;
  }

  return { status: readonly(status), error: readonly(error), loading, load, refreshIfChanged, stopFollowing };
});
