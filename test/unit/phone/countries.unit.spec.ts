/**
 * Issue 11, per country (CN, RU, KZ, DE, BR, ZA, US, GB): the caller ID as the trunk delivers it and the CRM phone as
 * typed read as one number; the lookup's variants contain the typed form's digits (Bitrix24's duplicate index compares
 * digits — the emulator does the same, test/emulators/bitrix24/phone.ts); click-to-call dials what a person in that
 * country dials. What a customer cares about: a call lands on the record however the number was written.
 */
import { describe, expect, it } from 'vitest';
import { dialNumber, hasOtherForms, MAX_PHONE_VARIANTS, normalizePhone, phoneVariants } from '../../../server/phone.js';
import { COUNTRY_CASES } from '../../integration/countries/cases.js';

const digits = (v: string): string => v.replace(/\D/g, '');

describe.each(COUNTRY_CASES)('numbers in $country', ({ country, numbers, dials }) => {
  it.each(numbers)('caller $callerId and CRM phone "$typed" are $e164', ({ typed, callerId, e164 }) => {
    expect(normalizePhone(typed, country)).toBe(e164);
    expect(normalizePhone(callerId, country)).toBe(e164);
  });

  it.each(numbers)('the lookup of $e164 asks for the digits of "$typed"', ({ typed, callerId }) => {
    const variants = phoneVariants(normalizePhone(callerId, country), country);
    expect(variants.length).toBeLessThanOrEqual(MAX_PHONE_VARIANTS);
    expect(variants.map(digits)).toContain(digits(typed));
  });

  it(`click-to-call to "${numbers[0]?.typed ?? ''}" dials ${dials}`, () => {
    const first = numbers[0];
    expect(first).toBeDefined();
    if (!first) return;
    expect(dialNumber(normalizePhone(first.typed, country), country)).toBe(dials);
    expect(dialNumber(first.typed, country)).toBe(dials);
  });
});

describe('dialNumber', () => {
  it('dials a foreign number with the country\'s own international prefix', () => {
    expect(dialNumber('+49301234567', 'RU')).toBe('81049301234567');
    expect(dialNumber('+49301234567', 'KZ')).toBe('81049301234567');
    expect(dialNumber('+49301234567', 'US')).toBe('01149301234567');
    expect(dialNumber('+79123456789', 'DE')).toBe('0079123456789');
    expect(dialNumber('+79123456789', 'CN')).toBe('0079123456789');
    expect(dialNumber('+442079460958', 'ZA')).toBe('00442079460958');
    // Brazil picks a carrier with its international prefix: the plain ITU `00`, the route adds the carrier.
    expect(dialNumber('+49301234567', 'BR')).toBe('0049301234567');
  });

  it('dials a number of a country sharing the code as dialed between them', () => {
    expect(dialNumber('+79123456789', 'KZ')).toBe('89123456789');
    expect(dialNumber('+77012345678', 'RU')).toBe('87012345678');
    expect(dialNumber('+16475551234', 'US')).toBe('16475551234');
  });

  it('dials extensions, short codes and unreadable numbers as their digits', () => {
    expect(dialNumber('1001', 'DE')).toBe('1001');
    expect(dialNumber('112', 'RU')).toBe('112');
    expect(dialNumber('+7 912 345-67-89 ext. 12', 'RU')).toBe('89123456789');
  });
});

describe('hasOtherForms', () => {
  it('is true for a readable number and false for what only has its digits', () => {
    expect(hasOtherForms('+79123456789')).toBe(true);
    expect(hasOtherForms('1001')).toBe(false);
    expect(hasOtherForms('')).toBe(false);
    expect(hasOtherForms('+112')).toBe(false);
  });
});
