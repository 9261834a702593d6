import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { ChecklistResponse } from '../../contract/api-shapes.js';
import { useApi } from '../apiContext.js';
import type { UserError } from '../errors.js';
import { attempt } from './attempt.js';
import { singleFlight } from './loading.js';

/** The first-run checklist of the settings page (GET /api/checklist), each step ticked from the portal's state. */
export const useChecklistStore = defineStore('checklist', () => {
  const checklist = ref<ChecklistResponse | null>(null);
  const error = ref<UserError | null>(null);
  const saving = ref(false);

  const load = singleFlight(() => attempt(error, async () => {
    checklist.value = await useApi().checklist();
  }));

  /** The admin says the app is (or is not) the default line for click-to-call; true when stored. */
  async function confirmDefaultLine(confirmed: boolean): Promise<boolean> {
    const stored = await attempt(error, async () => {
      checklist.value = await useApi().confirmDefaultLine(confirmed);
      return true;
    }, saving);
    return stored ?? false;
  }

  return { checklist: readonly(checklist), error: readonly(error), saving: readonly(saving), load, confirmDefaultLine };
});
