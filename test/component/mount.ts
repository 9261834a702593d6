import { mount, flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import b24UiPlugin from '@bitrix24/b24ui-nuxt/vue-plugin';
import { setApi } from '../../client/apiContext.js';
import type { Api } from '../../client/api.js';
import { createAppI18n } from '../../client/i18n/index.js';
import en from '../../client/i18n/en.json';
import ru from '../../client/i18n/ru.json';
import zh from '../../client/i18n/zh.json';
import { preloadView } from '../../client/views/load.js';

// The app loads its views and languages on demand (main.ts waits for them before mounting); tests mount
// synchronously, so every view and language is loaded up front, as main.ts would have done.
await Promise.all((['settings', 'timeline', 'call-card'] as const).map((kind) => preloadView(kind)));

/** Mounts a client component the way main.ts does (Pinia, i18n, UI kit) against the given /api. */
export function mountWithApp(component: Component, api: Api, options: { props?: Record<string, unknown>; lang?: string } = {}) {
  const pinia = createPinia();
  setActivePinia(pinia);
  setApi(api);
  return mount(component, {
    props: options.props ?? {},
    attachTo: document.body,
    global: { plugins: [pinia, createAppI18n(options.lang ?? 'en', { en, ru, zh }), b24UiPlugin] },
  });
}

export { flushPromises };
