// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import AutoCreateSection from '../../client/components/AutoCreateSection.vue';
import ConnectionSection from '../../client/components/ConnectionSection.vue';
import ContactSyncSection from '../../client/components/ContactSyncSection.vue';
import { useSettingsStore } from '../../client/stores/settings.js';
import { usePhonebooksStore } from '../../client/stores/phonebooks.js';
import { fail, fakeApi, ok } from './fake-api.js';
import { settingsFixture, statusFixture } from './fixtures.js';
import { flushPromises, mountWithApp } from './mount.js';

afterEach(() => {
  document.body.innerHTML = '';
});

const storedPbx = {
  baseUrl: 'https://pbx.acme.test:8088', clientId: 'cid', clientSecretSet: true, events: 'websocket' as const, webhookSecretSet: false, webhookUrl: 'https://app.test/pbx/webhook/m1',
};

describe('Connection form', () => {
  it('shows what is missing and sends nothing when the form is empty', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()), 'GET /status': ok(statusFixture({ configured: false })) });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    // PBX address, client ID and client secret (none stored yet) are all required.
    expect(wrapper.text().match(/Required\./g)).toHaveLength(3);
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('rejects a PBX address that is not a URL', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    const inputs = wrapper.findAll('input');
    await inputs[0]?.setValue('pbx.acme.test');
    await inputs[1]?.setValue('cid');
    await inputs[2]?.setValue('secret');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Enter a full address starting with http:// or https://.');
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('keeps the stored secret when the field is left empty (write-only secret)', async () => {
    const { api, seen } = fakeApi({
      'GET /settings': ok(settingsFixture(storedPbx)),
      'PUT /settings': (request) => ok({ ...settingsFixture(storedPbx), echoed: request.body }),
      'GET /status': ok(statusFixture()),
    });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    expect((wrapper.find('input[type="password"]').element as HTMLInputElement).value).toBe('');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    const put = seen.find((r) => r.method === 'PUT');
    expect(put?.body).toEqual({ pbx: { baseUrl: 'https://pbx.acme.test:8088', clientId: 'cid', events: 'websocket' } });
    // Issue 12 point 3: the message says what the save did (the server tested the connection first).
    expect(wrapper.find('[data-testid="pbx-saved"]').text()).toBe('Saved: the PBX accepted the connection.');
  });

  // Issue 12 point 3: our words for the PBX's code, with a next step, instead of the PBX's raw text.
  it('explains a failed connection test in the admin\'s words, by its code', async () => {
    const { api } = fakeApi({
      'GET /settings': ok(settingsFixture(storedPbx)),
      'POST /pbx/test': ok({ ok: false, message: 'IP address is blocked by the PBX', code: 'PBX_AUTH_FAILED' }),
    });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    const test = wrapper.findAll('button').find((b) => b.text() === 'Test connection');
    await test?.trigger('click');
    await flushPromises();
    const shown = wrapper.find('[data-testid="test-result"]').text();
    expect(shown).toContain('The PBX refused the Client ID or Client Secret. Copy both again from the PBX');
    expect(shown).not.toContain('IP address is blocked by the PBX');
  });

  // Issue 12 point 4: the form no longer says "A secret is saved" for an address it was not saved for; it asks for the
  // secret itself instead of sending a test the server must refuse.
  it('asks for the secret when the address differs from the one the secret was saved for', async () => {
    const { api, seen } = fakeApi({
      'GET /settings': ok(settingsFixture(storedPbx)),
      'POST /pbx/test': { status: 400, body: { ok: false, code: 'SECRET_REQUIRED', message: 'Enter the Client Secret (none is saved for this PBX address)' } },
    });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.findAll('input')[0]?.setValue('https://other-pbx.acme.test');
    await flushPromises();
    expect(wrapper.text()).toContain('No secret is saved for this address: enter the Client Secret.');
    expect(wrapper.text()).not.toContain('A secret is saved');
    await wrapper.findAll('button').find((b) => b.text() === 'Test connection')?.trigger('click');
    await flushPromises();
    expect(seen.find((r) => r.url === '/pbx/test')).toBeUndefined();
    expect(wrapper.text()).toContain('Required.');
    await wrapper.find('input[type="password"]').setValue('typed-secret');
    await flushPromises();
    expect(wrapper.text()).not.toContain('Required.');
  });

  it('explains a refused save from the server', async () => {
    const { api } = fakeApi({ 'GET /settings': ok(settingsFixture(storedPbx)), 'PUT /settings': fail(403, 'FORBIDDEN', 'only admins') });
    const wrapper = mountWithApp(ConnectionSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Only a Bitrix24 administrator can change this.');
  });
});

