/**
 * Phone numbers: the one place that reads, normalizes and compares them (libphonenumber-js, full metadata
 * so validity checks are exact). Everything else stores and compares the E.164 form returned here.
 *
 * Why variants exist: Bitrix24 keeps a phone exactly as a person typed it and `crm.duplicate.findbycomm`
 * matches on its own normalization, which does not equate `8 900…` with `+7 900…` (pitfalls.md §9,
 * asterlink `search_format`, Itgrix `process_client_phone`). So a lookup sends every form people store.
 */
import {
  getCountryCallingCode, isSupportedCountry, parsePhoneNumberFromString, type CountryCode, type PhoneNumber,
} from 'libphonenumber-js/max';

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
  const key = memoKey(raw, defaultCountry);
  const known = normalized.get(key);
  if (known !== undefined) return known;
  const parsed = parse(raw, defaultCountry);
  const main = stripExtension(raw);
  const digits = digitsOf(main);
  return remember(normalized, key, parsed ? parsed.number : /^\s*\+/.test(main) && digits ? `+${digits}` : digits);
}

/**
 * Issue 14 (screen-pop CPU): one PBX call event reads the same few numbers many times over (the normalizer, the call
 * machine, the lookup and its cache key, the routing, the card), and each libphonenumber parse with validation costs
 * tens of µs — the largest single cost of a pop in the CPU profile after I/O. The answers are pure functions of
 * (number, country), so they are remembered; bounded (oldest out first) so a flood of distinct numbers cannot grow it.
 */
const MEMO_MAX = 4096;
const normalized = new Map<string, string>();
const variants = new Map<string, readonly string[]>();
const memoKey = (raw: string, country: string): string => `${country}\u0000${raw}`;
function remember<T>(memo: Map<string, T>, key: string, value: T): T {
  if (memo.size >= MEMO_MAX) {
    const oldest = memo.keys().next();
    if (!oldest.done) memo.delete(oldest.value);
  }
  memo.set(key, value);
  return value;
}

/** True when both numbers are the same line as seen from `defaultCountry` (extensions ignored). */
export function samePhone(a: string, b: string, defaultCountry: string): boolean {
  const left = normalizePhone(a, defaultCountry);
  return left !== '' && left === normalizePhone(b, defaultCountry);
}

/**
 * The forms one number is commonly stored in, most specific first, at most {@link MAX_PHONE_VARIANTS}:
 * E.164 `+79001234567`, digits `79001234567`, national with trunk prefix `89001234567` / `0301234567`,
 * the national significant number `9001234567`, the `00` international form, the two formatted
 * forms (`+7 900 123 45 67`, `8 (900) 123-45-67`) because Bitrix24 may keep the typed spacing, the trunk prefix kept
 * after the country code (`+442079460958` written `+44 (0)20 7946 0958`) and the number as dialed from the portal's
 * country (`81049301234567` for a German number in a Russian portal).
 */
export function phoneVariants(raw: string, defaultCountry: string): string[] {
  const key = memoKey(raw, defaultCountry);
  // A copy: callers own the array they get.
  const known = variants.get(key);
  if (known) return [...known];
  return [...remember(variants, key, computeVariants(raw, defaultCountry))];
}

function computeVariants(raw: string, defaultCountry: string): readonly string[] {
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
    // `+44 (0)20 7946 0958`, `+49 (0)30 …`: the trunk prefix kept after the country code, a common way to write it.
    const nationalDigits = digitsOf(national);
    const trunk = nationalDigits.endsWith(parsed.nationalNumber) ? nationalDigits.slice(0, -parsed.nationalNumber.length) : '';
    if (trunk) add(`+${parsed.countryCallingCode}${trunk}${parsed.nationalNumber}`);
    // As dialed from the portal's country (`81049301234567` in RU, `01149…` in the US): typed like that too.
    add(dialNumber(parsed.number, defaultCountry));
  } else {
    add(normalizePhone(raw, defaultCountry));
    add(digitsOf(stripExtension(raw)));
  }
  add(stripExtension(raw));
  return [...out].slice(0, MAX_PHONE_VARIANTS);
}

/**
 * True when a CRM lookup with {@link phoneVariants} can find more than Bitrix24's own match of the number: it could be
 * read (E.164), so its national and formatted forms are known. Bitrix24's register matches the number's digits as sent
 * (the international form); a record typed `8 (912) 345-67-89` or `082 777 0404` is only found through the variants.
 * Short codes and unreadable numbers have no other form: nothing to gain.
 */
export function hasOtherForms(e164: string): boolean {
  return /^\+\d{6,}$/.test(e164);
}

/** When the country's own international prefix cannot be told (BR: `00` + a carrier code), the ITU-recommended one. */
const FALLBACK_IDD = '00';

/**
 * The digits the PBX dials for a number, as a person in `country` dials it from a desk phone — the form the outbound
 * routes of a PBX in that country match (a Yeastar route's pattern, e.g. `8.` / `0.` / `00.`; the trunk then sends it):
 * - a number of the portal's own country (or one sharing its country code: RU/KZ `+7`, US/CA `+1`) in the national
 *   form with its trunk prefix: RU/KZ `89123456789`, DE `0301234567`, GB `02079460958`, ZA `0827770404`,
 *   CN `13800138000` (mobiles have no trunk prefix) / `01065529988`, US `14155552671` (1 + ten digits), BR `11912345678`
 *   (area code + number; a Brazilian trunk's carrier selection `0 xx` is the route's prepend, it is the customer's choice);
 *   another country of a shared code as dialed between them (US → CA `16475551234`, KZ → RU `89123456789`);
 * - a foreign number with the country's international prefix: `00` (DE, GB, ZA, CN, BR…), `810` (RU, KZ), `011` (US),
 *   then the country code and the number: `0049301234567` from RU is `81049301234567`.
 * A number that cannot be read (an extension, a short code) is dialed as its digits.
 */
export function dialNumber(raw: string, country: string): string {
  const parsed = parse(raw, country);
  const from = countryOf(country);
  if (!parsed || !from) return digitsOf(stripExtension(raw));
  // libphonenumber's "IDD" format is the number as dialed from `from`: national with the trunk prefix inside the
  // country code, the international prefix outside it (written with `~`, "wait for the dial tone": RU `8~10`).
  const asDialed = parsed.format('IDD', { fromCountry: from });
  if (asDialed) return digitsOf(asDialed);
  // No single international prefix known (BR picks a carrier with it): domestic numbers national, others `00…`.
  if (parsed.countryCallingCode === getCountryCallingCode(from)) return digitsOf(parsed.formatNational());
  return `${FALLBACK_IDD}${digitsOf(parsed.number)}`;
}
