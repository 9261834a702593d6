import { mount, flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import b24UiPlugin from '@bitrix24/b24ui-nuxt/vue-plugin';
import { setApi } from '../../client/apiContext.js';
import type { Api } from '../../client/api.js';
import { createAppI18n } from '../../client/i18n/index.js';

/** Mounts a client component the way main.ts does (Pinia, i18n, UI kit) against the given /api. */
export function mountWithApp(component: Component, api: Api, options: { props?: Record<string, unknown>; lang?: string } = {}) {
  const pinia = createPinia();
  setActivePinia(pinia);
  setApi(api);
  return mount(component, {
    props: options.props ?? {},
    attachTo: document.body,
    global: { plugins: [pinia, createAppI18n(options.lang ?? 'en'), b24UiPlugin] },
  });
}

export { flushPromises };
