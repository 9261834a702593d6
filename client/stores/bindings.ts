import { defineStore } from 'pinia';
import { computed, readonly, ref } from 'vue';
import type { AutoBindResponse, BindingConflict, ExtensionRow, UserRow } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** Bindings are saved in chunks so a portal with hundreds of users sees progress and never one giant request. */
export const BINDINGS_CHUNK = 50;

export interface Progress {
  done: number;
  total: number;
}

/** Bitrix24 users beside PBX extensions, and the user ↔ extension bindings between them. */
export const useBindingsStore = defineStore('bindings', () => {
  const users = ref<UserRow[]>([]);
  const extensions = ref<ExtensionRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const preview = ref<AutoBindResponse | null>(null);
  const conflicts = ref<BindingConflict[]>([]);
  const progress = ref<Progress | null>(null);
  const busy = ref(false);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(async () => {
      try {
        const api = useApi();
        const [userRows, extensionRows] = await Promise.all([api.users(), api.extensions()]);
        users.value = userRows;
        extensions.value = extensionRows;
        loaded.value = true;
        error.value = null;
      } catch (e) {
        error.value = toUserError(e);
      }
    }),
  );

  const boundCount = computed(() => users.value.filter((user) => user.extension !== null).length);

  /** Saves changed bindings (extension null unbinds), chunk by chunk with progress; then reloads the lists. */
  async function saveBindings(changes: { userId: number; extension: string | null }[]): Promise<boolean> {
    if (changes.length === 0) return true;
    busy.value = true;
    progress.value = { done: 0, total: changes.length };
    const found: BindingConflict[] = [];
    try {
      for (let start = 0; start < changes.length; start += BINDINGS_CHUNK) {
        const chunk = changes.slice(start, start + BINDINGS_CHUNK);
        const answer = await useApi().saveBindings({ bindings: chunk });
        found.push(...answer.conflicts);
        progress.value = { done: Math.min(start + chunk.length, changes.length), total: changes.length };
      }
      conflicts.value = found;
      error.value = null;
      await reload();
      return found.length === 0;
    } catch (e) {
      error.value = toUserError(e);
      return false;
    } finally {
      busy.value = false;
      progress.value = null;
    }
  }

  /** Asks the server which pairs auto-binding would make (by e-mail, then by Bitrix24 inner phone) without saving. */
  async function previewAutoBind(): Promise<void> {
    busy.value = true;
    try {
      if (!loaded.value) await load();
      preview.value = await useApi().autoBind(true);
      error.value = null;
    } catch (e) {
      error.value = toUserError(e);
    } finally {
      busy.value = false;
    }
  }

  async function applyAutoBind(): Promise<boolean> {
    busy.value = true;
    try {
      const answer = await useApi().autoBind(false);
      conflicts.value = answer.conflicts;
      preview.value = null;
      error.value = null;
      await reload();
      return answer.applied;
    } catch (e) {
      error.value = toUserError(e);
      return false;
    } finally {
      busy.value = false;
    }
  }

  /** Sets when an employee's call card opens; the row shows the new mode once the server saved it. */
  async function saveCardMode(userId: number, mode: UserRow['cardMode']): Promise<boolean> {
    busy.value = true;
    try {
      await useApi().saveCardModes({ modes: [{ userId, mode }] });
      users.value = users.value.map((user) => (user.id === userId ? { ...user, cardMode: mode } : user));
      error.value = null;
      return true;
    } catch (e) {
      error.value = toUserError(e);
      return false;
    } finally {
      busy.value = false;
    }
  }

  function discardPreview(): void {
    preview.value = null;
  }

  async function reload(): Promise<void> {
    await load();
  }

  return {
    users: readonly(users),
    extensions: readonly(extensions),
    loaded: readonly(loaded),
    error: readonly(error),
    preview: readonly(preview),
    conflicts: readonly(conflicts),
    progress: readonly(progress),
    busy: readonly(busy),
    boundCount,
    loading,
    load,
    saveBindings,
    previewAutoBind,
    applyAutoBind,
    saveCardMode,
    discardPreview,
  };
});
