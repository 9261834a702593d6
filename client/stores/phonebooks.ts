import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { ContactSyncRow, PhonebookRow, ResyncResponse } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { attempt } from './attempt.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** PBX phonebooks (only empty ones may become the sync target) and the state of the contact sync. */
export const usePhonebooksStore = defineStore('phonebooks', () => {
  const phonebooks = ref<PhonebookRow[]>([]);
  const syncRows = ref<ContactSyncRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const creating = ref(false);
  const resync = ref<ResyncResponse | null>(null);
  const { loading, track } = useDelayedLoading();
  /** How often the re-sync's progress is asked while it runs. */
  const RESYNC_POLL_MS = 1000;
  let polling: ReturnType<typeof setTimeout> | null = null;

  function pollResync(): void {
    if (polling !== null) return;
    polling = setTimeout(() => {
      polling = null;
      void useApi().resyncProgress().then((progress) => {
        resync.value = progress;
        if (progress.running) pollResync();
        else void load();
      }).catch((e: unknown) => {
        error.value = toUserError(e);
      });
    }, RESYNC_POLL_MS);
  }

  /** Re-syncs everything synced so far; progress and counts follow in `resync` until it is done. */
  async function startResync(): Promise<void> {
    const started = await attempt(error, () => useApi().resyncContacts());
    if (!started) return;
    resync.value = started;
    if (started.running) pollResync();
  }

  const load = singleFlight(() =>
    track(() => attempt(error, async () => {
      const api = useApi();
      const [books, rows] = await Promise.all([api.phonebooks(), api.contactSync()]);
      phonebooks.value = books;
      syncRows.value = rows;
      loaded.value = true;
    })),
  );

  async function create(name: string): Promise<PhonebookRow | null> {
    const created = await attempt(error, async () => {
      const book = await useApi().createPhonebook(name);
      phonebooks.value = [...phonebooks.value.filter((row) => row.id !== book.id), book];
      return book;
    }, creating);
    return created ?? null;
  }

  return {
    phonebooks: readonly(phonebooks),
    syncRows: readonly(syncRows),
    loaded: readonly(loaded),
    error: readonly(error),
    creating: readonly(creating),
    resync: readonly(resync),
    loading,
    load,
    create,
    startResync,
  };
});
