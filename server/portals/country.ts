/**
 * The country a portal's numbers are read and dialed in, as far as Bitrix24 tells it — the default of the
 * `defaultCountry` setting, proposed at install and shown on first setup (an admin changes it on the settings page).
 *
 * Sources, most telling first:
 * 1. `app.info` LICENSE (scope basic, any user; read at install together with the rate plan): `ru_project`,
 *    `de_ent10000`, `cn_…` — the part before `_` is the licence's region, i.e. the Bitrix24 cloud the portal was
 *    bought in (dev.1c-bitrix.ru/rest_help/general/app_info.php: `"LICENSE":"ru_project"`). It is the customer's
 *    market, not the admin's interface language: a Kazakh portal set to Russian still has a `kz_` licence.
 * 2. The portal's address when it is a Bitrix24 cloud domain (`*.bitrix24.de`, `*.bitrix24.com.br`): the same
 *    region, for a licence prefix that names no country (`en_…` of bitrix24.com, `eu_…`, `la_…` Latin America).
 * 3. `app.info` LANGUAGE_ID (the portal's language): weakest, many countries share a language, so only the
 *    languages Bitrix24 ships for one market (`de`, `br`, `ua`, `kz`, `sc` …) count; `en`, `la` (Spanish) and `ru`
 *    (used from Kazakhstan to Belarus) are not a country and tell nothing.
 * Nothing told: null, and the stored default (US) stays.
 */
import { isDeepStrictEqual } from 'node:util';
import { isKnownCountry } from '../phone.js';
import { DEFAULT_SETTINGS, type PortalSettings } from '../store/records.js';

/** Licence and domain regions of Bitrix24 clouds that are not an ISO 3166 code of their country. */
const REGION_ALIASES: Record<string, string> = { uk: 'GB', sc: 'CN', tc: 'TW', ja: 'JP' };
/** Regions that name no country: the international (`en`, `com`), European (`eu`) and Latin American (`la`) clouds. */
const NO_COUNTRY = new Set(['en', 'com', 'eu', 'la', 'net', 'org', 'site', 'io', 'co']);
/** Bitrix24 languages shipped for one market (its LANGUAGE_ID values). */
const LANGUAGE_COUNTRY: Record<string, string> = {
  de: 'DE', br: 'BR', ua: 'UA', kz: 'KZ', by: 'BY', sc: 'CN', tc: 'TW', ja: 'JP', pl: 'PL', fr: 'FR', it: 'IT',
  tr: 'TR', vn: 'VN', id: 'ID', ms: 'MY', th: 'TH',
};

function region(code: string): string | null {
  const lower = code.trim().toLowerCase();
  if (!/^[a-z]{2,3}$/.test(lower) || NO_COUNTRY.has(lower)) return null;
  const country = REGION_ALIASES[lower] ?? lower.toUpperCase();
  return isKnownCountry(country) ? country : null;
}

/** The licence region of `app.info` LICENSE (`ru_project` → RU), or null. */
export function countryFromLicense(license: unknown): string | null {
  if (typeof license !== 'string' || !license.includes('_')) return null;
  return region(license.slice(0, license.indexOf('_')));
}

/** The region of a Bitrix24 cloud address (`acme.bitrix24.de` → DE, `acme.bitrix24.com.br` → BR), or null. */
export function countryFromDomain(domain: string): string | null {
  const host = domain.trim().toLowerCase().replace(/:\d+$/, '');
  const match = /\.bitrix24\.(?:com\.|co\.)?([a-z]{2,4})$/.exec(host);
  return match?.[1] ? region(match[1]) : null;
}

export function countryFromLanguage(languageId: unknown): string | null {
  return typeof languageId === 'string' ? LANGUAGE_COUNTRY[languageId.trim().toLowerCase()] ?? null : null;
}

/** The portal's country from its `app.info` answer and address (see the module comment for the order), or null. */
export function portalCountry(appInfo: unknown, domain: string): string | null {
  const info = typeof appInfo === 'object' && appInfo !== null ? appInfo as Record<string, unknown> : {};
  return countryFromLicense(info.LICENSE) ?? countryFromDomain(domain) ?? countryFromLanguage(info.LANGUAGE_ID);
}

/**
 * The settings with the portal's country as `defaultCountry` when nobody has set anything yet (the settings are the
 * defaults, first install); null otherwise — a re-install never overrides what an admin chose.
 */
export function settingsWithPortalCountry(settings: PortalSettings, country: string): PortalSettings | null {
  if (settings.defaultCountry === country) return null;
  if (!isDeepStrictEqual(settings, DEFAULT_SETTINGS)) return null;
  return { ...structuredClone(settings), defaultCountry: country };
}
