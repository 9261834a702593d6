import type { SecretBox } from '../crypto.js';
import { AppError } from '../errors.js';
import type { PbxSettings, Portal, PortalSettings } from './records.js';

/** The fields sealed at rest. Repositories seal on write and open on read; no other part sees ciphertext. */
export const PORTAL_SECRETS = ['accessToken', 'refreshToken', 'applicationToken', 'webhookUrl'] as const;
export type PortalSecretField = (typeof PORTAL_SECRETS)[number];
const PBX_SECRETS = ['clientSecret', 'webhookSecret'] as const;

/** A sealed value that did not open: the field, what is stored, and why (SECRET_UNREADABLE or SECRET_KEY_MISMATCH). */
export interface UnopenedSecret<F extends string = string> {
  field: F;
  stored: string;
  code: string;
}

export interface Opened<T, F extends string = string> {
  plain: T;
  /** Fields that could not be opened; they read as '' (not set) in `plain`. */
  unopened: UnopenedSecret<F>[];
  /** How many sealed values were tried (the wrong-key check in store/portals.ts). */
  tried: number;
}

function tryOpen(box: SecretBox, value: string): { ok: true; value: string } | { ok: false; code: string } {
  try {
    return { ok: true, value: box.open(value) };
  } catch (err) {
    return { ok: false, code: err instanceof AppError ? err.code : 'SECRET_UNREADABLE' };
  }
}

/**
 * Opens the named fields of `plain` (a copy) in place: what opens is replaced by its plain value, what does not by ''
 * and reported. Empty and absent fields are not secrets to open.
 */
function openFields<F extends string>(box: SecretBox, plain: Partial<Record<F, string>>, fields: readonly F[]): Omit<Opened<unknown, F>, 'plain'> {
  const unopened: UnopenedSecret<F>[] = [];
  let tried = 0;
  for (const field of fields) {
    const value = plain[field];
    if (typeof value !== 'string' || value === '') continue;
    tried += 1;
    const opened = tryOpen(box, value);
    if (opened.ok) {
      plain[field] = opened.value;
    } else {
      plain[field] = '';
      unopened.push({ field, stored: value, code: opened.code });
    }
  }
  return { unopened, tried };
}

export function sealPortal(box: SecretBox, portal: Portal): Portal {
  const sealed: Portal = { ...portal };
  for (const field of PORTAL_SECRETS) {
    const value = sealed[field];
    if (typeof value === 'string') sealed[field] = box.seal(value);
  }
  return sealed;
}

/** Opens what opens; a value that does not open is reported, never thrown: one portal's bad value fences that portal only. */
export function openPortal(box: SecretBox, stored: Portal): Opened<Portal, PortalSecretField> {
  const plain: Portal = { ...stored };
  return { plain, ...openFields(box, plain, PORTAL_SECRETS) };
}

export function sealSettings(box: SecretBox, settings: PortalSettings): PortalSettings {
  if (!settings.pbx) return settings;
  const pbx: PbxSettings = { ...settings.pbx };
  for (const field of PBX_SECRETS) pbx[field] = box.seal(pbx[field]);
  return { ...settings, pbx };
}

export function openSettings(box: SecretBox, settings: PortalSettings): Opened<PortalSettings> {
  if (!settings.pbx) return { plain: settings, unopened: [], tried: 0 };
  const pbx: PbxSettings = { ...settings.pbx };
  return { plain: { ...settings, pbx }, ...openFields(box, pbx, PBX_SECRETS) };
}
