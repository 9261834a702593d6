import { createApp } from 'vue';
import { createPinia } from 'pinia';
import b24UiPlugin from '@bitrix24/b24ui-nuxt/vue-plugin';
import App from './App.vue';
import { preloadView } from './views/load.js';
import { viewFor } from './frame.js';
import { loadAppI18n } from './i18n/index.js';
import { connectToPortal, showStartFailure } from './startup.js';
import { followVisibleBand } from './visibleArea.js';
import './styles/main.css';

async function start(): Promise<void> {
  const frame = await connectToPortal();
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

start().catch(showStartFailure);
