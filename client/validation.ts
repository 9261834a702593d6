import type { SettingsResponse, SettingsUpdate } from '../contract/api-shapes.js';

/** Field → i18n key of what is wrong with it. Empty when the form may be sent. */
export type FieldErrors = Partial<Record<string, string>>;

export interface PbxForm {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  events: 'websocket' | 'webhook';
  webhookSecret: string;
}

export const NAME_PREFIX_MAX = 100;

export function validatePbxForm(form: PbxForm, secretStored: boolean, webhookSecretStored: boolean): FieldErrors {
  const errors: FieldErrors = {};
  const url = form.baseUrl.trim();
  if (url === '') errors.baseUrl = 'validation.required';
  else if (!isHttpUrl(url)) errors.baseUrl = 'validation.url';
  if (form.clientId.trim() === '') errors.clientId = 'validation.required';
  if (form.clientSecret === '' && !secretStored) errors.clientSecret = 'validation.required';
  if (form.events === 'webhook' && form.webhookSecret === '' && !webhookSecretStored) errors.webhookSecret = 'validation.required';
  return errors;
}

/** The PUT body for the PBX part; blank secrets are left out so the stored ones stay (they are write-only). */
export function pbxUpdate(form: PbxForm): NonNullable<SettingsUpdate['pbx']> {
  return {
    baseUrl: form.baseUrl.trim().replace(/\/+$/, ''),
    clientId: form.clientId.trim(),
    events: form.events,
    ...(form.clientSecret !== '' ? { clientSecret: form.clientSecret } : {}),
    ...(form.webhookSecret !== '' ? { webhookSecret: form.webhookSecret } : {}),
  };
}

export function validateAutoCreate(form: SettingsResponse['autoCreate']): FieldErrors {
  const errors: FieldErrors = {};
  if (form.enabled && !form.inbound && !form.outbound) errors.directions = 'validation.directionRequired';
  if (form.namePrefix.length > NAME_PREFIX_MAX) errors.namePrefix = 'validation.tooLong';
  return errors;
}

export function validateContactSync(form: SettingsResponse['contactSync']): FieldErrors {
  const errors: FieldErrors = {};
  if (form.enabled && !form.phonebookId) errors.phonebookId = 'validation.phonebookRequired';
  return errors;
}

export function validatePhonebookName(name: string): FieldErrors {
  const trimmed = name.trim();
  if (trimmed === '') return { name: 'validation.required' };
  if (trimmed.length > 64) return { name: 'validation.tooLong' };
  return {};
}

export function hasErrors(errors: FieldErrors): boolean {
  return Object.values(errors).some((value) => value !== undefined);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
