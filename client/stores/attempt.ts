import type { Ref } from 'vue';
import { toUserError, type UserError } from '../errors.js';

/**
 * One request of a store, with the store's error line kept true: cleared when the work succeeds, set to what a
 * person can read when it fails (never thrown on to the component). `busy`, when given, is on while the work runs.
 * Returns the work's result, or undefined when it failed.
 */
export async function attempt<T>(
  error: Ref<UserError | null>,
  work: () => Promise<T>,
  busy?: Ref<boolean>,
): Promise<T | undefined> {
  if (busy) busy.value = true;
  try {
    const result = await work();
    error.value = null;
    return result;
  } catch (e) {
    error.value = toUserError(e);
    return undefined;
  } finally {
    if (busy) busy.value = false;
  }
}