describe('Auto-create form', () => {
  it('asks for a direction when turned on with none', async () => {
    const settings = settingsFixture();
    settings.autoCreate = { enabled: true, inbound: false, outbound: false, entityType: 'LEAD', namePrefix: 'New - ' };
    const { api, seen } = fakeApi({ 'GET /settings': ok(settings) });
    const wrapper = mountWithApp(AutoCreateSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Choose inbound, outbound or both.');
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('refuses a name prefix longer than 100 characters', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(AutoCreateSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('[data-testid="name-prefix"] input, input[data-testid="name-prefix"]').setValue('x'.repeat(101));
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Too long (at most 100 characters).');
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('saves the auto-create part only', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()), 'PUT /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(AutoCreateSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(seen.find((r) => r.method === 'PUT')?.body).toEqual({
      autoCreate: { enabled: false, inbound: true, outbound: false, entityType: 'LEAD', namePrefix: 'Automatic New Contact - ' },
    });
  });
});

describe('Contact sync form', () => {
  const books = [
    { id: 'pb1', name: 'Sales', contactCount: 12, selectable: false, selected: false },
    { id: 'pb2', name: 'Empty one', contactCount: 0, selectable: true, selected: false },
  ];

  it('asks for a phonebook before turning sync on', async () => {
    const settings = settingsFixture(storedPbx);
    settings.contactSync = { enabled: true, entityType: 'CONTACT', phonebookId: null };
    const { api, seen } = fakeApi({ 'GET /settings': ok(settings), 'GET /phonebooks': ok(books), 'GET /contact-sync': ok([]) });
    const wrapper = mountWithApp(ContactSyncSection, api);
    await Promise.all([useSettingsStore().load(), usePhonebooksStore().load()]);
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Choose a phonebook or create one.');
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('validates the new phonebook name, then creates it and selects it', async () => {
    const created = { id: 'pb9', name: 'CRM contacts', contactCount: 0, selectable: true, selected: false };
    const { api, seen } = fakeApi({
      'GET /settings': ok(settingsFixture(storedPbx)), 'GET /phonebooks': ok(books), 'GET /contact-sync': ok([]), 'POST /phonebooks': ok(created),
      'PUT /settings': (request) => ok({ ...settingsFixture(storedPbx), contactSync: (request.body as { contactSync: unknown }).contactSync }),
    });
    const wrapper = mountWithApp(ContactSyncSection, api);
    await Promise.all([useSettingsStore().load(), usePhonebooksStore().load()]);
    await flushPromises();
    await wrapper.find('[data-testid="create-phonebook"]').trigger('click');
    await flushPromises();
    expect(wrapper.text()).toContain('Required.');
    expect(seen.filter((r) => r.method === 'POST')).toHaveLength(0);

    await wrapper.find('[data-testid="new-phonebook-name"] input, input[data-testid="new-phonebook-name"]').setValue('CRM contacts');
    await wrapper.find('[data-testid="create-phonebook"]').trigger('click');
    await flushPromises();
    expect(seen.find((r) => r.method === 'POST')?.body).toEqual({ name: 'CRM contacts' });
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(seen.find((r) => r.method === 'PUT')?.body).toEqual({ contactSync: { enabled: false, entityType: 'CONTACT', phonebookId: 'pb9' } });
  });

  it('re-syncs every synced contact with one click and shows progress, then the counts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const settings = settingsFixture(storedPbx);
      settings.contactSync = { enabled: true, entityType: 'LEAD', phonebookId: 'pb1' };
      const syncedRow = { entityType: 'LEAD', entityId: 7, state: 'synced', reason: null, pbxContactId: '3', updatedAt: 1 };
      const base = { total: 2, written: 0, unchanged: 0, rewritten: 0, removed: 0, skipped: 0, failed: 0, startedAt: 1, finishedAt: null };
      const { api, seen } = fakeApi({
        'GET /settings': ok(settings), 'GET /phonebooks': ok(books), 'GET /contact-sync': ok([syncedRow]),
        'POST /contact-sync/resync': { status: 202, body: { ...base, running: true, done: 0 } },
        'GET /contact-sync/resync': ok({ ...base, running: false, done: 2, unchanged: 1, rewritten: 1, finishedAt: 2 }),
      });
      const wrapper = mountWithApp(ContactSyncSection, api);
      await Promise.all([useSettingsStore().load(), usePhonebooksStore().load()]);
      await flushPromises();
      await wrapper.find('[data-testid="resync-all"]').trigger('click');
      await flushPromises();
      expect(seen.some((r) => r.method === 'POST' && r.url === '/contact-sync/resync')).toBe(true);
      expect(wrapper.text()).toContain('Re-syncing: 0 of 2…');
      await vi.advanceTimersByTimeAsync(1000);
      await flushPromises();
      expect(wrapper.text()).toContain('Re-synced 2 of 2: 0 updated, 1 unchanged, 1 written again, 0 removed, 0 skipped, 0 failed');
    } finally {
      vi.useRealTimers();
    }
  });
});
