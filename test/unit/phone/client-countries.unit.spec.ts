/** The settings page offers exactly the countries the server accepts (no choice the PUT would refuse, none missing). */
import { getCountries } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES, countryName } from '../../../client/countries.js';

describe('client country list', () => {
  it('equals the phone library\'s countries', () => {
    expect([...COUNTRY_CODES].sort()).toEqual([...getCountries()].sort());
  });

  it('names a country in the page\'s language', () => {
    expect(countryName('DE', 'en')).toBe('Germany');
    expect(countryName('RU', 'ru')).toBe('Россия');
  });
});
