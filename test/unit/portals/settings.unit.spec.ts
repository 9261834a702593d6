import { describe, expect, it } from 'vitest';
import { mergeSettings, settingsUpdateSchema, settingsView } from '../../../server/portals/settings.js';
import { AppError } from '../../../server/errors.js';
import type { PortalSettings } from '../../../server/store/records.js';
import { settingsWith } from '../contacts/fakes.js';

const saved: PortalSettings = settingsWith({
  enabled: true,
  pbx: { baseUrl: 'https://pbx.example.com:8088', clientId: 'id', clientSecret: 's3cret', events: 'webhook', webhookSecret: 'hook-secret' },
});

function merge(current: PortalSettings, body: unknown): PortalSettings {
  return mergeSettings(current, settingsUpdateSchema.parse(body));
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return `${error.status} ${error.message}`;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('settings update', () => {
  it('keeps the saved secrets when they are omitted for the same PBX address', () => {
    const next = merge(saved, { pbx: { baseUrl: 'https://pbx.example.com:8088/', clientId: 'id2', events: 'webhook' } });
    expect(next.pbx).toEqual({ baseUrl: 'https://pbx.example.com:8088', clientId: 'id2', clientSecret: 's3cret', events: 'webhook', webhookSecret: 'hook-secret' });
  });

  it('never sends a saved secret to a new address: the secret must be typed again', () => {
    expect(refusal(() => merge(saved, { pbx: { baseUrl: 'https://evil.example.net', clientId: 'id', events: 'websocket' } }))).toMatch(/^400 .*Client Secret/);
    expect(refusal(() => merge(saved, { pbx: { baseUrl: 'https://evil.example.net', clientId: 'id', clientSecret: 'x', events: 'webhook' } }))).toMatch(/^400 .*webhook/);
  });

  it('changes only what the update names and normalizes the country code', () => {
    const next = merge(saved, { autoCreate: { enabled: true }, defaultCountry: 'za' });
    expect(next.autoCreate).toEqual({ ...saved.autoCreate, enabled: true });
    expect(next.defaultCountry).toBe('ZA');
    expect(next.pbx).toEqual(saved.pbx);
    expect(saved.autoCreate.enabled).toBe(false);
  });

  it('refuses contact sync without a phonebook or a PBX, unknown fields and unknown countries', () => {
    expect(refusal(() => merge(saved, { contactSync: { enabled: true } }))).toMatch(/^400 .*phonebook/);
    expect(refusal(() => merge(settingsWith({}), { contactSync: { enabled: true, phonebookId: '3' } }))).toMatch(/^400 .*connect the PBX/);
    expect(settingsUpdateSchema.safeParse({ enabeld: true }).success).toBe(false);
    expect(settingsUpdateSchema.safeParse({ defaultCountry: 'XX' }).success).toBe(false);
    expect(settingsUpdateSchema.safeParse({ unboundCallsUserId: -1 }).success).toBe(false);
  });

  it('disconnects the PBX with pbx: null', () => {
    expect(merge(saved, { pbx: null }).pbx).toBeNull();
  });
});

describe('settings view', () => {
  it('shows whether secrets are set, never the secrets', () => {
    const view = settingsView(saved, 'https://app.example.com/pbx/webhook/k');
    expect(view.pbx).toEqual({
      baseUrl: 'https://pbx.example.com:8088', clientId: 'id', clientSecretSet: true, events: 'webhook', webhookSecretSet: true,
      webhookUrl: 'https://app.example.com/pbx/webhook/k',
    });
    expect(JSON.stringify(view)).not.toMatch(/s3cret|hook-secret/);
  });
});
