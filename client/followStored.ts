import { watch } from 'vue';

/**
 * Keeps a settings form in step with what the server stored: filled when the settings load, and again after each
 * save answer (the server answers with the stored settings), so the form never shows values it did not keep.
 */
export function followStored<T extends object>(stored: () => T | null | undefined, form: T): void {
  watch(
    stored,
    (value) => {
      if (value) Object.assign(form, value);
    },
    { immediate: true },
  );
}
