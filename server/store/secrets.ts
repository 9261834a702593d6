import type { SecretBox } from '../crypto.js';
import type { PbxSettings, Portal, PortalSettings } from './records.js';

/** The fields sealed at rest. Repositories seal on write and open on read; no other part sees ciphertext. */
const PORTAL_SECRETS = ['accessToken', 'refreshToken', 'applicationToken', 'webhookUrl'] as const;
const PBX_SECRETS = ['clientSecret', 'webhookSecret'] as const;

export function sealPortal(box: SecretBox, portal: Portal): Portal {
  const sealed: Portal = { ...portal };
  for (const field of PORTAL_SECRETS) {
    const value = sealed[field];
    if (typeof value === 'string') sealed[field] = box.seal(value);
  }
  return sealed;
}

export function openPortal(box: SecretBox, stored: Portal): Portal {
  const plain: Portal = { ...stored };
  for (const field of PORTAL_SECRETS) {
    const value = plain[field];
    if (typeof value === 'string') plain[field] = box.open(value);
  }
  return plain;
}

function mapPbx(settings: PortalSettings, fn: (value: string) => string): PortalSettings {
  if (!settings.pbx) return settings;
  const pbx: PbxSettings = { ...settings.pbx };
  for (const field of PBX_SECRETS) pbx[field] = fn(pbx[field]);
  return { ...settings, pbx };
}

export const sealSettings = (box: SecretBox, settings: PortalSettings): PortalSettings => mapPbx(settings, (v) => box.seal(v));
export const openSettings = (box: SecretBox, settings: PortalSettings): PortalSettings => mapPbx(settings, (v) => box.open(v));
