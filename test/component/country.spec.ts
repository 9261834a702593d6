// @vitest-environment happy-dom
/**
 * The country setting on the settings page (issue 11): an admin sees the country numbers are read in, with the
 * portal's own country (as Bitrix24 reports it) named as the default, and saves another one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import CountrySection from '../../client/components/CountrySection.vue';
import { useSettingsStore } from '../../client/stores/settings.js';
import { fakeApi, ok } from './fake-api.js';
import { settingsFixture } from './fixtures.js';
import { flushPromises, mountWithApp } from './mount.js';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('Country form', () => {
  it('shows the stored country and names the portal\'s as the default', async () => {
    const settings = { ...settingsFixture(), defaultCountry: 'RU', portalCountry: 'RU' };
    const { api } = fakeApi({ 'GET /settings': ok(settings) });
    const wrapper = mountWithApp(CountrySection, api);
    await useSettingsStore().load();
    await flushPromises();
    expect(wrapper.find('[data-testid="country-select"]').text()).toContain('Russia (RU)');
    expect(wrapper.text()).toContain('Bitrix24 reports this portal as Russia (RU); that is the default.');
  });

  it('says so when Bitrix24 did not tell the country', async () => {
    const { api } = fakeApi({ 'GET /settings': ok({ ...settingsFixture(), portalCountry: null }) });
    const wrapper = mountWithApp(CountrySection, api);
    await useSettingsStore().load();
    await flushPromises();
    expect(wrapper.text()).toContain('Bitrix24 did not tell this portal\'s country; choose it.');
  });

  it('saves the chosen country only', async () => {
    const settings = { ...settingsFixture(), defaultCountry: 'RU', portalCountry: 'RU' };
    const { api, seen } = fakeApi({ 'GET /settings': ok(settings), 'PUT /settings': ok({ ...settings, defaultCountry: 'KZ' }) });
    const wrapper = mountWithApp(CountrySection, api);
    await useSettingsStore().load();
    await flushPromises();
    const select = wrapper.find('select');
    expect(select.exists()).toBe(true);
    await select.setValue('KZ');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(seen.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([{ defaultCountry: 'KZ' }]);
    expect(wrapper.text()).toContain('Saved.');
  });
});
