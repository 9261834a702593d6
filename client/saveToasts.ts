import type { useToast as UseToast } from '@bitrix24/b24ui-nuxt/composables/useToast';
import { useI18n } from 'vue-i18n';
import { useBindingsStore } from './stores/bindings.js';
import { useChecklistStore } from './stores/checklist.js';
import { useSettingsStore } from './stores/settings.js';

type Toasts = ReturnType<typeof UseToast>;

/**
 * Every successful save of the settings page is confirmed with the Bitrix24 UI kit's toast (issue 12 point 6), and the
 * first-run checklist is read again, since a save may have done one of its steps. The stores' actions are watched
 * ($onAction) rather than each section told to do it: a section added later is confirmed the same way. Only a save
 * that answered true (stored) is confirmed; failures keep showing in their section.
 */
export function confirmSavesWithToasts(toast: Toasts): void {
  const { t } = useI18n();
  const checklist = useChecklistStore();
  const confirm = (key: string, result: unknown): void => {
    if (result !== true) return;
    toast.add({ id: key, title: t(key), color: 'air-primary-success' });
    void checklist.load();
  };
  const settingsToasts: Record<string, string> = { save: 'shell.toast.saved', disconnect: 'shell.toast.disconnected' };
  const bindingsToasts: Record<string, string> = {
    saveBindings: 'shell.toast.bindingsSaved', applyAutoBind: 'shell.toast.bindingsSaved', saveCardMode: 'shell.toast.saved',
  };
  useSettingsStore().$onAction(({ name, after }) => {
    const key = settingsToasts[name];
    if (key) after((result) => confirm(key, result));
  });
  useBindingsStore().$onAction(({ name, after }) => {
    const key = bindingsToasts[name];
    if (key) after((result) => confirm(key, result));
  });
  checklist.$onAction(({ name, after }) => {
    if (name === 'confirmDefaultLine') after((result) => confirm('shell.toast.saved', result));
  });
}
