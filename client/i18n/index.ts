import { createI18n } from 'vue-i18n';
import en from './en.json';
import ru from './ru.json';
import zh from './zh.json';

export type Locale = 'en' | 'ru' | 'zh';
export type MessageSchema = typeof en;

// Bitrix24 LANG codes (https://apidocs.bitrix24.com/settings/oauth/simple-way.html gives LANG in the query):
// sc / tc are simplified / traditional Chinese; by and kz portals commonly run in Russian.
const LOCALE_BY_LANG: Record<string, Locale> = { en: 'en', ru: 'ru', by: 'ru', kz: 'ru', sc: 'zh', tc: 'zh', zh: 'zh', cn: 'zh' };

export function localeFor(lang: string): Locale {
  return LOCALE_BY_LANG[lang.toLowerCase()] ?? 'en';
}

export function createAppI18n(lang: string) {
  return createI18n<[MessageSchema], Locale>({
    legacy: false,
    locale: localeFor(lang),
    fallbackLocale: 'en',
    messages: { en, ru, zh },
  });
}
