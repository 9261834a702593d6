/**
 * Phone numbers: the one place that reads, normalizes and compares them (libphonenumber-js, full metadata
 * so validity checks are exact). Everything else stores and compares the E.164 form returned here.
 *
 * Why variants exist: Bitrix24 keeps a phone exactly as a person typed it and `crm.duplicate.findbycomm`
 * matches on its own normalization, which does not equate `8 900…` with `+7 900…` (pitfalls.md §9,
 * asterlink `search_format`, Itgrix `process_client_phone`). So a lookup sends every form people store.
 */
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';

/** findbycomm accepts at most 20 values (b24restdocs: crm/duplicates/crm-duplicate-find-by-comm.md). */
export const MAX_PHONE_VARIANTS = 20;

/**
 * The number without an extension suffix: `+1 415 555 2671 x12`, `… ext. 12`, `…#12`, `…;ext=12` (RFC 3966),
 * `…,12` (dial pause) all give `+1 415 555 2671`.
 */
export function stripExtension(raw: string): string {
  const cut = raw.search(/(#|;\s*ext=|,|\s*(?:ext(?:ension)?\.?|x)\s*\d)/i);
  return (cut >= 0 ? raw.slice(0, cut) : raw).trim();
}

function digitsOf(value: string): string {
  return value.replace(/\D/g, '');
}

/** True for an ISO 3166 alpha-2 code libphonenumber has numbering data for (a portal's default country). */
export function isKnownCountry(code: string): boolean {
  return isSupportedCountry(code.trim().toUpperCase());
}

function countryOf(defaultCountry: string): CountryCode | undefined {
  const upper = defaultCountry.trim().toUpperCase();
  return isSupportedCountry(upper) ? upper : undefined;
}

/**
 * Parses the number as a person would dial it from `defaultCountry`. A number written with the `00`
 * international prefix is also read as `+…` when the country's own prefix differs (`0049…` dialled from the US),
 * and a `+`-less number that only makes sense with a country code (`79001234567` stored in a US portal) is read as
 * international as a last resort.
 */
function parse(raw: string, defaultCountry: string): PhoneNumber | undefined {
  const main = stripExtension(raw);
  const digits = digitsOf(main);
  if (digits.length < 5) return undefined;
  const country = countryOf(defaultCountry);
  const hasPlus = /^\s*\+/.test(main);
  const attempts: string[] = [hasPlus ? `+${digits}` : main];
  if (!hasPlus && digits.startsWith('00')) attempts.push(`+${digits.slice(2)}`);
  if (!hasPlus && digits.length >= 11) attempts.push(`+${digits}`);
  let possible: PhoneNumber | undefined;
  for (const attempt of attempts) {
    const parsed = parsePhoneNumberFromString(attempt, country);
    if (!parsed) continue;
    if (parsed.isValid()) return parsed;
    if (!possible && parsed.isPossible()) possible = parsed;
  }
  return possible;
}

/**
 * E.164 (`+79001234567`) when the number can be read; otherwise the digits, with a leading `+` kept if it had one
 * (short codes, extensions and garbage stay comparable without inventing a country).
 */
export function normalizePhone(raw: string, defaultCountry: string): string {
  const parsed = parse(raw, defaultCountry);
  if (parsed) return parsed.number;
  const main = stripExtension(raw);
  const digits = digitsOf(main);
  return /^\s*\+/.test(main) && digits ? `+${digits}` : digits;
}

/** True when both numbers are the same line as seen from `defaultCountry` (extensions ignored). */
export function samePhone(a: string, b: string, defaultCountry: string): boolean {
  const left = normalizePhone(a, defaultCountry);
  return left !== '' && left === normalizePhone(b, defaultCountry);
}

/**
 * The forms one number is commonly stored in, most specific first, at most {@link MAX_PHONE_VARIANTS}:
 * E.164 `+79001234567`, digits `79001234567`, national with trunk prefix `89001234567` / `0301234567`,
 * the national significant number `9001234567`, the `00` international form, and the two formatted
 * forms (`+7 900 123 45 67`, `8 (900) 123-45-67`) because Bitrix24 may keep the typed spacing.
 */
export function phoneVariants(raw: string, defaultCountry: string): string[] {
  const out = new Set<string>();
  const add = (value: string): void => {
    const trimmed = value.trim();
    if (trimmed) out.add(trimmed);
  };
  const parsed = parse(raw, defaultCountry);
  if (parsed) {
    const international = digitsOf(parsed.number);
    const national = parsed.formatNational();
    add(parsed.number);
    add(international);
    add(digitsOf(national));
    add(parsed.nationalNumber);
    add(`00${international}`);
    add(parsed.formatInternational());
    add(national);
  } else {
    add(normalizePhone(raw, defaultCountry));
    add(digitsOf(stripExtension(raw)));
  }
  add(stripExtension(raw));
  return [...out].slice(0, MAX_PHONE_VARIANTS);
}
