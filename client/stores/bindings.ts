import { defineStore } from 'pinia';
import { computed, readonly, ref } from 'vue';
import type { AutoBindResponse, BindingConflict, ExtensionRow, UserRow } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { attempt } from './attempt.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** Bitrix24 users beside PBX extensions, and the user ↔ extension bindings between them. */
export const useBindingsStore = defineStore('bindings', () => {
  const users = ref<UserRow[]>([]);
  const extensions = ref<ExtensionRow[]>([]);
  const loaded = ref(false);
  const error = ref<UserError | null>(null);
  const preview = ref<AutoBindResponse | null>(null);
  const conflicts = ref<BindingConflict[]>([]);
  /** How many changes the save in flight carries (0: none). */
  const savingCount = ref(0);
  const busy = ref(false);
  const { loading, track } = useDelayedLoading();

  /** Numbers each read: only the newest one started lands, so a read begun before a save never shows over it. */
  let lastRead = 0;
  async function readLists(): Promise<void> {
    const read = ++lastRead;
    try {
      const api = useApi();
      const [userRows, extensionRows] = await Promise.all([api.users(), api.extensions()]);
      if (read !== lastRead) return;
      users.value = userRows;
      extensions.value = extensionRows;
      loaded.value = true;
      error.value = null;
    } catch (e) {
      if (read === lastRead) error.value = toUserError(e);
    }
  }

  const load = singleFlight(() => track(readLists));

  const boundCount = computed(() => users.value.filter((user) => user.extension !== null).length);

  /**
   * Saves changed bindings (extension null unbinds) in ONE request: the server checks the final state as a whole, so
   * a swap of two users' extensions is one save, and a conflict refuses everything rather than half a swap. A few
   * thousand changes are well under the route's body limit. Then reloads the lists.
   */
  async function saveBindings(changes: { userId: number; extension: string | null }[]): Promise<boolean> {
    if (changes.length === 0) return true;
    savingCount.value = changes.length;
    const applied = await applyThenReload(() => useApi().saveBindings({ bindings: changes }));
    savingCount.value = 0;
    return applied;
  }

  /** Asks the server which pairs auto-binding would make (by e-mail, then by Bitrix24 inner phone) without saving. */
  async function previewAutoBind(): Promise<void> {
    await attempt(error, async () => {
      if (!loaded.value) await load();
      preview.value = await useApi().autoBind(true);
    }, busy);
  }

  async function applyAutoBind(): Promise<boolean> {
    return applyThenReload(async () => {
      const answer = await useApi().autoBind(false);
      preview.value = null;
      return answer;
    }, 'always');
  }

  /**
   * Sends a change of bindings, keeps the conflicts the server found, and reloads the lists ('always' after any
   * answer, else only when it applied). The reload comes after the error line is cleared, so a failed reload shows.
   * True when applied.
   */
  async function applyThenReload(
    send: () => Promise<{ applied: boolean; conflicts: BindingConflict[] }>,
    reloadWhen: 'always' | 'applied' = 'applied',
  ): Promise<boolean> {
    busy.value = true;
    const answer = await attempt(error, send);
    if (answer) conflicts.value = answer.conflicts;
    if (answer && (answer.applied || reloadWhen === 'always')) await reload();
    busy.value = false;
    return answer?.applied ?? false;
  }

  /** Sets when an employee's call card opens; the row shows the new mode once the server saved it. */
  async function saveCardMode(userId: number, mode: UserRow['cardMode']): Promise<boolean> {
    const saved = await attempt(error, async () => {
      await useApi().saveCardModes({ modes: [{ userId, mode }] });
      users.value = users.value.map((user) => (user.id === userId ? { ...user, cardMode: mode } : user));
      return true;
    }, busy);
    return saved ?? false;
  }

  function discardPreview(): void {
    preview.value = null;
  }

  // After a save: a fresh read, never one already in flight (it may have left before the save and would show the old lists).
  async function reload(): Promise<void> {
    await track(readLists);
  }

  return {
    users: readonly(users),
    extensions: readonly(extensions),
    loaded: readonly(loaded),
    error: readonly(error),
    preview: readonly(preview),
    conflicts: readonly(conflicts),
    savingCount: readonly(savingCount),
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
