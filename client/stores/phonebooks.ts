import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { ContactSyncRow, PhonebookRow } from '../../server/http/api/shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** PBX phonebooks (only empty ones may become the sync target) and the state of the contact sync. */
export const usePhonebooksStore = defineStore('phonebooks', () => {
  const phonebooks = ref<PhonebookRow[]>([]);
  const syncRows = ref<ContactSyncRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const creating = ref(false);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(async () => {
      try {
        const api = useApi();
        const [books, rows] = await Promise.all([api.phonebooks(), api.contactSync()]);
        phonebooks.value = books;
        syncRows.value = rows;
        loaded.value = true;
        error.value = null;
      } catch (e) {
        error.value = toUserError(e);
      }
    }),
  );

  async function create(name: string): Promise<PhonebookRow | null> {
    creating.value = true;
    try {
      const book = await useApi().createPhonebook(name);
      phonebooks.value = [...phonebooks.value.filter((row) => row.id !== book.id), book];
      error.value = null;
      return book;
    } catch (e) {
      error.value = toUserError(e);
      return null;
    } finally {
      creating.value = false;
    }
  }

  return {
    phonebooks: readonly(phonebooks),
    syncRows: readonly(syncRows),
    loaded: readonly(loaded),
    error: readonly(error),
    creating: readonly(creating),
    loading,
    load,
    create,
  };
});
