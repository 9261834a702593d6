import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { ChecklistResponse } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { singleFlight } from './loading.js';

/** The first-run checklist of the settings page (GET /api/checklist), each step ticked from the portal's state. */
export const useChecklistStore = defineStore('checklist', () => {
  const checklist = ref<ChecklistResponse | null>(null);
  const error = ref<UserError | null>(null);
  const saving = ref(false);

  const load = singleFlight(async () => {
    try {
      checklist.value = await useApi().checklist();
      error.value = null;
    } catch (e) {
      error.value = toUserError(e);
    }
  });

  /** The admin says the app is (or is not) the default line for click-to-call; true when stored. */
  async function confirmDefaultLine(confirmed: boolean): Promise<boolean> {
    saving.value = true;
    try {
      checklist.value = await useApi().confirmDefaultLine(confirmed);
      error.value = null;
      return true;
    } catch (e) {
      error.value = toUserError(e);
      return false;
    } finally {
      saving.value = false;
    }
  }

  return { checklist: readonly(checklist), error: readonly(error), saving: readonly(saving), load, confirmDefaultLine };
});
