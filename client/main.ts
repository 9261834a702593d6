import { createApp } from 'vue';
import { createPinia } from 'pinia';
import b24UiPlugin from '@bitrix24/b24ui-nuxt/vue-plugin';
import App from './App.vue';
import { preloadView } from './views/load.js';
import { createApi, createHttp } from './api.js';
import { setApi } from './apiContext.js';
import { connectFrame, viewFor } from './frame.js';
import { loadAppI18n } from './i18n/index.js';
import { setPortalLinks } from './portalLinks.js';
import { followVisibleBand } from './visibleArea.js';
import './styles/main.css';

async function start(): Promise<void> {
  const frame = await connectFrame();
  setApi(createApi(createHttp(frame)));
  setPortalLinks(frame);
  const view = viewFor(frame.placement, frame.options);
  // The view's chunk and the language's messages load side by side (App.vue imports each view on demand).
  const [i18n] = await Promise.all([loadAppI18n(frame.lang), preloadView(view)]);
  createApp(App, { view, frame })
    .use(createPinia())
    .use(i18n)
    .use(b24UiPlugin)
    .mount('#app');
  followVisibleBand();
}

// Opened outside Bitrix24 (no DOMAIN|PROTOCOL|APP_SID in window.name) the SDK refuses to start: say so plainly.
start().catch(async (error: unknown) => {
  const i18n = await loadAppI18n(window.navigator.language.slice(0, 2));
  const target = document.getElementById('app');
  if (!target) return;
  target.setAttribute('role', 'alert');
  target.className = 'p-4';
  target.textContent = `${i18n.global.t('app.frameFailed')} ${error instanceof Error ? error.message : ''}`;
});
