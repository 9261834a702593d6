import { createI18n } from 'vue-i18n';
import en from './en.json';

export type Locale = 'en' | 'ru' | 'zh';
export type MessageSchema = typeof en;
export type LocaleMessages = Partial<Record<Locale, MessageSchema>>;

// Bitrix24 LANG codes (https://apidocs.bitrix24.com/settings/oauth/simple-way.html gives LANG in the query):
// sc / tc are simplified / traditional Chinese; by and kz portals commonly run in Russian.
const LOCALE_BY_LANG: Record<string, Locale> = { en: 'en', ru: 'ru', by: 'ru', kz: 'ru', sc: 'zh', tc: 'zh', zh: 'zh', cn: 'zh' };

// English is the fallback and stays in the entry; the other languages are separate chunks fetched only by the
// portals that speak them (issue 12 point 9: each placement's first open downloads one language, not all).
const LOADERS: Record<Exclude<Locale, 'en'>, () => Promise<{ default: MessageSchema }>> = {
  ru: () => import('./ru.json'),
  zh: () => import('./zh.json'),
};

export function localeFor(lang: string): Locale {
  return LOCALE_BY_LANG[lang.toLowerCase()] ?? 'en';
}

/** The messages of the portal's language (and the English fallback), fetched on demand. */
export async function loadLocaleMessages(lang: string): Promise<LocaleMessages> {
  const locale = localeFor(lang);
  if (locale === 'en') return { en };
  return { en, [locale]: (await LOADERS[locale]()).default };
}

/** An i18n instance for `lang` with the messages given; a language whose messages are missing shows English. */
export function createAppI18n(lang: string, messages: LocaleMessages = { en }) {
  return createI18n<[MessageSchema], Locale>({
    legacy: false,
    locale: localeFor(lang),
    fallbackLocale: 'en',
    // A language not loaded reads as English (the same as the fallback would give, key by key).
    messages: { en, ru: messages.ru ?? en, zh: messages.zh ?? en },
  });
}

/** main.ts and install.ts: the i18n instance of the portal's language, its messages fetched first. */
export async function loadAppI18n(lang: string) {
  return createAppI18n(lang, await loadLocaleMessages(lang).catch(() => ({ en })));
}
