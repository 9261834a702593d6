import { describe, expect, it } from 'vitest';
import { isKnownCountry, MAX_PHONE_VARIANTS, normalizePhone, phoneVariants, samePhone, stripExtension } from '../../../server/phone.js';

/** [as written, portal default country, expected E.164] — formats seen in real CRMs and PBX captures. */
const REAL_WORLD: Array<[string, string, string]> = [
  ['+7 900 123-45-67', 'RU', '+79001234567'],
  ['8 (900) 123-45-67', 'RU', '+79001234567'],
  ['89001234567', 'RU', '+79001234567'],
  ['+7(900)1234567', 'US', '+79001234567'],
  ['8-900-123-45-67', 'RU', '+79001234567'],
  ['8 495 123 45 67', 'RU', '+74951234567'],
  ['+86 188 1234 5678', 'CN', '+8618812345678'],
  ['18812345678', 'CN', '+8618812345678'],
  ['+86 10 1234 5678', 'US', '+861012345678'],
  ['010 1234 5678', 'CN', '+861012345678'],
  ['+49 30 1234567', 'DE', '+49301234567'],
  ['030 1234567', 'DE', '+49301234567'],
  ['0049301234567', 'DE', '+49301234567'],
  ['0049301234567', 'US', '+49301234567'],
  ['030/1234567', 'DE', '+49301234567'],
  ['+1 (415) 555-2671 x12', 'US', '+14155552671'],
  ['415.555.2671', 'US', '+14155552671'],
  ['(415) 555-2671', 'US', '+14155552671'],
  ['1-415-555-2671', 'US', '+14155552671'],
  ['011 49 30 1234567', 'US', '+49301234567'],
  ['+44 20 7946 0958', 'GB', '+442079460958'],
  ['020 7946 0958', 'GB', '+442079460958'],
  ['+44 (0)20 7946 0958', 'GB', '+442079460958'],
  ['07700 900123', 'GB', '+447700900123'],
  ['+966 92 003 2101', 'SA', '+966920032101'],
  ['0538123446', 'SA', '+966538123446'],
  ['00966538123446', 'SA', '+966538123446'],
  ['+27 81 353 9441', 'ZA', '+27813539441'],
  ['0813539441', 'ZA', '+27813539441'],
  ['27813539441', 'ZA', '+27813539441'],
  ['+33 1 42 68 53 00', 'FR', '+33142685300'],
  ['01 42 68 53 00', 'FR', '+33142685300'],
  ['+61 2 9374 4000', 'AU', '+61293744000'],
  ['(02) 9374 4000', 'AU', '+61293744000'],
  ['+91 98765 43210', 'IN', '+919876543210'],
  ['098765 43210', 'IN', '+919876543210'],
  ['+55 11 91234-5678', 'BR', '+5511912345678'],
  ['+380 44 123 4567', 'UA', '+380441234567'],
  ['044 123 4567', 'UA', '+380441234567'],
  ['+971 50 123 4567', 'AE', '+971501234567'],
  ['050 123 4567', 'AE', '+971501234567'],
  ['tel:+1-415-555-2671', 'US', '+14155552671'],
  ['+1 415 555 2671 ext. 7', 'US', '+14155552671'],
  ['+1 415 555 2671#7', 'US', '+14155552671'],
];

describe('normalizePhone', () => {
  it.each(REAL_WORLD)('%s (%s) → %s', (raw, country, e164) => {
    expect(normalizePhone(raw, country)).toBe(e164);
  });

  it('keeps short numbers (extensions, service codes) as digits instead of inventing a country', () => {
    expect(normalizePhone('101', 'US')).toBe('101');
    expect(normalizePhone(' 2001 ', 'RU')).toBe('2001');
  });

  it('keeps the leading + of a number it cannot read', () => {
    expect(normalizePhone('+999 1', 'US')).toBe('+9991');
  });

  it('returns an empty string for text without digits', () => {
    expect(normalizePhone('anonymous', 'US')).toBe('');
  });

  it('tolerates an unknown or lower-case default country', () => {
    expect(normalizePhone('+49 30 1234567', 'XX')).toBe('+49301234567');
    expect(normalizePhone('030 1234567', 'de')).toBe('+49301234567');
  });
});

describe('stripExtension', () => {
  it.each([
    ['+1 (415) 555-2671 x12', '+1 (415) 555-2671'],
    ['+1 415 555 2671 ext. 12', '+1 415 555 2671'],
    ['+1 415 555 2671 extension 12', '+1 415 555 2671'],
    ['415-555-2671#12', '415-555-2671'],
    ['tel:+1-415-555-2671;ext=12', 'tel:+1-415-555-2671'],
    ['4155552671,12', '4155552671'],
    ['+7 900 123-45-67', '+7 900 123-45-67'],
  ])('%s → %s', (raw, main) => {
    expect(stripExtension(raw)).toBe(main);
  });
});

describe('samePhone', () => {
  it('equates the forms of one number', () => {
    expect(samePhone('+7 900 123-45-67', '8 (900) 123-45-67', 'RU')).toBe(true);
    expect(samePhone('+27 81 353 9441', '0813539441', 'ZA')).toBe(true);
    expect(samePhone('+1 415 555 2671 x12', '415.555.2671', 'US')).toBe(true);
  });

  it('tells different numbers apart', () => {
    expect(samePhone('+79001234567', '+79001234568', 'RU')).toBe(false);
    expect(samePhone('030 1234567', '030 1234567', 'GB')).toBe(true);
    expect(samePhone('030 1234567', '+49 30 1234567', 'GB')).toBe(false);
  });

  it('never equates two numbers without digits', () => {
    expect(samePhone('anonymous', 'unknown', 'US')).toBe(false);
  });
});

describe('phoneVariants', () => {
  it('lists the stored forms of a Russian mobile, E.164 first', () => {
    const variants = phoneVariants('8 (900) 123-45-67', 'RU');
    expect(variants[0]).toBe('+79001234567');
    expect(variants).toEqual(expect.arrayContaining(['+79001234567', '79001234567', '89001234567', '9001234567', '8 (900) 123-45-67']));
  });

  it('lists the trunk-prefixed national form of a German landline', () => {
    expect(phoneVariants('+49 30 1234567', 'DE')).toEqual(expect.arrayContaining(['+49301234567', '49301234567', '0301234567', '301234567', '0049301234567']));
  });

  it('lists the Yeastar capture forms of a South African mobile', () => {
    expect(phoneVariants('0813539441', 'ZA')).toEqual(expect.arrayContaining(['+27813539441', '0813539441', '813539441', '27813539441']));
  });

  it('has no duplicates, no empty values and at most the findbycomm limit', () => {
    for (const [raw, country] of REAL_WORLD) {
      const variants = phoneVariants(raw, country);
      expect(new Set(variants).size).toBe(variants.length);
      expect(variants.every((v) => v.length > 0)).toBe(true);
      expect(variants.length).toBeLessThanOrEqual(MAX_PHONE_VARIANTS);
    }
  });

  it('falls back to the digits for an unreadable number', () => {
    expect(phoneVariants('101', 'US')).toEqual(['101']);
    expect(phoneVariants('+999 1', 'US')).toEqual(['+9991', '9991', '+999 1']);
  });
});

describe('isKnownCountry', () => {
  it('knows ISO alpha-2 codes in any case and nothing else', () => {
    expect(isKnownCountry('de')).toBe(true);
    expect(isKnownCountry('ZA')).toBe(true);
    expect(isKnownCountry('XX')).toBe(false);
    expect(isKnownCountry('DEU')).toBe(false);
  });
});
