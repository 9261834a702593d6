/**
 * The default country of a portal from what Bitrix24 reports (app.info LICENSE region, the cloud domain, LANGUAGE_ID),
 * and its adoption on first install only. What a customer cares about: a Russian portal reads `8 912…` right from the
 * first call, and a re-install never overrides the country an admin chose.
 */
import { describe, expect, it } from 'vitest';
import {
  countryFromDomain, countryFromLanguage, countryFromLicense, portalCountry, settingsWithPortalCountry,
} from '../../../server/portals/country.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';

describe('portal country', () => {
  it('reads the licence region of app.info LICENSE', () => {
    expect(countryFromLicense('ru_project')).toBe('RU');
    expect(countryFromLicense('de_ent10000')).toBe('DE');
    expect(countryFromLicense('kz_std')).toBe('KZ');
    expect(countryFromLicense('br_basic')).toBe('BR');
    expect(countryFromLicense('cn_std')).toBe('CN');
    expect(countryFromLicense('uk_pro')).toBe('GB');
    expect(countryFromLicense('en_std')).toBeNull();
    expect(countryFromLicense('eu_std')).toBeNull();
    expect(countryFromLicense('la_std')).toBeNull();
    expect(countryFromLicense('project')).toBeNull();
    expect(countryFromLicense(42)).toBeNull();
  });

  it('reads a Bitrix24 cloud domain and a single-market language', () => {
    expect(countryFromDomain('acme.bitrix24.de')).toBe('DE');
    expect(countryFromDomain('acme.bitrix24.com.br')).toBe('BR');
    expect(countryFromDomain('acme.bitrix24.co.uk')).toBe('GB');
    expect(countryFromDomain('acme.bitrix24.com')).toBeNull();
    expect(countryFromDomain('crm.acme.ru')).toBeNull();
    expect(countryFromDomain('127.0.0.1:4000')).toBeNull();
    expect(countryFromLanguage('de')).toBe('DE');
    expect(countryFromLanguage('sc')).toBe('CN');
    expect(countryFromLanguage('ru')).toBeNull();
    expect(countryFromLanguage('en')).toBeNull();
  });

  it('prefers the licence, then the domain, then the language', () => {
    expect(portalCountry({ LICENSE: 'kz_std', LANGUAGE_ID: 'ru' }, 'a.bitrix24.ru')).toBe('KZ');
    expect(portalCountry({ LICENSE: 'en_std', LANGUAGE_ID: 'de' }, 'a.bitrix24.com.br')).toBe('BR');
    expect(portalCountry({ LICENSE: 'en_std', LANGUAGE_ID: 'de' }, 'a.bitrix24.com')).toBe('DE');
    expect(portalCountry(undefined, 'a.bitrix24.com')).toBeNull();
  });

  it('is adopted when nothing was set yet, never over a saved setting', () => {
    expect(settingsWithPortalCountry(structuredClone(DEFAULT_SETTINGS), 'RU')?.defaultCountry).toBe('RU');
    expect(settingsWithPortalCountry({ ...structuredClone(DEFAULT_SETTINGS), enabled: true }, 'RU')).toBeNull();
    expect(settingsWithPortalCountry({ ...structuredClone(DEFAULT_SETTINGS), defaultCountry: 'DE' }, 'RU')).toBeNull();
  });
});
