import { describe, expect, it } from 'vitest';
import { normalizePhone, phoneVariants } from '../../../server/phone.js';

/** Issue 14: normalizePhone and phoneVariants remember their answers (screen-pop CPU); remembering must not change them. */
describe('phone answers remembered', () => {
  it('answers the same the second time, per country', () => {
    expect(normalizePhone('8 (912) 345-67-89', 'RU')).toBe('+79123456789');
    expect(normalizePhone('8 (912) 345-67-89', 'RU')).toBe('+79123456789');
    // The same text in another country is another number: the country is part of what is remembered.
    expect(normalizePhone('0301234567', 'DE')).toBe('+49301234567');
    expect(normalizePhone('0301234567', 'US')).not.toBe('+49301234567');
  });

  it('hands out a fresh array each time: a caller changing its copy does not change the next answer', () => {
    const first = phoneVariants('+7 912 345 67 89', 'RU');
    const expected = [...first];
    first.push('garbage');
    first[0] = 'changed';
    expect(phoneVariants('+7 912 345 67 89', 'RU')).toEqual(expected);
  });

  it('stays bounded and correct past its size: the oldest answers are recomputed, not wrong', () => {
    for (let i = 0; i < 5000; i += 1) normalizePhone(`+1415555${String(i).padStart(4, '0')}`, 'US');
    expect(normalizePhone('+14155550000', 'US')).toBe('+14155550000');
    expect(normalizePhone('8 (912) 345-67-89', 'RU')).toBe('+79123456789');
  });
});
